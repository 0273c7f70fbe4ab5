"""Issue-6 checks of L3 detection on the validation CT (totalsegmentator/example_ct.nii.gz) and its variants.

``python validation/l3_checks.py`` prints, per variant, the chosen slice, whether it lies inside the L3 label of
example_ct_vertebrae.nii.gz, its distance to the label centroid, the confidence and the warnings, plus the
L1-L5 centre errors. The same cases are asserted in tests/test_l3_real.py.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage as ndi

from sarco_core.io import load, load_mask
from sarco_core.l3 import L3Result, find_l3
from sarco_core.volume import Volume

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "totalsegmentator"
LABELS = {27: "L5", 28: "L4", 29: "L3", 30: "L2", 31: "L1"}


@dataclass
class Truth:
    """Vertebra z ranges (slice-centre extent +- half a slice) and centroids from the label file (mm)."""

    ranges: dict[str, tuple[float, float]]
    centroids: dict[str, float]


def truth(vol: Volume, lab: Volume) -> Truth:
    ranges, cents = {}, {}
    half = (vol.spacing_mm.slice or 0.0) / 2
    for v, name in LABELS.items():
        m = np.asarray(lab.hu) == v
        ks = np.nonzero(m.any(axis=(1, 2)))[0]
        ranges[name] = (float(vol.z_mm[ks[0]] - half), float(vol.z_mm[ks[-1]] + half))
        counts = m.sum(axis=(1, 2))
        cents[name] = float(np.sum(counts * vol.z_mm) / counts.sum())
    return Truth(ranges, cents)


def resample(vol: Volume, slice_mm: float) -> Volume:
    n = vol.n_slices
    n_new = int(round((n - 1) * vol.spacing_mm.slice / slice_mm)) + 1  # type: ignore[operator]
    hu = ndi.zoom(np.asarray(vol.hu, np.float32), ((n_new - 1) / (n - 1), 1, 1), order=1)
    aff = np.array(vol.affine, copy=True)
    aff[:3, 0] = vol.affine[:3, 0] * (n - 1) / (n_new - 1)
    return Volume.from_canonical(hu=np.round(hu).astype(np.int16), affine=aff)


def reversed_copy(path: Path, tmp: Path) -> Volume:
    img = nib.load(str(path))
    data = np.asanyarray(img.dataobj)[:, :, ::-1]
    aff = img.affine.copy()
    aff[:3, 3] = img.affine[:3, 3] + (data.shape[2] - 1) * img.affine[:3, 2]
    aff[:3, 2] = -img.affine[:3, 2]
    out = tmp / "reversed.nii.gz"
    nib.save(nib.Nifti1Image(data, aff), str(out))
    return load(out)


def variants(tmp: Path) -> dict[str, Volume]:
    vol = load(DATA / "example_ct.nii.gz")
    return {
        "original (3 mm)": vol,
        "sacrum removed (k >= 53)": vol.select(slice(53, None)),
        "thorax above L1 removed (k <= 95)": vol.select(slice(0, 96)),
        "resampled 1.5 mm": resample(vol, 1.5),
        "resampled 5 mm": resample(vol, 5.0),
        "stored reversed": reversed_copy(DATA / "example_ct.nii.gz", tmp),
    }


def row(name: str, res: L3Result, t: Truth) -> str:
    lo, hi = t.ranges["L3"]
    inside = lo <= res.z_mm <= hi
    err = res.z_mm - t.centroids["L3"]
    return (
        f"| {name} | {res.index} | {res.z_mm:.1f} | {'yes' if inside else 'NO'} | {err:+.1f} | "
        f"{res.confidence:.2f} | {'; '.join(res.warnings) or '-'} |"
    )


def main() -> int:
    vol = load(DATA / "example_ct.nii.gz")
    t = truth(vol, load_mask(DATA / "example_ct_vertebrae.nii.gz"))
    print(f"L3 label z {t.ranges['L3'][0]:.1f}..{t.ranges['L3'][1]:.1f} mm, centroid {t.centroids['L3']:.1f} mm")
    print("| variant | index | z mm | inside L3 | error vs centroid mm | confidence | warnings |")
    print("|---|---|---|---|---|---|---|")
    base = None
    with tempfile.TemporaryDirectory() as d:
        for name, v in variants(Path(d)).items():
            try:
                res = find_l3(v)
            except Exception as exc:  # report, do not hide
                print(f"| {name} | - | - | - | - | - | {type(exc).__name__}: {exc} |")
                continue
            base = base or res
            print(row(name, res, t))
    if base is not None:
        print("\n| level | label centroid z mm | found centre z mm | error mm |\n|---|---|---|---|")
        for name in ("L1", "L2", "L3", "L4", "L5"):
            found = [lv for lv in base.levels if lv.label == name]
            if found:
                e = found[0].z_mid_mm - t.centroids[name]
                print(f"| {name} | {t.centroids[name]:.1f} | {found[0].z_mid_mm:.1f} | {e:+.1f} |")
            else:
                print(f"| {name} | {t.centroids[name]:.1f} | not found | - |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
