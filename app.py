"""sarco — CT body composition at L3. Start with ``streamlit run app.py``.

Routes the pages with ``st.navigation``; pages are thin, the UI lives in ``ui/`` and all logic in
``sarco_core``.
"""

import streamlit as st

from ui import backend, cases, state

st.set_page_config(page_title="sarco — CT body composition at L3", page_icon="🩻", layout="wide")
state.init()
backend.announce_db()

pages = st.navigation(
    {
        "Single case": [
            st.Page("pages/upload.py", title="Upload & analyse", icon=":material/upload_file:", default=True),
            st.Page("pages/browse.py", title="Browse", icon=":material/layers:"),
            st.Page("pages/edit.py", title="Edit mask", icon=":material/brush:"),
        ],
        "Cohort": [
            st.Page("pages/dashboard.py", title="Dashboard", icon=":material/monitoring:"),
            st.Page("pages/import_masks.py", title="Import expert mask", icon=":material/rule:"),
            st.Page("pages/models.py", title="Models", icon=":material/model_training:"),
        ],
    }
)
cases.sidebar()
pages.run()
