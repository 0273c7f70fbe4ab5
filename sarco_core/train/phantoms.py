"""Phantom training slices: which train seed is rendered how (level, pixel size, truncation, hard contacts,
issue-15 variant), each choice from a random stream of its own so adding an option never changes the other
seeds' slices."""

from __future__ import annotations

import numpy as np

PHANTOM_LEVELS = ("T10", "T11", "T12", "L1", "L2", "L3", "L3", "L3", "L4", "L5")


def is_hard_seed(seed: int, hard_fraction: float) -> bool:
    """Whether train seed ``seed`` is rendered with hard contacts (a stream of its own, independent of the
    level / pixel / truncation draws)."""
    return hard_fraction > 0 and bool(np.random.default_rng([int(seed), 4343]).random() < hard_fraction)


def variant_of_seed(seed: int, variant_fraction: float) -> str | None:
    """The issue-15 phantom variant train seed ``seed`` is rendered as, or None (a stream of its own, so the
    other draws and the default slices are unchanged; the four variants equally often)."""
    if variant_fraction <= 0:
        return None
    r = np.random.default_rng([int(seed), 4545])
    if r.random() >= variant_fraction:
        return None
    from sarco_core.phantom.variants import VARIANTS

    named = [v for v in VARIANTS if v != "none"]
    return named[int(r.integers(len(named)))]


def phantom_sample(
    seed: int, *, hard_fraction: float = 0.0, levels: tuple[str, ...] = (), variant_fraction: float = 0.0
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """One phantom slice with seed-drawn level, position in the vertebra, pixel size and truncation:
    (HU, exact labels 0..3, row_mm, col_mm). A share ``hard_fraction`` of seeds (drawn from its own stream, so
    the other draws and the default slices are unchanged) is rendered with ``contacts="hard"``; a share
    ``variant_fraction`` (its own stream too) as an issue-15 variant (:func:`variant_of_seed`; at the seed's
    level and pixel size, mid-vertebra, never truncated)."""
    try:
        from sarco_core.phantom import phantom_slice
    except ImportError:  # the package's __init__ may not re-export it
        from sarco_core.phantom.slice import phantom_slice

    rng = np.random.default_rng([int(seed), 4242])
    lv = levels or PHANTOM_LEVELS
    level = lv[int(rng.integers(len(lv)))]
    px = float(rng.uniform(0.6, 1.0))
    hard = is_hard_seed(seed, hard_fraction)
    variant = variant_of_seed(seed, variant_fraction)
    if variant is not None:
        from sarco_core.phantom.variants import variant_slice

        v = variant_slice(int(seed), variant, level=level, pixel_mm=px)
        vr, vc = v.spacing_mm
        return np.asarray(v.hu, np.float32), np.asarray(v.labels, np.uint8), float(vr), float(vc)
    ph = phantom_slice(
        int(seed),
        level=level,
        pixel_mm=px,
        frac=float(rng.uniform(0.2, 0.8)),
        truncated=bool(rng.random() < 0.1),
        contacts="hard" if hard else "default",
    )
    row_mm, col_mm = ph.spacing_mm
    return np.asarray(ph.hu, np.float32), np.asarray(ph.labels, np.uint8), float(row_mm), float(col_mm)
