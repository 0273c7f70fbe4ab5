"""Cohort dashboard (researcher): plots, agreement, review queue, exports, manual-mask import."""

from ui import dashboard

dashboard.page()
