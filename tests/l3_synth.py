"""A tiny seeded synthetic trunk with a labelled spine (bodies, discs, canal, posterior elements, lumbar
transverse processes, ribs on thoracic vertebrae, lungs, sacrum joined to the iliac wings) for L3 unit tests.

Deliberately simple geometry (not the project phantom): it checks the counting logic with exactly known levels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sarco_core.volume import Volume

BODY_MM = {
    "S1": 28,
    "L6": 27,
    "L5": 27,
    "L4": 28,
    "L3": 28,
    "L2": 27,
    "L1": 26,
    "T12": 24,
    "T11": 23,
    "T10": 22,
    "T9": 21,
    "T8": 20,
}


@dataclass(frozen=True)
class SynthSpine:
    volume: Volume
    levels: dict[str, tuple[float, float]]  # body z range (lo, hi) mm per vertebra


def synth_spine(
    *,
    lumbar: int = 5,
    slice_mm: float = 3.0,
    px_mm: float = 2.0,
    z_bottom_mm: float = -90.0,
    z_top_mm: float | None = None,
    seed: int = 0,
) -> SynthSpine:
    names = ["S1"] + [f"L{i}" for i in range(lumbar, 0, -1)] + ["T12", "T11", "T10", "T9", "T8"]
    levels: dict[str, tuple[float, float]] = {}
    z = 0.0
    for n in names:
        h = BODY_MM[n if n != "L6" else "L5"]
        levels[n] = (z, z + h)
        z += h + (10.0 if n.startswith(("S", "L")) else 7.0)
    top = z_top_mm if z_top_mm is not None else levels["T8"][1]
    zs = np.arange(z_bottom_mm, top, slice_mm)
    n_px = int(320 / px_mm)
    ax = (np.arange(n_px) - n_px / 2 + 0.5) * px_mm
    y, x = np.meshgrid(ax, ax, indexing="ij")  # y + posterior, x + patient left
    rng = np.random.default_rng(seed)
    hu = np.full((zs.size, n_px, n_px), -1000.0, np.float32)
    body = (x / 150) ** 2 + (y / 110) ** 2 <= 1
    inner = (x / 135) ** 2 + (y / 95) ** 2 <= 1
    s1 = levels["S1"]
    thor = [n for n in names if n.startswith("T")]
    # rib polylines: (dx, y, dz below the head)
    rib_path = np.array([[22, 62, 0], [60, 72, -12], [110, 55, -35], [125, 0, -50], [105, -60, -62]], float)
    t = np.linspace(0, 1, 200)
    pts = np.concatenate([a + (b - a) * t[:, None] for a, b in zip(rib_path[:-1], rib_path[1:], strict=True)])
    for k, zk in enumerate(zs):
        sl = hu[k]
        sl[body] = -90.0
        sl[inner] = 40.0
        lev = next((n for n, (lo, hi) in levels.items() if lo <= zk <= hi), None)
        vb = (x / 20) ** 2 + ((y - 50) / 17) ** 2 <= 1
        if lev is not None or zk < s1[0]:
            sl[vb] = 230.0
            rim = vb & ~((x / 17) ** 2 + ((y - 50) / 14) ** 2 <= 1)
            sl[rim] = 650.0
        else:
            sl[vb] = 80.0
        canal = (x**2 + (y - 78) ** 2) <= 9**2
        post = ((x**2 + (y - 78) ** 2) <= 15**2) & ~canal
        sl[post] = 450.0
        sl[(np.abs(x) <= 4) & (y >= 90) & (y <= 112)] = 450.0
        sl[canal] = 20.0
        if lev is not None and lev.startswith("L"):
            lo, hi = levels[lev]
            if lo + 0.3 * (hi - lo) <= zk <= hi - 0.3 * (hi - lo):
                sl[(np.abs(x) >= 10) & (np.abs(x) <= 45) & (np.abs(y - 76) <= 4)] = 450.0
        if zk > levels["T11"][0]:  # lungs
            lung = ((np.abs(x) - 75) / 48) ** 2 + ((y - 15) / 65) ** 2 <= 1
            sl[lung] = -850.0
        for n in thor:
            zh = levels[n][1] - 6.0
            near = np.abs(pts[:, 2] + zh - zk) <= slice_mm / 2 + 2.0
            for dx, py, _ in pts[near]:
                for sgn in (-1, 1):
                    sl[((x - sgn * dx) ** 2 + (y - py) ** 2) <= 5**2] = 500.0
        # pelvis: iliac wings from 40 mm below S1 up to L5's middle; joined to the sacrum up to S1's middle
        l5 = levels[f"L{lumbar}"]
        if s1[0] - 60 <= zk <= (l5[0] + l5[1]) / 2:
            wing = (np.abs(x) >= 55) & (np.abs(x) <= 135) & (np.abs(y - 45 - 0.25 * (np.abs(x) - 55)) <= 7)
            sl[wing] = 500.0
            if zk <= (s1[0] + s1[1]) / 2:
                sl[(np.abs(x) <= 60) & (np.abs(y - 50) <= 12)] = 300.0
    hu += rng.normal(0, 12, hu.shape).astype(np.float32)
    vol = Volume.from_array(hu=np.round(hu).astype(np.int16), spacing_mm=(slice_mm, px_mm, px_mm), z0_mm=float(zs[0]))
    return SynthSpine(vol, levels)
