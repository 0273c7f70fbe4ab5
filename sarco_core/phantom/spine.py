"""The vertebral column along z: exact body and disc ranges per vertebra (mm, +z superior).

Every vertebra has a body range ``(lo, hi)``; between two neighbours lies a disc. S1 has no disc below (it
is fused with the lower sacrum, id 25, which spans 70 mm below S1). The femoral heads are centred 85 mm
below S1's lower endplate.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

THORACIC = ("T6", "T7", "T8", "T9", "T10", "T11", "T12")
_BODY_MM = {
    "T13": 25,
    "T6": 18,
    "T7": 19,
    "T8": 20,
    "T9": 21,
    "T10": 22,
    "T11": 23,
    "T12": 24,
    "L1": 26,
    "L2": 27,
    "L3": 28,
    "L4": 28,
    "L5": 27,
    "L6": 27,
    "S1": 28,
}
_DISC_MM = {"T": 6.0, "T12": 8.0, "T13": 8.5, "L1": 9.0, "L2": 10.0, "L3": 11.0, "L4": 11.0, "L5": 11.0, "L6": 11.0}
SACRUM_MM = 70.0
FEMUR_BELOW_S1_MM = 85.0
FEMUR_BOTTOM_MM = 115.0
RIB12 = ("normal", "short", "absent")


@dataclass(frozen=True)
class VertebraPos:
    name: str
    lo: float
    hi: float
    disc_below: float  # disc height below this vertebra (0 for S1)

    @property
    def mid(self) -> float:
        return 0.5 * (self.lo + self.hi)


@dataclass(frozen=True)
class SpineLayout:
    """Vertebrae ordered from the bottom (S1) up. z = 0 at S1's lower endplate (plus ``z_offset_mm``)."""

    vertebrae: tuple[VertebraPos, ...]
    lumbar_count: int
    lumbar_rib: bool
    z_offset_mm: float = 0.0
    rib12: str = "normal"  # the 12th ribs (on T12): "normal", "short" (hypoplastic, ~3-5 cm) or "absent"
    thoracic_count: int = 12  # 13: a supernumerary thoracic vertebra "T13" with a full rib pair above L1
    wedge_lowest: float = 0.0  # the lowest lumbar body is this fraction lower behind than in front (wedge L5)
    lowest_tp_scale: float = 1.0  # its transverse processes this much longer and thicker (a massive L5 process)
    crest_key: float = 4.6  # level key where the iliac wings begin (sarco_core.phantom.frame; lower = higher crest)
    # sacro-iliac joints (None: the older pelvis, whose alae never reach the ilium): the joint space between the
    # sacral alae and the ilium (mm), and the soft tissue between the lowest lumbar transverse processes and the ilium
    si_joint_mm: float | None = None
    tp_ilium_gap_mm: float = 12.0
    cobb_deg: float = 0.0  # lateral lumbar curve (scoliosis), + convex to the patient's left; 0 = straight
    curve_apex: float = 0.5  # where its apex lies between the S1 upper endplate (0) and the T10 mid-body (1)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.vertebrae)

    def get(self, name: str) -> VertebraPos:
        for v in self.vertebrae:
            if v.name == name:
                return v
        raise KeyError(name)

    @property
    def s1_lo(self) -> float:
        return self.get("S1").lo

    def rib_bearing(self) -> tuple[str, ...]:
        """Vertebrae that carry a full rib with a head at the vertebra (all thoracic, T13 included). A lumbar
        rib (``lumbar_rib``) is not one of them: it is a short rudimentary rib at the tip of L1's transverse
        process (:func:`sarco_core.phantom.skeleton.lumbar_rib_set`)."""
        return tuple(v.name for v in self.vertebrae if v.name.startswith("T"))

    def lumbar(self) -> tuple[str, ...]:
        return tuple(f"L{i}" for i in range(1, self.lumbar_count + 1))

    def at(self, z: float) -> tuple[str | None, float, str | None]:
        """(vertebra whose body holds z or None, fraction 0..1 within that body or disc, vertebra above a disc).

        In a disc the first item is None and the third names the vertebra above the disc.
        Below S1 (lower sacrum, pelvis) it returns ("sacrum", fraction below S1, None).
        """
        for i, v in enumerate(self.vertebrae):
            if v.lo <= z < v.hi:
                return v.name, (z - v.lo) / (v.hi - v.lo), None
            if i > 0 and self.vertebrae[i - 1].hi <= z < v.lo:
                below = self.vertebrae[i - 1]
                return None, (z - below.hi) / (v.lo - below.hi), v.name
        if z < self.vertebrae[0].lo:
            return "sacrum", (self.vertebrae[0].lo - z) / SACRUM_MM, None
        return None, 1.0, None

    def z_of(self, name: str, frac: float = 0.5) -> float:
        """z at a fraction of a vertebral body (0 = lower endplate, 1 = upper endplate)."""
        v = self.get(name)
        return v.lo + frac * (v.hi - v.lo)

    def top_name(self) -> str:
        return self.vertebrae[-1].name

    def curve(self, z: float) -> tuple[float, float]:
        """(lateral shift of the spine in mm, in-plane rotation of the vertebra in degrees) at ``z``.

        A single (C) curve from the S1 upper endplate to the T10 mid-body, x = A sin(pi w(u)) with
        w(u) = u + c u (1 - u) putting its apex at ``curve_apex`` and A such that the Cobb angle (the largest
        difference in tilt, atan dx/dz, between two points of the curve) is ``cobb_deg``; the vertebrae rotate
        towards the convexity by up to half the Cobb angle at the apex (apical rotation grows with the curve; a
        15 degree curve has little). 0 outside. Only the in-plane shift and rotation are modelled (the vertebrae
        are not tilted in the coronal plane).
        """
        if self.cobb_deg == 0.0:
            return 0.0, 0.0
        z0, z1 = self.get("S1").hi, self.z_of("T10") if "T10" in self.names else self.vertebrae[-1].hi
        u = (z - z0) / (z1 - z0)
        if not 0.0 < u < 1.0:
            return 0.0, 0.0
        c, amp = _curve_shape(self.curve_apex, abs(self.cobb_deg), z1 - z0)
        w = float(np.sin(np.pi * (u + c * u * (1.0 - u))))
        sign = 1.0 if self.cobb_deg > 0 else -1.0
        return sign * amp * w, sign * 0.5 * abs(self.cobb_deg) * w


@lru_cache(maxsize=64)
def _curve_shape(apex: float, cobb_deg: float, length_mm: float) -> tuple[float, float]:
    """Warp c (w(apex) = 0.5; |c| < 1 keeps w monotonic: apex 0.34-0.66) and the amplitude (mm) giving
    ``cobb_deg``."""
    c = float(np.clip((0.5 - apex) / (apex * (1.0 - apex)), -0.95, 0.95))
    u = np.linspace(0.0, 1.0, 2001)
    w = u + c * u * (1.0 - u)
    slope = np.pi * (1.0 + c * (1.0 - 2.0 * u)) * np.cos(np.pi * w) / length_mm  # d/dz sin(pi w), per mm amplitude
    lo, hi = 0.0, 500.0
    for _ in range(50):  # Cobb(A) = atan(A max slope) - atan(A min slope) grows with A: bisection
        mid = 0.5 * (lo + hi)
        cobb = np.degrees(np.arctan(mid * slope.max()) - np.arctan(mid * slope.min()))
        lo, hi = (mid, hi) if cobb < cobb_deg else (lo, mid)
    return c, 0.5 * (lo + hi)


def build_layout(
    seed: int,
    *,
    lumbar_count: int = 5,
    lumbar_rib: bool = False,
    top: str = "T10",
    spine_scale: float = 1.0,
    z_offset_mm: float = 0.0,
    rib12: str = "normal",
    lowest_disc_mm: float | None = None,
    thoracic_count: int = 12,
) -> SpineLayout:
    """Seeded heights: bodies 22-30 mm (lumbar 25-30), discs 6-12 mm (lumbar 8-12). ``lowest_disc_mm`` sets the
    disc between the lowest lumbar vertebra and S1 (a large or a narrow L5/S1 disc space; the draws do not move).
    ``thoracic_count=13`` adds "T13" (a full rib pair) between T12 and L1: 13 thoracic vertebrae; the vertebrae
    below keep the names L1-L5 (the usual radiological convention with 5 lumbar-type vertebrae: counted up from the
    sacrum), so L3 is the third lumbar-type vertebra above S1 and the fourth below the last rib."""
    if lumbar_count not in (4, 5, 6):
        raise ValueError(f"lumbar_count must be 4, 5 or 6, got {lumbar_count}")
    if thoracic_count not in (12, 13):
        raise ValueError(f"thoracic_count must be 12 or 13, got {thoracic_count}")
    if rib12 not in RIB12:
        raise ValueError(f"rib12 must be one of {RIB12}, got {rib12!r}")
    if top not in THORACIC:
        top = "T10"
    rng = np.random.default_rng([int(seed), 4242])
    names = ["S1", *[f"L{i}" for i in range(lumbar_count, 0, -1)]]
    names += ["T13"] if thoracic_count == 13 else []
    names += [t for t in reversed(THORACIC) if THORACIC.index(t) >= THORACIC.index(top)]
    z = z_offset_mm
    out: list[VertebraPos] = []
    for i, n in enumerate(names):
        disc = 0.0
        if i > 0:
            key = n if n in _DISC_MM else "T"
            disc = float(
                np.clip(_DISC_MM[key] * spine_scale * rng.uniform(0.92, 1.08), 6.0 if key == "T" else 8.0, 12.0)
            )
            if i == 1 and lowest_disc_mm is not None:
                disc = float(lowest_disc_mm)
            z += disc
        lo_body = 25.0 if n.startswith("L") or n == "S1" else 18.0
        h = float(np.clip(_BODY_MM[n] * spine_scale * rng.uniform(0.95, 1.05), lo_body, 30.0))
        out.append(VertebraPos(n, z, z + h, disc))
        z += h
    return SpineLayout(tuple(out), lumbar_count, lumbar_rib, z_offset_mm, rib12, thoracic_count)
