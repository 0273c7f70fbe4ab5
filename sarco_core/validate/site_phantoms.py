"""Stand-in "site" cohorts for the site-adaptation demonstration (docs/site-adaptation.md).

A site can differ in its **images** (:class:`SitePopulation`) or in its **tracing convention**
(:class:`SiteConvention`):

* :data:`SitePopulation.ANASARCA` - an oedema / anasarca population (``variant_slice(seed, "anasarca")``:
  subcutaneous fat at 0..20 HU, inside the muscle gate), traced by the package's own convention (the phantom's
  exact Alberta-protocol labels, docs/convention.md). This is the demonstration's site: adapting to it must not
  change what the model does on standard patients.
* :data:`SiteConvention.PSOAS_QL_SEPARATE` - the contrasting case: the site traces psoas and quadratus lumborum
  as structures of their own and leaves them out of the exported skeletal-muscle mask, which *contradicts* the
  Alberta protocol, so a model adapted to it must disagree with the standard labels.

Seeds start at :data:`SITE_SEED0`, far from every training (0..800) and validation (900 000..) seed of the shipped
model; :data:`REPLAY_SEED0` seeds the standard phantoms mixed into fine-tuning batches (replay).
"""

from __future__ import annotations

import csv
from enum import StrEnum
from pathlib import Path

import numpy as np

from sarco_core.validate.cases import ReferenceCase

SITE_SEED0 = 700_000
REPLAY_SEED0 = 800_000


class SitePopulation(StrEnum):
    STANDARD = "standard"  # the default phantom patients
    ANASARCA = "anasarca"  # oedematous subcutaneous fat (sarco_core.phantom.variants)


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


def site_cases(
    n: int,
    *,
    convention: SiteConvention,
    population: SitePopulation = SitePopulation.STANDARD,
    seed0: int = SITE_SEED0,
) -> list[ReferenceCase]:
    """``n`` L3 phantom cases (one slice per patient), seeded; pixel 0.65-0.95 mm and patient data drawn per seed;
    standard patients at a position in L3 drawn per seed, anasarca patients at mid-L3 (``variant_slice``)."""
    from sarco_core.phantom.slice import phantom_slice
    from sarco_core.phantom.variants import variant_slice

    out = []
    for s in range(seed0, seed0 + n):
        rng = np.random.default_rng([s, 1616])
        pixel_mm, frac = float(rng.uniform(0.65, 0.95)), float(rng.uniform(0.3, 0.7))
        if population == SitePopulation.ANASARCA:
            ph = variant_slice(s, "anasarca", level="L3", pixel_mm=pixel_mm)
        else:
            ph = phantom_slice(s, level="L3", pixel_mm=pixel_mm, frac=frac)
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
