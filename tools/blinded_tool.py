"""Blinded reference tool: muscle masks drawn from the IMAGE ALONE (never from a teacher / model mask).

Workflow per slice (``NAME`` from :data:`validation.reviewed.SLICES`, pass ``P`` = 1, 2, ...)::

    python -m tools.blinded_tool render NAME [--pass P] [--box r0 r1 c0 c1] [--zoom Z]
        # -> /tmp/blinded_renders/NAME_pP.png: W400/L40 | W160/L50 | HU-gated components with ids + a row/col grid
    # write validation/reviewed/blinded/passP/NAME.json (the selection; see below), render again, repeat
    python -m tools.blinded_tool build NAME [--pass P]    # selection -> mask (in memory) + its figures
    python -m tools.blinded_tool compare [--pass P] [--json OUT]
        # the pass against the earlier reviewed set (and the stored v1 model / a4b5dbf teacher candidates)
    python -m tools.blinded_tool compare-passes [--a 1] [--b 2] [--json OUT]
        # reader variability: pass b against pass a (tools/blinded_passes.py)

What the reader sees is the CT only: two windows and the connected components of the HU-gated soft tissue of the
trunk (−29..150 HU on a 3×3 median-filtered slice, inside the body outline of :func:`find_body`, bone enclosed
by cortex, the vertebral body and the spinal canal taken out), split at thin
bridges by an opening of ``open_mm`` and by the reader's ``cuts``, numbered by size (1 = largest). Nothing in the
builder (tools/blinded_build.py) reads the reviewed masks, the candidates or a segmenter; only ``compare``
(tools/blinded_compare.py) does, after the selection. Images: tools/blinded_render.py.

Selection file (JSON, a few hundred bytes: the data are never copied)::

    {"name": NAME, "pass": 1, "date": "YYYY-MM-DD", "reader": "...", "convention": "docs/convention.md",
     "open_mm": 1.0,                       # bridges narrower than ~2 x this split components
     "smooth_mm": 0,                       # optional: gate a Gaussian-smoothed slice (sigma mm; low-dose noise)
     "cuts": [[[r, c], [r, c], ...], ...], # polylines (native row, col) drawn as 2-px barriers before numbering
     "keep": [ids],                        # components that are skeletal muscle (docs/convention.md)
     "max_depth": [{"ids": [ids], "mm": 9, "poly": [[r, c], ...]}],   # optional: inside poly, pixels of these
                                           # components deeper than mm under the outer surface of the muscle ring
                                           # are dropped - a wall band of the thickness seen where its inner
                                           # boundary is visible, where an organ of the same density lies against it
     "remove": [[[r, c], ...], ...],       # polygons removed from the result (e.g. skin, crus), optional
     "add": [[[r, c], ...], ...],          # polygons whose gated pixels are added, optional
     "notes": ["..."]}

The mask is the chosen components grown back over the pixels the opening took (every gated pixel goes to its nearest
component; a pixel of a chosen one is kept), holes ≤ 1 cm² of out-of-gate pixels filled (a compartment, like the
reviewed set; the gated area is unchanged), polygons applied. It is rebuilt the same from the JSON every time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from tools.blinded_build import build, read_selection, selection_path
from tools.blinded_compare import compare
from tools.blinded_render import render
from validation.reviewed import SLICES, in_muscle_gate, load_slice


def export(pass_no: int, out: Path) -> Path:
    """Every mask of a pass as a 1-bit PNG in ``out`` plus ``out/index.json`` (what ``data.reference_dir`` of a
    training config reads: :func:`sarco_core.train.data.load_references`). Built data: keep it out of git."""
    from validation.reviewed import write_mask

    entries = []
    for name in SLICES:
        if not selection_path(name, pass_no).is_file():
            continue
        hu, row_mm, col_mm = load_slice(name)
        write_mask(out / f"{name}.png", build(hu, row_mm, col_mm, read_selection(name, pass_no)))
        rel, k = SLICES[name]
        entries.append({"name": name, "ct": rel, "k": k, "mask": f"{name}.png", "row_mm": row_mm, "col_mm": col_mm})
    idx = out / "index.json"
    idx.write_text(json.dumps({"pass": pass_no, "slices": entries}, indent=1) + "\n")
    return idx


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.blinded_tool", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for c in ("render", "build"):
        s = sub.add_parser(c)
        s.add_argument("name", choices=list(SLICES))
        s.add_argument("--pass", dest="pass_no", type=int, default=1)
        s.add_argument("--box", type=int, nargs=4, default=None)
        s.add_argument("--zoom", type=int, default=2)
    s = sub.add_parser("compare")
    s.add_argument("--pass", dest="pass_no", type=int, default=1)
    s.add_argument("--json", default=None)
    s.add_argument(
        "--run",
        nargs="*",
        default=[],
        choices=["model", "teacher", "threshold"],
        help="also run these current segmenters on the slices (after the pass is fixed)",
    )
    s = sub.add_parser("export", help="masks of a pass as 1-bit PNGs + index.json (data.reference_dir of training)")
    s.add_argument("--pass", dest="pass_no", type=int, default=1)
    s.add_argument("--out", required=True)
    s = sub.add_parser("compare-passes", help="reader variability: pass b vs pass a (Dice, SMA %, per region)")
    s.add_argument("--a", type=int, default=1)
    s.add_argument("--b", type=int, default=2)
    s.add_argument("--json", default=None)
    s = sub.add_parser("new")
    s.add_argument("name", choices=list(SLICES))
    s.add_argument("--pass", dest="pass_no", type=int, default=1)
    s.add_argument("--reader", default="developer")
    a = ap.parse_args(argv)
    if a.cmd == "render":
        print(render(a.name, a.pass_no, tuple(a.box) if a.box else None, a.zoom, final=False))
    elif a.cmd == "build":
        hu, row_mm, col_mm = load_slice(a.name)
        m = build(hu, row_mm, col_mm, read_selection(a.name, a.pass_no))
        print(f"{a.name}: gated SMA {float((m & in_muscle_gate(hu)).sum()) * row_mm * col_mm / 100:.1f} cm2")
        print(render(a.name, a.pass_no, tuple(a.box) if a.box else None, a.zoom, final=True))
    elif a.cmd == "export":
        print(export(a.pass_no, Path(a.out)))
    elif a.cmd == "compare-passes":
        from tools.blinded_passes import compare_passes, report_lines

        rep = compare_passes(a.a, a.b)
        print("\n".join(report_lines(rep)))
        if a.json:
            Path(a.json).write_text(json.dumps(rep, indent=1) + "\n")
    elif a.cmd == "new":
        p = selection_path(a.name, a.pass_no)
        if p.exists():
            print(f"{p} exists: not overwritten", file=sys.stderr)
            return 2
        p.parent.mkdir(parents=True, exist_ok=True)
        sel = {
            "name": a.name,
            "pass": a.pass_no,
            "date": dt.date.today().isoformat(),
            "reader": a.reader,
            "convention": "docs/convention.md",
            "open_mm": 1.0,
            "cuts": [],
            "keep": [],
            "remove": [],
            "add": [],
            "notes": [],
        }
        p.write_text(json.dumps(sel, indent=1) + "\n")
        print(p)
    else:
        rep = compare(a.pass_no, a.run)
        for r in rep["per_slice"]:
            rv = r["reviewed"]
            print(
                f"{r['name']:<28} blinded {r['sma_blinded_cm2']:6.1f}  reviewed {rv['sma_cm2']:6.1f} "
                f"({rv['diff_pct']:+5.1f} %)  Dice {rv['dice']:.3f}"
                + "".join(
                    f"  {k} Dice {r[k]['dice']:.3f} ({r[k]['diff_pct']:+5.1f} %)"
                    for k in ("cand_model", "cand_teacher", *a.run)
                    if k in r
                )
            )
        for k, v in rep["summary"].items():
            print(
                f"{k:<13} vs blinded: median Dice {v['median_dice']:.3f} (min {v['min_dice']:.3f}), median |SMA "
                f"diff| {v['median_abs_diff_pct']:.1f} % (signed {v['median_signed_diff_pct']:+.1f} %)"
            )
        if a.json:
            Path(a.json).write_text(json.dumps(rep, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
