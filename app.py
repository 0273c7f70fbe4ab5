"""sarco — CT body composition at L3. Start with ``streamlit run app.py``.

Routes the pages with ``st.navigation`` (only the pages the signed-in user's role may use); pages are thin,
the UI lives in ``ui/`` and all logic in ``sarco_core``. The segmentation model starts loading in the
background as soon as the server runs its first page.
"""

import streamlit as st

from sarco_core.auth import Permission
from ui import auth, backend, cases, state

st.set_page_config(page_title="sarco — CT body composition at L3", page_icon="🩻", layout="wide")
backend.preload_segmenter()
state.init()
backend.announce_db()
auth.gate()

PAGES = [  # (group, file, title, icon, permission)
    ("Single case", "views/upload.py", "Upload & analyse", ":material/upload_file:", Permission.UPLOAD),
    ("Single case", "views/case.py", "Case", ":material/assignment:", Permission.VIEW),
    ("Single case", "views/browse.py", "Browse", ":material/layers:", Permission.VIEW),
    ("Single case", "views/edit.py", "Edit mask", ":material/brush:", Permission.EDIT),
    ("Cohort", "views/dashboard.py", "Dashboard", ":material/monitoring:", Permission.DASHBOARD),
    ("Cohort", "views/import_masks.py", "Import expert mask", ":material/rule:", Permission.IMPORT),
    ("Admin", "views/models.py", "Models", ":material/model_training:", Permission.MODELS),
    ("Admin", "views/users.py", "Users", ":material/group:", Permission.USERS),
]
groups: dict[str, list[st.Page]] = {}
first = True
for group, path, title, icon, perm in PAGES:
    if auth.can(perm):
        groups.setdefault(group, []).append(st.Page(path, title=title, icon=icon, default=first))
        first = False
pages = st.navigation(groups)
cases.sidebar()
pages.run()
