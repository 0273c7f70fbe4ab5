"""``sarco validate`` outputs: ``cases.csv`` (one row per case), ``summary.json`` and a self-contained
``report.html`` (plotly figures with plotly.js inlined, overlays as inline PNG; nothing is fetched)."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sarco_core.jsonsafe import json_safe
from sarco_core.validate.compare import CaseComparison, ValidationReport


@dataclass(frozen=True)
class ReportFiles:
    csv: Path
    json: Path
    html: Path


def overlay_png(hu: np.ndarray, reference: np.ndarray, model: np.ndarray, max_px: int = 256) -> bytes:
    """A PNG of the slice (window −200..250 HU) with the expert muscle outline in green and the model's in red."""
    from PIL import Image

    step = max(1, int(math.ceil(max(hu.shape) / max_px)))
    g = np.clip((hu[::step, ::step] + 200.0) / 450.0, 0, 1)
    rgb = np.repeat((g * 255).astype(np.uint8)[..., None], 3, axis=2)

    def edge(m: np.ndarray) -> npt.NDArray[np.bool_]:
        m = np.asarray(m, bool)[::step, ::step]
        inner = m.copy()
        inner[1:] &= m[:-1]
        inner[:-1] &= m[1:]
        inner[:, 1:] &= m[:, :-1]
        inner[:, :-1] &= m[:, 1:]
        outline: npt.NDArray[np.bool_] = m & ~inner
        return outline

    rgb[edge(reference)] = (40, 220, 60)
    rgb[edge(model)] = (235, 40, 40)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def _figures(report: ValidationReport) -> list[str]:
    import plotly.graph_objects as go

    rows = report.cases
    ref = np.array([r.sma_ref_cm2 for r in rows])
    mod = np.array([r.sma_model_cm2 for r in rows])
    names = [r.case_id for r in rows]
    figs = []
    mean, diff = (ref + mod) / 2, mod - ref
    f1 = go.Figure(go.Scatter(x=mean, y=diff, mode="markers", text=names, name="cases"))
    sma = next((a for a in report.agreement if a.quantity == "SMA"), None)
    if sma is not None:
        ba = sma.bland_altman
        for y, label in ((ba.bias, "bias"), (ba.loa_low, "-1.96 SD"), (ba.loa_high, "+1.96 SD")):
            f1.add_hline(y=y, line_dash="dash" if label != "bias" else "solid", annotation_text=f"{label} {y:.1f}")
    f1.update_layout(
        title="Bland-Altman: SMA (model - expert)",
        xaxis_title="mean SMA (cm²)",
        yaxis_title="difference (cm²)",
        height=420,
    )
    figs.append(f1)
    lo, hi = float(min(ref.min(), mod.min())), float(max(ref.max(), mod.max()))
    f2 = go.Figure(
        [
            go.Scatter(x=ref, y=mod, mode="markers", text=names, name="cases"),
            go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="identity"),
        ]
    )
    f2.update_layout(
        title="SMA: model vs expert", xaxis_title="expert SMA (cm²)", yaxis_title="model SMA (cm²)", height=420
    )
    figs.append(f2)
    f3 = go.Figure(go.Histogram(x=[r.dice for r in rows], nbinsx=30))
    f3.update_layout(title="HU-gated muscle Dice per case", xaxis_title="Dice", yaxis_title="cases", height=360)
    figs.append(f3)
    return [f.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, f in enumerate(figs)]


def _fmt(v: Any, p: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.{p}f}"
    return html.escape(str(v))


def _html(report: ValidationReport, overlays: dict[str, bytes]) -> str:
    d = report.to_dict()
    model = d["model"]
    title = f"Validation of {report.method}" + (f" {model['name']} {model['version']}" if model else "")
    ag_rows = "".join(
        f"<tr><td>{a.quantity} ({a.unit})</td><td>{a.n}</td><td>{_fmt(a.reference_mean, 1)}</td>"
        f"<td>{_fmt(a.test_mean, 1)}</td><td>{_fmt(a.bland_altman.bias, 2)}</td>"
        f"<td>{_fmt(a.bland_altman.loa_low, 2)} to {_fmt(a.bland_altman.loa_high, 2)}</td>"
        f"<td>{_fmt(a.icc_2_1)}</td><td>{_fmt(a.lin_ccc)}</td><td>{_fmt(a.mean_abs_pct_error, 1)}</td></tr>"
        for a in report.agreement
    )
    fl = report.flips
    worst = ""
    for r in report.worst():
        img = overlays.get(r.case_id)
        pic = f'<img alt="overlay" src="data:image/png;base64,{base64.b64encode(img).decode()}">' if img else ""
        worst += (
            f"<div class='case'>{pic}<p>{html.escape(r.case_id)}: Dice {r.dice:.3f}, SMA expert "
            f"{r.sma_ref_cm2:.1f} / model {r.sma_model_cm2:.1f} cm²</p></div>"
        )
    figs = "".join(f"<div>{f}</div>" for f in _figures(report))
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #bbb;padding:3px 8px}}.case{{display:inline-block;margin:4px;width:260px}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>{d["n_cases"]} cases ({d["n_patients"]} patients); muscle gated at −29..150 HU (Alberta protocol).
Classification: {html.escape(d["rule_citation"])}.</p>
<h2>Segmentation agreement</h2><table><tr><th></th><th>median</th><th>mean</th><th>min / max</th></tr>
<tr><td>Dice (HU-gated)</td><td>{_fmt(report.dice.median)}</td><td>{_fmt(report.dice.mean)}</td>
<td>{_fmt(report.dice.min)}</td></tr>
<tr><td>Dice (raw)</td><td>{_fmt(report.dice_raw.median)}</td><td>{_fmt(report.dice_raw.mean)}</td>
<td>{_fmt(report.dice_raw.min)}</td></tr>
<tr><td>|SMA error| %</td><td>{_fmt(report.sma_abs_error_pct.median, 1)}</td>
<td>{_fmt(report.sma_abs_error_pct.mean, 1)}</td><td>{_fmt(report.sma_abs_error_pct.max, 1)}</td></tr></table>
<h2>Measurement agreement</h2><table><tr><th>quantity</th><th>n</th><th>expert mean</th><th>model mean</th>
<th>bias</th><th>95% limits</th><th>ICC(2,1)</th><th>Lin CCC</th><th>mean |%| error</th></tr>{ag_rows}</table>
<p>Low-SMI call flips: {fl.n_flipped} of {fl.n_classified} classified cases
({_fmt(None if fl.share_flipped is None else fl.share_flipped * 100, 1)} %); low by expert {fl.low_ref},
by model {fl.low_model}. Cases without height or sex are not classified.</p>
{figs}<h2>Worst cases (expert green, model red)</h2>{worst}
<p>Bland &amp; Altman, Lancet 1986; Shrout &amp; Fleiss, Psychol Bull 1979; Lin, Biometrics 1989.</p>
</body></html>"""


def write_report(
    report: ValidationReport, out_dir: str | Path, *, overlays: dict[str, bytes] | None = None
) -> ReportFiles:
    """Write cases.csv, summary.json and report.html into ``out_dir`` (created)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = [r.to_dict() for r in report.cases]
    cpath = out / "cases.csv"
    with cpath.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["case_id"])
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if v is None else v for k, v in r.items()})
    jpath = out / "summary.json"
    jpath.write_text(json.dumps(json_safe(report.to_dict()), indent=2, allow_nan=False))
    hpath = out / "report.html"
    hpath.write_text(_html(report, overlays or {}), encoding="utf-8")
    return ReportFiles(csv=cpath, json=jpath, html=hpath)


def case_row(r: CaseComparison) -> str:
    """One line of the CLI table."""
    e = "-" if r.sma_error_pct is None else f"{r.sma_error_pct:+.1f}"
    return f"{r.case_id:>16} {r.dice:7.3f} {r.sma_ref_cm2:9.1f} {r.sma_model_cm2:9.1f} {e:>7}"
