"""Browse the slices of the open case; check and override the L3 level."""

from ui import browse

browse.page()
