"""sarco_core: CT body composition core (no Streamlit)."""

__version__ = "0.1.0"
