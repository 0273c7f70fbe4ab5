"""Import of expert reference masks (Slice-O-Matic TAG, NIfTI, DICOM-SEG, PNG) onto their CT slice, and TAG export.

Public API (every record is frozen; pixels are read-only arrays in our labels 0 background, 1 muscle
compartment, 2 SAT, 3 VAT, on the canonical grid of the traced CT slice):

* :func:`import_mask` (a loaded CT + a mask) and :func:`import_case` (paths; keeps only the traced slice);
* :func:`read_manifest` / :func:`scan_folder` -> :func:`import_rows` -> :class:`ImportReport` (one
  :class:`ImportOutcome` per row, ok or error with its reason);
* :func:`write_import_set` / :func:`read_import_set`: the folder ``sarco validate`` reads;
* :func:`read_tag` / :func:`mask_to_tag`: the Slice-O-Matic format; :class:`ValueMap`: file values -> labels.
"""

from sarco_core.masks.cases import import_case, patient_info
from sarco_core.masks.importset import read_import_set, write_import_set
from sarco_core.masks.manifest import ManifestRow, import_manifest, import_rows, read_manifest, scan_folder
from sarco_core.masks.readers import detect_format, import_mask
from sarco_core.masks.records import (
    ImportedCase,
    ImportedMask,
    ImportOutcome,
    ImportReport,
    MaskFormat,
    PatientInfo,
    RowStatus,
    ValueMap,
)
from sarco_core.masks.tag import TagFile, TagHeader, read_tag, tag_bytes
from sarco_core.masks.tag_export import mask_to_tag

__all__ = [
    "ImportOutcome",
    "ImportReport",
    "ImportedCase",
    "ImportedMask",
    "ManifestRow",
    "MaskFormat",
    "PatientInfo",
    "RowStatus",
    "TagFile",
    "TagHeader",
    "ValueMap",
    "detect_format",
    "import_case",
    "import_manifest",
    "import_mask",
    "import_rows",
    "mask_to_tag",
    "patient_info",
    "read_import_set",
    "read_manifest",
    "read_tag",
    "scan_folder",
    "tag_bytes",
    "write_import_set",
]
