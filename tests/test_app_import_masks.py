"""The "Import expert mask" page, reached through app.py: a TAG on its DICOM slice is shown and measured; a mask
on another grid is refused with the reason."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from sarco_core.io import load
from sarco_core.masks import mask_to_tag
from sarco_core.metrics import measure_slice
from sarco_core.phantom import phantom_slice, write_dicom
from tests.app_helpers import app

PAGE = "pages/import_masks.py"


def _slice() -> tuple[bytes, bytes, np.ndarray, float]:
    p = phantom_slice(seed=21, size=96, pixel_mm=3.5)
    labels = np.asarray(p.labels).reshape(96, 96).astype(np.uint8)
    with tempfile.TemporaryDirectory() as d:
        dcm = write_dicom(p, Path(d))[0]
        ct = load(dcm)
        sma = measure_slice(ct.hu[0], labels, row_mm=3.5, col_mm=3.5).sma_cm2
        return dcm.read_bytes(), mask_to_tag(ct, labels, 0), labels, sma


def test_tag_upload_is_overlaid_and_measured() -> None:
    dcm, tag, _, sma = _slice()
    at = app(PAGE)
    assert not at.exception, at.exception
    assert at.title[0].value == "Import an expert mask"
    at.file_uploader(key="imp_ct").set_value([("IM1.dcm", dcm, "application/dicom")])
    at.file_uploader(key="imp_mask").set_value(("IM1.dcm.tag", tag, "application/octet-stream"))
    at.run()
    at.button(key="imp_btn").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert "imported:tag" in at.success[0].value
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["SMA"] == f"{sma:.1f} cm²"
    assert len(at.get("image")) == 1, "the overlay image is shown"
    assert any("alberta" in c.value for c in at.caption)


def test_mask_on_another_grid_is_refused_on_the_page() -> None:
    dcm, _, labels, _ = _slice()
    buf = io.BytesIO()
    Image.fromarray(labels[:60]).save(buf, format="PNG")
    at = app(PAGE)
    at.file_uploader(key="imp_ct").set_value([("IM1.dcm", dcm, "application/dicom")])
    at.file_uploader(key="imp_mask").set_value(("small.png", buf.getvalue(), "image/png"))
    at.run()
    at.button(key="imp_btn").click().run()
    assert not at.exception, at.exception
    assert "60 x 96 pixels" in at.error[0].value and "never resamples" in at.error[0].value
    assert not at.metric and not at.get("image")
