"""Edit the mask of the open case with a brush; save versions; restore old ones."""

from ui import edit

edit.page()
