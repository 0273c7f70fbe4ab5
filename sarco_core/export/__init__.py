"""Per-case exports (NIfTI and DICOM-SEG masks, overlay PNG, one-page PDF), cohort tables, manual-mask import."""

from sarco_core.export.dicom_seg import ExportError, mask_to_dicom_seg
from sarco_core.export.images import overlay_png
from sarco_core.export.manual import read_manual_mask
from sarco_core.export.nifti import mask_to_nifti
from sarco_core.export.report import RESEARCH_ONLY, report_pdf
from sarco_core.export.tables import cohort_csv, cohort_xlsx

__all__ = [
    "RESEARCH_ONLY",
    "ExportError",
    "cohort_csv",
    "cohort_xlsx",
    "mask_to_dicom_seg",
    "mask_to_nifti",
    "overlay_png",
    "read_manual_mask",
    "report_pdf",
]
