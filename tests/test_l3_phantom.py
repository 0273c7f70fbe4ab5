"""L3 detection on the project phantom (sarco_core.phantom) with known vertebral levels."""

from __future__ import annotations

import pytest

phantom = pytest.importorskip("sarco_core.phantom")

from sarco_core.l3 import decide as dc  # noqa: E402
from sarco_core.l3 import find_l3  # noqa: E402

KW = dict(pixel_mm=1.6, size=256, top="T11", bottom="sacrum")
TOL_MM = 6.0  # chosen slice vs the true L3 mid-body


@pytest.mark.parametrize("seed", [2, 6])
def test_normal_phantom_l3_inside_the_body(seed: int) -> None:
    ph = phantom.phantom_volume(seed, **KW)
    r = find_l3(ph.volume)
    lo, hi = ph.levels["L3"]
    assert lo <= r.z_mm <= hi
    assert abs(r.z_mm - ph.l3_mid_z_mm) <= TOL_MM
    assert r.confidence >= 0.6


def test_missing_sacrum_phantom() -> None:
    ph = phantom.phantom_volume(2, **{**KW, "sacrum": False})
    r = find_l3(ph.volume)
    lo, hi = ph.levels["L3"]
    assert lo <= r.z_mm <= hi
    assert r.counts["sacrum"] is None and r.confidence <= dc.P_AGREE  # one count: never above two agreeing
    assert any("sacrum" in w for w in r.warnings)


def test_six_lumbar_phantom_is_flagged_and_keeps_the_alternative() -> None:
    ph = phantom.phantom_volume(1, **{**KW, "lumbar_count": 6})
    r = find_l3(ph.volume)
    assert r.confidence < 0.6
    assert r.warnings
    lo, hi = ph.levels["L3"]  # the phantom names L3 as the third vertebra below T12
    assert any(lo <= c.z_mm <= hi for c in r.candidates)
