"""Disc detection of ``sarco_core.l3`` on real spines: the COVID sagittal reformats (development data).

A midline sagittal reformat is turned into a pseudo-volume (each image row becomes an axial slice, the row
replicated +-60 mm to the sides), so the vertebral-body locator and the disc finder run on real bone, discs and
endplates (no ribs or pelvis beside the spine: only the disc sequence is meaningful). ``python
validation/l3_sagittal.py [OUT_DIR]`` prints the detected disc rows (image rows, 0 = top) and disc-to-disc
distances per reformat, and with OUT_DIR writes PNGs (bone window) with the discs in red and the body centre in
green, to compare with the vertebrae counted by eye (docs/l3.md, "Real spines"). Reformats with a hand count in
``l3_sagittal_ref.json`` are scored: per reference disc the error to the nearest detected disc (a hit when <= 8 mm),
and detected discs inside the counted span (+-10 mm) that match no reference disc (spurious).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pydicom

from sarco_core.l3 import levels as lv
from sarco_core.l3.spine import reduce, spine_features
from sarco_core.volume import Volume

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tcia_covid19_ny_sbu"
HALF_WIDTH_MM = 60.0
REF = Path(__file__).resolve().parent / "l3_sagittal_ref.json"
HIT_MM = 8.0


def pseudo_volume(path: Path) -> tuple[Volume, np.ndarray, float]:
    """(volume, sagittal HU image, pixel mm); canonical k = image row counted from the bottom."""
    d = pydicom.dcmread(str(path))
    img = d.pixel_array.astype(np.float32) * float(d.get("RescaleSlope", 1)) + float(d.get("RescaleIntercept", 0))
    img = np.maximum(img, -1024.0)
    px = float(d.PixelSpacing[0])
    n = int(HALF_WIDTH_MM / px)
    hu = np.repeat(img[::-1, :, None], 2 * n + 1, axis=2)
    return Volume.from_array(hu=hu.astype(np.int16), spacing_mm=(px, px, px)), img, px


def disc_rows(path: Path) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """Detected disc rows (ascending image row), body centre per row (columns; NaN where not found), pixel mm,
    and the image."""
    vol, img, px = pseudo_volume(path)
    g = reduce(vol.hu, vol.z_mm, px, px, px)
    f = spine_features(g)
    discs, _ = lv.find_discs(f)
    nrow = img.shape[0]
    rows = np.sort(nrow - 1 - (discs - float(vol.z_mm[0])) / px)
    centre = np.full(nrow, np.nan)
    for j in range(f.z_mm.size):
        if f.found[j]:
            r = int(round(nrow - 1 - (f.z_mm[j] - float(vol.z_mm[0])) / px))
            centre[min(max(r, 0), nrow - 1)] = f.body_row[j] * g.row_mm / px
    return rows, centre, px, img


def score(rows: np.ndarray, ref: dict[str, int], px: float) -> tuple[list[float | None], int]:
    """Signed error (mm, + = detected lower in the image) per reference disc (None: no detection within HIT_MM),
    and the number of spurious detections inside the counted span."""
    rr = np.array(list(ref.values()), float)
    errs: list[float | None] = []
    for r in rr:
        d = float(rows[np.argmin(np.abs(rows - r))] - r) * px if rows.size else np.inf
        errs.append(d if abs(d) <= HIT_MM else None)
    span = rows[(rows > rr.min() - 10.0 / px) & (rows < rr.max() + 10.0 / px)]
    spurious = sum(1 for r in span if np.min(np.abs(rr - r)) * px > HIT_MM)
    return errs, spurious


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    refs = json.loads(REF.read_text())["discs"]
    all_err: list[float] = []
    n_ref = n_spur = 0
    for p in sorted(DATA.glob("*/sagittal/*.dcm")):
        rows, centre, px, img = disc_rows(p)
        name = f"{p.parts[-3]}/{p.stem}"
        gaps = np.diff(rows) * px
        print(f"{name}: disc rows {np.round(rows).astype(int).tolist()} gaps mm {np.round(gaps).astype(int).tolist()}")
        if name in refs:
            errs, spur = score(rows, refs[name], px)
            n_ref += len(errs)
            n_spur += spur
            all_err += [abs(e) for e in errs if e is not None]
            pairs = zip(refs[name], errs, strict=True)
            shown = ", ".join(f"{k} {'missed' if e is None else f'{e:+.0f}'}" for k, e in pairs)
            print(f"    vs hand count (mm): {shown}; spurious {spur}")
        if out is not None:
            from PIL import Image, ImageDraw

            out.mkdir(parents=True, exist_ok=True)
            g8 = np.clip((img + 250.0) / 1250.0 * 255.0, 0, 255).astype(np.uint8)
            im = Image.fromarray(g8).convert("RGB")
            dr = ImageDraw.Draw(im)
            for r in rows:
                dr.line([(0, r), (im.width - 1, r)], fill=(255, 0, 0))
            for r in np.nonzero(np.isfinite(centre))[0]:
                dr.point((float(centre[r]), float(r)), fill=(0, 255, 0))
            im.save(out / f"{p.parts[-3]}_{p.stem}.png")
    if n_ref:
        print(
            f"== hand-counted discs found within {HIT_MM:.0f} mm: {len(all_err)}/{n_ref}, median |error| "
            f"{float(np.median(all_err)):.1f} mm, spurious discs inside the counted spans: {n_spur}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
