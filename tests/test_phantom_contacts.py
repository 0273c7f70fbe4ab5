"""Phantom ``contacts="hard"``: viscera touching muscle with no fat plane, exact labels, determinism, and the
default phantom left exactly as it was."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from scipy import ndimage as ndi

from sarco_core.phantom import LABEL_OF, PHANTOM_VERSION, TISSUES, phantom_slice, phantom_volume

T = TISSUES
VISCERA = [T[n] for n in ("bowel_wall", "bowel_content", "feces", "oral_contrast", "bowel_gas", "liver", "spleen")]
SEEDS = (21, 22, 23, 24)

# sha256 of the default tissue maps below; a deliberate change of the default phantom bumps PHANTOM_VERSION
# and records the new digest here.
GOLDEN = {"2026.11.24-3": "9bdc748fbf5707b6d6a828353fb81b9bbe0710a5c4cf7621d0676fbf2fba2ebf"}


def _default_digest() -> str:
    h = hashlib.sha256()
    for seed in (1, 2, 3):
        for level in ("T12", "L1", "L3"):
            h.update(phantom_slice(seed, level=level, size=128, pixel_mm=3.2).tissue.tobytes())
    return h.hexdigest()


def _touch(tissue: np.ndarray, a: list[int], b: np.ndarray) -> int:
    """Pixels of tissues ``a`` 4-adjacent to mask ``b`` (contact with no fat plane in between)."""
    near = ndi.binary_dilation(b, structure=ndi.generate_binary_structure(2, 1))
    return int((np.isin(tissue, a) & near).sum())


def test_default_phantom_unchanged() -> None:
    assert PHANTOM_VERSION in GOLDEN, "default phantom changed: record its new digest with the new PHANTOM_VERSION"
    assert _default_digest() == GOLDEN[PHANTOM_VERSION]
    a = phantom_slice(5, level="L2", size=128, pixel_mm=3.2)
    b = phantom_slice(5, level="L2", size=128, pixel_mm=3.2, contacts="default")
    assert np.array_equal(a.hu, b.hu)


def test_bad_mode_names_the_choices() -> None:
    with pytest.raises(ValueError, match="hard"):
        phantom_slice(1, contacts="soft")


@pytest.mark.parametrize("level", ["T12", "L1", "L3"])
def test_hard_labels_exact_and_new_organs_not_muscle(level: str) -> None:
    for seed in SEEDS[:2]:
        s = phantom_slice(seed, level=level, size=256, pixel_mm=1.6, contacts="hard")
        assert np.array_equal(s.labels, LABEL_OF[s.tissue])
        for name in ("diaphragm", "lymph_node", "liver", "spleen", "bowel_wall", "feces", "aorta"):
            assert LABEL_OF[T[name]] == 0
        assert LABEL_OF[T["mesentery"]] == 3  # strands inside the cavity fat stay in the VAT compartment
        assert not np.isin(s.tissue[s.labels == 1], VISCERA + [T["diaphragm"], T["lymph_node"]]).any()


def test_hard_contacts_touch_muscle_without_fat_plane() -> None:
    hard_touch, soft_touch, crus_vb, aorta_vb = 0, 0, 0, 0
    organ = {"hard": [0, 0], "default": [0, 0]}  # (kidney, liver + spleen) pixels touching muscle
    for seed in SEEDS:
        for level in ("T12", "L1", "L2", "L3"):
            h = phantom_slice(seed, level=level, size=256, pixel_mm=1.6, contacts="hard")
            d = phantom_slice(seed, level=level, size=256, pixel_mm=1.6)
            hard_touch += _touch(h.tissue, VISCERA, h.labels == 1)
            soft_touch += _touch(d.tissue, VISCERA, d.labels == 1)
            for name, ph in (("hard", h), ("default", d)):
                organ[name][0] += _touch(ph.tissue, [T["kidney"]], ph.labels == 1)
                organ[name][1] += _touch(ph.tissue, [T["liver"], T["spleen"]], ph.labels == 1)
            bone = np.isin(h.tissue, [T["vertebral_cortex"], T["vertebral_body"]])
            crus_vb += _touch(h.tissue, [T["diaphragm"]], bone)
            aorta_vb += _touch(h.tissue, [T["aorta"]], bone)
    assert hard_touch > 2 * soft_touch and hard_touch > 1500
    assert crus_vb > 50 and aorta_vb > 20
    assert organ["hard"][0] > organ["default"][0] and organ["hard"][1] > 2 * organ["default"][1], organ


def test_hard_deterministic_and_in_volumes() -> None:
    a = phantom_slice(31, level="L1", size=160, pixel_mm=2.5, contacts="hard")
    b = phantom_slice(31, level="L1", size=160, pixel_mm=2.5, contacts="hard")
    assert np.array_equal(a.hu, b.hu) and np.array_equal(a.tissue, b.tissue)
    assert (a.tissue == T["diaphragm"]).any()
    v = phantom_volume(31, size=96, pixel_mm=4.0, slice_mm=6.0, top="T12", bottom="L3", contacts="hard")
    assert np.array_equal(v.labels, LABEL_OF[v.tissue])
    assert (v.tissue == T["diaphragm"]).any()


def test_pv_factor_odd_and_fine() -> None:
    from sarco_core.phantom.pv import PV_MIN_PIXEL_MM, SUB_MM, factor

    for px in (0.5, 0.8, 0.95, 1.25):
        assert factor(px, px) == 1
    for px in (1.3, 1.6, 3.0, 4.0):
        n = factor(px, px)
        assert px > PV_MIN_PIXEL_MM and n > 1 and n % 2 == 1 and px / n <= SUB_MM + 1e-9
    assert factor(0.7, 3.0) == 5


def test_hard_partial_volume_at_3mm_pixels() -> None:
    """SAT pixels next to muscle are brighter than deep SAT (muscle shares their area) at 3 mm pixels."""

    def edge_minus_deep(contacts: str) -> float:
        out = []
        for seed in (41, 42, 43):
            s = phantom_slice(seed, level="L3", size=140, pixel_mm=3.0, contacts=contacts)
            mus, sat = s.labels == 1, s.labels == 2
            edge = sat & ndi.binary_dilation(mus)
            deep = sat & ~ndi.binary_dilation(mus, iterations=3)
            out.append(float(s.hu[edge].mean() - s.hu[deep].mean()))
        return float(np.mean(out))

    hard, default = edge_minus_deep("hard"), edge_minus_deep("default")
    assert hard > 8.0 and hard > default + 6.0, (hard, default)
