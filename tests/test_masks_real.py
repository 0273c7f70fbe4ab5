"""Mask import on the reviewed real CT slices: TAG and PNG round trips on every slice, and the TAG pixel order
is the DICOM file's stored order (checked on the pancreas slice, whose rows run posterior -> anterior)."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest

from sarco_core.io import load
from sarco_core.masks import MaskFormat, ValueMap, import_mask, mask_to_tag, read_tag
from tests.conftest import data_path
from validation.reviewed import load_reviewed, mask_path, names


@pytest.mark.parametrize("name", names())
def test_reviewed_masks_round_trip_through_tag_and_png(name: str) -> None:
    ct_path, k, mask = load_reviewed(name, data_path())
    ct = load(ct_path)
    labels = mask.astype(np.uint8)
    png = import_mask(ct, mask_path(name).read_bytes(), name=f"{name}.png", slice_index=k)
    np.testing.assert_array_equal(png.labels, labels)
    tag = mask_to_tag(ct, labels, k)
    back = import_mask(ct, tag, fmt=MaskFormat.TAG, slice_index=k)
    assert back.slice_index == k and back.warnings == ()
    np.testing.assert_array_equal(back.labels, labels)


def test_tag_pixels_follow_the_dicom_stored_order() -> None:
    path = data_path("pydicom", "pancreas_ct_0001_slice122_j2k.dcm")
    ds = pydicom.dcmread(str(path))
    assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, -1, 0]
    ct = load(path)
    raw_hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    labels = ((ct.hu[0] >= -29) & (ct.hu[0] <= 150)).astype(np.uint8)  # any map that differs when flipped
    stored = ((raw_hu >= -29) & (raw_hu <= 150)).astype(np.uint8)
    assert not np.array_equal(labels, stored)  # canonical (anterior up) is not the stored order here
    tags = read_tag(mask_to_tag(ct, labels, 0, imat_from_hu=False)).tags[0]
    np.testing.assert_array_equal(ValueMap.alberta_tags().to_labels(tags), stored)
    # a TAG drawn in the stored order (as sliceOmatic writes it) lands on the right canonical pixels
    hand = io.BytesIO()
    hand.write(f"x:{ds.Columns} y:{ds.Rows} z:1 type:BYTE\r\n".encode() + b"\x0c" + stored.tobytes())
    np.testing.assert_array_equal(import_mask(ct, hand.getvalue(), fmt=MaskFormat.TAG).labels, labels)


def test_kept_slice_and_stored_case_export_the_same_tag(tmp_path: object) -> None:
    from pathlib import Path

    from sarco_core.cli import main
    from sarco_core.masks import import_case
    from sarco_core.store import Store, default_db_url

    path = data_path("pydicom", "pancreas_ct_0001_slice122_j2k.dcm")
    ct = load(path)
    labels = ((ct.hu[0] >= -29) & (ct.hu[0] <= 150)).astype(np.uint8)
    want = mask_to_tag(ct, labels, 0)
    out = Path(str(tmp_path))
    (out / "p.dcm.tag").write_bytes(want)
    case = import_case(out / "p.dcm.tag", path, case_id="pancreas")
    assert case.volume.source_flips == ct.source_flips
    assert mask_to_tag(case.volume, case.mask.labels, 0) == want
    store = Store.open(default_db_url())
    cid = store.add_imported(case, actor="t").case_id
    assert main(["export-tag", "--case", str(cid), "--out", str(out / "again.tag")]) == 0
    assert (out / "again.tag").read_bytes() == want
    assert main(["export-tag", str(path), str(out / "p.dcm.tag"), "--out", str(out / "third.tag")]) == 0
    assert (out / "third.tag").read_bytes() == want
