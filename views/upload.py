"""Upload & analyse (clinician): one scan in, L3 muscle numbers and a cited classification out."""

from ui import upload

upload.page()
