"""One-page PDF report of a case (reportlab): image, numbers, cited classification, confidence, provenance."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sarco_core import __version__, cutoffs
from sarco_core.errors import SarcoError

if TYPE_CHECKING:
    from sarco_core.store.records import AnalysisRecord, CaseRecord, MaskVersionRecord

RESEARCH_ONLY = "For research use only - not for clinical diagnosis."


def _f(v: float | None, fmt: str = ".1f", unit: str = "") -> str:
    return "not available" if v is None else f"{v:{fmt}}{unit}"


def plain_flag(flag: str) -> str:
    """A QC flag as a plain sentence fragment ("low_confidence" -> "Low confidence"); the anatomy-rule flags in
    the words the app uses (:data:`sarco_core.segment.anatomy_rules.FLAG_WORDS`, without the final full stop)."""
    from sarco_core.segment.anatomy_rules import FLAG_WORDS

    if flag in FLAG_WORDS:
        return FLAG_WORDS[flag].rstrip(".")
    s = str(flag).replace("_", " ").replace("-", " ").strip()
    return s[:1].upper() + s[1:]


def quality_lines(qc_flags: list[str] | tuple[str, ...] | None) -> list[str]:
    """The "Check: ..." lines of the mask / level flags, then the acquisition caveats as notes (they qualify the
    number, not the mask: :func:`sarco_core.analyze.split_flags`)."""
    from sarco_core.analyze import split_flags

    flags, notes = split_flags(list(qc_flags or ()))
    lines = [f"Check: {plain_flag(f)}." for f in flags] or ["No quality-control flags were raised."]
    return lines + [f"Note on the acquisition: {plain_flag(f)}." for f in notes]


def confidence_words(conf: float | None) -> str:
    if conf is None:
        return "Confidence not reported by the method."
    level = "high" if conf >= 0.8 else ("moderate - check the outline" if conf >= 0.5 else "low - review the mask")
    return f"Segmentation confidence {conf * 100:.0f} % ({level})."


def classification_lines(case: CaseRecord, analysis: AnalysisRecord | None, sma_cm2: float,
                         muscle_hu: float | None) -> list[str]:
    """Plain sentences: SMI result with rule, threshold and citation."""
    rule_key = (analysis.rule if analysis and analysis.rule else None) or cutoffs.DEFAULT_RULE
    try:
        _, rule = cutoffs.get_rule(rule_key)
        a = cutoffs.assess(sma_cm2=sma_cm2, muscle_hu=muscle_hu, sex=case.sex, height_m=case.height_m,
                           weight_kg=case.weight_kg, rule=rule_key)
        smi, cl = a.smi_cm2_m2, a.classification
    except SarcoError as exc:
        return [f"Classification not possible: {exc}"]
    out = []
    c = cl.low_smi
    if c.value is None:
        out.append(f"Low SMI (CT-defined): {c.note} - rule {rule.name}.")
    else:
        verdict = "LOW SMI (CT-defined)" if c.value else "SMI not low (CT-defined)"
        out.append(f"{verdict}: SMI {_f(smi)} cm2/m2 vs threshold {c.threshold:g} cm2/m2 ({rule.name}).")
    h = cl.low_muscle_hu
    if h.value is not None:
        verdict = "Low muscle attenuation" if h.value else "Muscle attenuation not low"
        out.append(f"{verdict}: {_f(muscle_hu)} HU vs threshold {h.threshold:g} HU ({rule.name}).")
    out.append(f"Rule: {rule.name} - {rule.population}.")
    out.append(f"Citation: {rule.citation}")
    return out


def report_pdf(
    path: str | Path | None = None, *, case: CaseRecord, analysis: AnalysisRecord | None,
    version: MaskVersionRecord, overlay_png: bytes | None, edited: bool | None = None,
) -> bytes:
    """Write the one-page report; returns the PDF bytes (also written to ``path`` when given)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, invariant=1, pageCompression=0)  # text stays searchable
    pdf.setTitle(f"L3 body composition - case {case.label}")
    pdf.setAuthor(f"sarco {__version__}")
    width, height = A4
    x0, y = 18 * mm, height - 20 * mm
    pdf.setFont("Helvetica-Bold", 15)
    pdf.drawString(x0, y, f"L3 body composition - case {case.label}")
    pdf.setFont("Helvetica-Bold", 9)
    pdf.setFillColorRGB(0.7, 0, 0)
    pdf.drawString(x0, y - 6 * mm, RESEARCH_ONLY)
    pdf.setFillColorRGB(0, 0, 0)
    y -= 12 * mm
    img_w = 85 * mm
    if overlay_png:
        ir = ImageReader(io.BytesIO(overlay_png))
        iw, ih = ir.getSize()
        img_h = img_w * ih / iw
        pdf.drawImage(ir, x0, y - img_h, width=img_w, height=img_h)
    else:
        img_h = 0
    # numbers beside the image
    tx = x0 + img_w + 8 * mm
    smi = cutoffs.smi_cm2_m2(version.sma_cm2, case.height_m)
    lines = [
        ("Skeletal muscle area (SMA)", _f(version.sma_cm2, ".1f", " cm2")),
        ("Skeletal muscle index (SMI)",
         _f(smi, ".1f", " cm2/m2") if smi is not None else cutoffs.smi_missing_reason(version.sma_cm2, case.height_m)),
        ("Muscle attenuation", _f(version.muscle_hu_mean, ".1f", " HU")),
        ("IMAT", _f(version.imat_cm2, ".1f", " cm2")),
        ("SAT", _f(version.sat_cm2, ".1f", " cm2")),
        ("VAT", _f(version.vat_cm2, ".1f", " cm2")),
        ("Slice", f"{version.slice_index}" + (f" (z {version.z_mm:.1f} mm)" if version.z_mm is not None else "")),
        ("Sex / height / weight", f"{case.sex or '-'} / {_f(case.height_m, '.2f', ' m')} / "
                                  f"{_f(case.weight_kg, '.0f', ' kg')}"),
    ]
    ty = y - 4 * mm
    for k, v in lines:
        pdf.setFont("Helvetica", 9)
        pdf.drawString(tx, ty, k)
        pdf.setFont("Helvetica-Bold", 10)
        pdf.drawString(tx, ty - 4.2 * mm, v)
        ty -= 10 * mm
    y = min(y - img_h, ty) - 6 * mm
    is_edited = edited if edited is not None else version.source != "auto"
    prov = []
    if analysis is not None:
        model = " ".join(p for p in (analysis.model_name, analysis.model_version) if p) or "none"
        sha = f" (sha256 {analysis.model_sha256[:12]})" if analysis.model_sha256 else ""
        prov.append(f"Method: {analysis.method or 'unknown'}; model: {model}{sha}; software sarco "
                    f"{analysis.software_version}.")
        gates = analysis.hu_gates.get("muscle", [-29, 150])
        l3_any = analysis.result.get("l3")
        l3: dict[str, Any] = l3_any if isinstance(l3_any, dict) else {}
        if analysis.l3_overridden:
            how = "chosen by a user (the automatic detection was overridden)."
        elif l3.get("method") == "user-selected":
            how = "given by the user (single slice or manual choice)."
        else:
            how = f"found automatically ({l3.get('method') or 'L3 detection'})."
        prov.append(f"SMA = muscle mask within {gates[0]:g}..{gates[1]:g} HU. L3 slice {how}")
    prov.append(
        f"Mask: version {version.number} by {version.author}, {version.created_at:%Y-%m-%d %H:%M} UTC - "
        + (f"EDITED ({version.source})." if is_edited else "automatic, not edited.")
    )
    sections = [
        ("Classification", classification_lines(case, analysis, version.sma_cm2, version.muscle_hu_mean)),
        ("Quality", [confidence_words(analysis.confidence if analysis else None)]
         + quality_lines(analysis.qc_flags if analysis else None)),
        ("Provenance", prov),
    ]
    for title, body in sections:
        pdf.setFont("Helvetica-Bold", 11)
        pdf.drawString(x0, y, title)
        y -= 5 * mm
        pdf.setFont("Helvetica", 9)
        for line in body:
            for chunk in _wrap(line, 110):
                pdf.drawString(x0, y, chunk)
                y -= 4.3 * mm
        y -= 3 * mm
    pdf.setFont("Helvetica-Oblique", 8)
    pdf.drawString(x0, 15 * mm, f"{RESEARCH_ONLY} Generated by sarco {__version__}.")
    pdf.drawString(x0, 11 * mm, "Areas are HU-gated; the classification uses the published CT cutoffs named above.")
    pdf.showPage()
    pdf.save()
    data = buf.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


def _wrap(text: str, width: int) -> list[str]:
    words, lines, cur = text.split(), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    return lines + ([cur] if cur else [])
