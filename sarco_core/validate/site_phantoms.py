"""Stand-in "site" cohorts for the site-adaptation demonstration: phantom slices whose reference masks follow a
different, systematic tracing convention than this package's (exact phantom labels, Alberta protocol).

:data:`SiteConvention.PSOAS_QL_SEPARATE` — the site traces psoas and quadratus lumborum as structures of their
own and leaves them out of the exported skeletal-muscle mask (the rest of the label map is unchanged). Seeds
start at :data:`SITE_SEED0`, far from every training (0..800) and validation (900 000..) seed of the shipped model.
"""

from __future__ import annotations

import csv
from enum import StrEnum
from pathlib import Path

import numpy as np

from sarco_core.validate.cases import ReferenceCase

SITE_SEED0 = 700_000


class SiteConvention(StrEnum):
    STANDARD = "standard"  # this package's convention (the phantom's exact labels)
    PSOAS_QL_SEPARATE = "psoas_ql_separate"


def site_labels(labels: np.ndarray, tissue: np.ndarray, convention: SiteConvention) -> np.ndarray:
    """The phantom's label map redrawn by ``convention``."""
    from sarco_core.phantom.tissues import TISSUES

    out = np.asarray(labels, np.uint8).copy()
    if convention == SiteConvention.PSOAS_QL_SEPARATE:
        out[np.isin(tissue, (TISSUES["psoas"], TISSUES["quadratus_lumborum"]))] = 0
    return out


def site_cases(n: int, *, convention: SiteConvention, seed0: int = SITE_SEED0) -> list[ReferenceCase]:
    """``n`` L3 phantom cases (one slice per patient), seeded; pixel 0.65-0.95 mm, a position in L3 and patient
    data drawn per seed."""
    from sarco_core.phantom.slice import phantom_slice

    out = []
    for s in range(seed0, seed0 + n):
        rng = np.random.default_rng([s, 1616])
        ph = phantom_slice(s, level="L3", pixel_mm=float(rng.uniform(0.65, 0.95)), frac=float(rng.uniform(0.3, 0.7)))
        sex = "F" if rng.random() < 0.5 else "M"
        height = float(rng.uniform(1.55, 1.75) if sex == "F" else rng.uniform(1.65, 1.90))
        out.append(
            ReferenceCase.of(
                case_id=f"site{s}",
                patient_id=f"P{s}",
                hu=np.asarray(ph.hu, np.float32),
                reference=site_labels(ph.labels, ph.tissue, convention),
                spacing_mm=ph.spacing_mm,
                height_m=height,
                weight_kg=float(rng.uniform(55, 95)),
                sex=sex,
            )
        )
    return out


def write_site_folder(cases: list[ReferenceCase], folder: str | Path) -> Path:
    """Write each case as ``images/<id>.nii.gz`` + ``masks/<id>.nii.gz`` and a ``manifest.csv``; returns it."""
    from sarco_core.io.nifti import save_nifti

    root = Path(folder)
    rows = []
    for c in cases:
        vol = c.volume()
        save_nifti(vol, np.round(c.hu).astype(np.int16)[None], root / "images" / f"{c.case_id}.nii.gz", dtype=np.int16)
        save_nifti(vol, c.reference[None], root / "masks" / f"{c.case_id}.nii.gz")
        rows.append(
            {
                "case_id": c.case_id,
                "image": f"images/{c.case_id}.nii.gz",
                "mask": f"masks/{c.case_id}.nii.gz",
                "height_m": f"{c.height_m:.3f}" if c.height_m else "",
                "weight_kg": f"{c.weight_kg:.1f}" if c.weight_kg else "",
                "sex": c.sex or "",
                "patient_id": c.patient_id,
            }
        )
    man = root / "manifest.csv"
    with man.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return man
