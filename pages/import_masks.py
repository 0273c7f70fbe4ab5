"""Import an expert mask (researcher): one TAG / NIfTI / DICOM-SEG / PNG mask on its CT, overlaid and measured."""

from ui import import_masks

import_masks.page()
