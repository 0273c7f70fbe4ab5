"""One case (shareable as ``?case=N``): image, numbers, L3 choice, QC flags, history, analyses, every export."""

from ui import case_page

case_page.page()
