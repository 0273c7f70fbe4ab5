"""DICOM-SEG export on real shared series: the SEG frame has the source image's own position, orientation and
pixel order (also for the pancreas slice stored with flipped rows) and references its SOP Instance UID."""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest

from sarco_core.export import mask_to_dicom_seg, read_manual_mask
from sarco_core.io import load
from tests.conftest import data_path


@pytest.mark.parametrize("parts", [("pydicom", "pancreas_ct_0001_slice122_j2k.dcm"), ("lidc_idri_0001",)])
def test_seg_frame_matches_the_original_image(tmp_path: Path, parts: tuple[str, ...]) -> None:
    src = data_path(*parts)
    vol = load(src)
    k = vol.n_slices // 2
    lab = np.zeros(vol.shape[1:], np.uint8)
    lab[: vol.shape[1] // 3, : vol.shape[2] // 4] = 1  # top-left of the display: anterior, patient right
    out = tmp_path / "seg.dcm"
    mask_to_dicom_seg(vol, lab, k, out)
    seg = hd.seg.segread(out)
    files = sorted(src.glob("*.dcm")) if src.is_dir() else [src]
    orig = next(d for d in (pydicom.dcmread(f) for f in files) if d.SOPInstanceUID == vol.meta.sop_uids[k])
    assert seg.get_source_image_uids()[0][1:] == (orig.SeriesInstanceUID, orig.SOPInstanceUID)
    frame = seg.PerFrameFunctionalGroupsSequence[0]
    shared = seg.SharedFunctionalGroupsSequence[0]
    np.testing.assert_allclose(
        [float(v) for v in frame.PlanePositionSequence[0].ImagePositionPatient],
        [float(v) for v in orig.ImagePositionPatient],
        atol=1e-3,
    )
    np.testing.assert_allclose(
        [float(v) for v in shared.PlaneOrientationSequence[0].ImageOrientationPatient],
        [float(v) for v in orig.ImageOrientationPatient],
        atol=1e-5,
    )
    # in the file's own pixel order the mask sits where the original pixels of the displayed corner are
    hu_file = orig.pixel_array.astype(float) * float(orig.RescaleSlope) + float(orig.RescaleIntercept)
    hu_file = np.maximum(hu_file, -1024)  # the loader sets padding and anything below -1024 HU to air
    seg_px = pydicom.dcmread(out).pixel_array.astype(bool)
    assert seg_px.shape == hu_file.shape
    np.testing.assert_allclose(hu_file[seg_px].mean(), vol.hu[k][lab == 1].mean(), atol=1e-6)
    np.testing.assert_array_equal(read_manual_mask(out, vol)[k], lab)
