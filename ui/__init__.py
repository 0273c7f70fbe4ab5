"""Streamlit UI of the sarco app: state, caching, widgets and rendering. Pages call into this package;
this package calls into ``sarco_core`` (which never imports Streamlit)."""
