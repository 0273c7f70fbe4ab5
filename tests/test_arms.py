"""Arms resting against the trunk (sarco_core.segment.model.arms) are found on the one real slice that has one, nowhere
else we hold, and the shipped model no longer labels that arm's muscle as trunk muscle.

Needs the shared data: skipped with a reason where it is absent, a failure under CI=true (tests/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest

from sarco_core.body import find_body
from sarco_core.io import load
from sarco_core.phantom import phantom_slice
from sarco_core.segment.model.arms import arms_against_trunk
from sarco_core.segment.model.prep import resample_slice
from tests.conftest import REPO, data_path

ARM_SLICE = ("tcia_covid19_ny_sbu", "A062055", "axial", "19001228-131.dcm")
NO_ARM_TOUCHING = [
    ("tcia_covid19_ny_sbu", "A027284", "axial", "19000925-116.dcm"),  # arms beside the body, not touching
    ("tcia_covid19_ny_sbu", "A027284", "axial", "19001231-131.dcm"),
    ("tcia_covid19_ny_sbu", "A058062", "axial", "19001231-084.dcm"),  # ribs in the lateral wall
    ("tcia_covid19_ny_sbu", "A002304", "axial", "19010112-135.dcm"),  # chest: latissimus with the scapula
    ("tcia_covid19_ny_sbu", "A056642", "axial", "19010107-111.dcm"),
    ("pydicom", "pancreas_ct_0001_slice122_j2k.dcm"),
]


def _arms(hu: np.ndarray, row_mm: float, col_mm: float) -> np.ndarray:
    h = resample_slice(np.asarray(hu, np.float32), row_mm, col_mm, 2.0)
    return arms_against_trunk(h, 2.0, find_body(h, 2.0, fov_out=h < -1050).trunk)


def test_arm_against_the_flank_is_found() -> None:
    v = load(data_path(*ARM_SLICE))
    arm = _arms(v.hu[0], v.spacing_mm.row, v.spacing_mm.col)
    area = float(arm.sum()) * 0.04
    assert 15.0 < area < 60.0, area
    cols = np.nonzero(arm.any(axis=0))[0]
    assert cols.max() < arm.shape[1] * 0.3, "the arm lies at the patient's right flank (left of the image)"


@pytest.mark.parametrize("parts", NO_ARM_TOUCHING, ids=lambda p: "/".join(p[-2:]))
def test_no_arm_where_there_is_none(parts: tuple[str, ...]) -> None:
    v = load(data_path(*parts))
    assert not _arms(v.hu[0], v.spacing_mm.row, v.spacing_mm.col).any()


def test_no_arm_on_phantoms_low_and_high_levels() -> None:
    cases = ((401, "L5", 0.8), (402, "L4", 0.8), (403, "T12", 0.8), (404, "L3", 0.8), (910008, "T12", 0.6856))
    for seed, level, px in cases:  # 910008: a lateral wall segment around a round rib, once taken for an arm
        ph = phantom_slice(seed, level=level, pixel_mm=px, contacts="hard" if seed % 2 else "default")
        assert not _arms(ph.hu, px, px).any(), (seed, level)


def test_model_does_not_label_the_arm() -> None:
    from sarco_core.segment.model import Segmenter

    model = REPO / "models" / "sarco-unet-v1"
    if not (model / "config.json").exists():
        pytest.skip(f"no shipped model at {model}")
    v = load(data_path(*ARM_SLICE))
    res = Segmenter.from_dir(model).segment(v, [0])[0]
    assert "arms_in_field" in res.qc_flags
    arm = _arms(v.hu[0], v.spacing_mm.row, v.spacing_mm.col)
    arm_native = resample_slice(arm.astype(np.float32), 2.0, 2.0, v.spacing_mm.row)[: v.hu.shape[1], : v.hu.shape[2]]
    core = np.zeros(v.hu.shape[1:], bool)
    core[: arm_native.shape[0], : arm_native.shape[1]] = arm_native > 0.5
    px_cm2 = v.spacing_mm.row * v.spacing_mm.col / 100.0
    assert float(((res.labels == 1) & core).sum()) * px_cm2 < 1.0
