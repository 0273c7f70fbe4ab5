"""Seeded synthetic abdominal CT with exact labels (tests, training data, benchmarks). See docs/phantom.md.

* :func:`phantom_slice` -> :class:`PhantomSlice`: one axial slice at a vertebral level (default L3);
* :func:`phantom_volume` -> :class:`PhantomVolume`: a stack with vertebra labels and exact level ranges;
* :func:`write_nifti`, :func:`write_dicom`, :func:`write_zip`: files for loader / pipeline tests;
* ``contacts="hard"`` (both generators): viscera, crura and vessels touching muscle with no fat plane, and
  partial volume (:mod:`sarco_core.phantom.contacts`, :mod:`sarco_core.phantom.pv`); the default is unchanged.

Labels: 0 background, 1 skeletal-muscle compartment (incl. IMAT streaks), 2 SAT, 3 VAT (sarco_core.metrics).
The finer ``tissue`` map uses :data:`TISSUES`; vertebrae use TotalSegmentator ids (:data:`VERTEBRA_IDS`).
``PHANTOM_VERSION`` changes whenever the same seed renders differently: put it in cache keys.
"""

from sarco_core.phantom.contacts import CONTACT_MODES
from sarco_core.phantom.params import BODY_TYPES, PhantomParams, sample_params
from sarco_core.phantom.slice import SLICE_LEVELS, PhantomSlice, phantom_slice
from sarco_core.phantom.tissues import LABEL_OF, TISSUES, VERTEBRA_IDS, VERTEBRA_NAMES, labels_from_tissue
from sarco_core.phantom.volume import PhantomVolume, phantom_volume
from sarco_core.phantom.writers import write_dicom, write_nifti, write_zip

PHANTOM_VERSION = "2026.11.24-3"

__all__ = [
    "BODY_TYPES",
    "CONTACT_MODES",
    "LABEL_OF",
    "PHANTOM_VERSION",
    "SLICE_LEVELS",
    "TISSUES",
    "VERTEBRA_IDS",
    "VERTEBRA_NAMES",
    "PhantomParams",
    "PhantomSlice",
    "PhantomVolume",
    "labels_from_tissue",
    "phantom_slice",
    "phantom_volume",
    "sample_params",
    "write_dicom",
    "write_nifti",
    "write_zip",
]
