"""One-page PDF report of a case (reportlab): image, numbers, cited classification, confidence, provenance."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sarco_core import __version__, cutoffs
from sarco_core.errors import SarcoError
from sarco_core.flags import acquisition_notes, case_warnings, l3_choice_words

if TYPE_CHECKING:
    from sarco_core.store.records import AnalysisRecord, CaseRecord, MaskVersionRecord

RESEARCH_ONLY = "For research use only - not for clinical diagnosis."


def _f(v: float | None, fmt: str = ".1f", unit: str = "") -> str:
    return "not available" if v is None else f"{v:{fmt}}{unit}"


CM2 = "cm\u00b2"  # typeset units (the PDF's standard fonts carry the superscript two)
CM2_M2 = "cm\u00b2/m\u00b2"


def confidence_words(conf: float | None) -> str:
    if conf is None:
        return "Confidence not reported by the method."
    level = "high" if conf >= 0.8 else ("moderate - check the outline" if conf >= 0.5 else "low - review the mask")
    return f"Segmentation confidence {conf * 100:.0f} % ({level})."


def classification_lines(case: CaseRecord, analysis: AnalysisRecord | None, version: cutoffs.MeasuredMask) -> list[str]:
    """Plain sentences: SMI result with rule, threshold and citation."""
    rule_key = (analysis.rule if analysis and analysis.rule else None) or cutoffs.DEFAULT_RULE
    try:
        _, rule = cutoffs.get_rule(rule_key)
        a = cutoffs.assess_stored(case, version, rule_key)
        smi, cl = a.smi_cm2_m2, a.classification
    except SarcoError as exc:
        return [f"Classification not possible: {exc}"]
    out = []
    c = cl.low_smi
    if c.value is None:
        out.append(f"Low SMI (CT-defined): {c.note} - rule {rule.name}.")
    else:
        verdict = "LOW SMI (CT-defined)" if c.value else "SMI not low (CT-defined)"
        out.append(f"{verdict}: SMI {_f(smi)} {CM2_M2} vs threshold {c.threshold:g} {CM2_M2} ({rule.name}).")
    h = cl.low_muscle_hu
    if h.value is not None:
        verdict = "Low muscle attenuation" if h.value else "Muscle attenuation not low"
        out.append(f"{verdict}: {_f(version.muscle_hu_mean)} HU vs threshold {h.threshold:g} HU ({rule.name}).")
    out.append(f"Rule: {rule.name} - {rule.population}.")
    out.append(f"Citation: {rule.citation}")
    return out


def _criteria(case: CaseRecord, analysis: AnalysisRecord | None, version: MaskVersionRecord) -> Any:
    rule_key = (analysis.rule if analysis and analysis.rule else None) or cutoffs.DEFAULT_RULE
    try:
        _, rule = cutoffs.get_rule(rule_key)
        cl = cutoffs.assess_stored(case, version, rule_key).classification
    except SarcoError:
        return None, None
    return rule, cl


def _scale(
    pdf: Any,
    x: float,
    y: float,
    w: float,
    title: str,
    value: float | None,
    cutoff: float | None,
    lo: float,
    hi: float,
    unit: str,
    rule_name: str,
) -> None:
    """A horizontal scale lo..hi: the 'low' side left of the rule's cutoff shaded, the patient's value marked."""
    from reportlab.lib.units import mm

    vals = [v for v in (value, cutoff) if v is not None]
    lo = min([lo, *(v - 5 for v in vals)])
    hi = max([hi, *(v + 5 for v in vals)])

    def xp(v: float) -> float:
        return x + (v - lo) / (hi - lo) * w

    bar_h = 3.2 * mm
    pdf.setFont("Helvetica-Bold", 9)
    pdf.drawString(x, y, title)
    yb = y - 6 * mm
    pdf.setStrokeColorRGB(0.4, 0.4, 0.4)
    if cutoff is not None:
        pdf.setFillColorRGB(0.97, 0.80, 0.80)
        pdf.rect(x, yb, xp(cutoff) - x, bar_h, fill=1, stroke=0)
        pdf.setFillColorRGB(0.84, 0.93, 0.84)
        pdf.rect(xp(cutoff), yb, x + w - xp(cutoff), bar_h, fill=1, stroke=0)
        pdf.setStrokeColorRGB(0.6, 0, 0)
        pdf.setLineWidth(1.2)
        pdf.line(xp(cutoff), yb - 1 * mm, xp(cutoff), yb + bar_h + 1 * mm)
        pdf.setFillColorRGB(0.6, 0, 0)
        pdf.setFont("Helvetica", 7)
        pdf.drawCentredString(xp(cutoff), yb - 3.8 * mm, f"cutoff {cutoff:g} {unit} ({rule_name})")
    else:
        pdf.setFillColorRGB(0.9, 0.9, 0.9)
        pdf.rect(x, yb, w, bar_h, fill=1, stroke=0)
        pdf.setFillColorRGB(0.3, 0.3, 0.3)
        pdf.setFont("Helvetica", 7)
        pdf.drawCentredString(x + w / 2, yb - 3.8 * mm, "no cutoff applies (see Classification)")
    pdf.setFillColorRGB(0.35, 0.35, 0.35)
    pdf.setFont("Helvetica", 7)
    pdf.drawString(x, yb + bar_h + 1.2 * mm, f"{lo:g}")
    pdf.drawRightString(x + w, yb + bar_h + 1.2 * mm, f"{hi:g} {unit}")
    if value is not None:
        pdf.setFillColorRGB(0, 0, 0)
        xv = xp(value)
        path = pdf.beginPath()
        path.moveTo(xv, yb + bar_h)
        path.lineTo(xv - 1.6 * mm, yb + bar_h + 2.8 * mm)
        path.lineTo(xv + 1.6 * mm, yb + bar_h + 2.8 * mm)
        path.close()
        pdf.drawPath(path, fill=1, stroke=0)
        pdf.setFont("Helvetica-Bold", 8)
        pdf.drawCentredString(xv, yb + bar_h + 3.6 * mm, f"{value:.1f} {unit}")
    pdf.setFillColorRGB(0, 0, 0)
    pdf.setStrokeColorRGB(0, 0, 0)
    pdf.setLineWidth(1)


def report_pdf(
    path: str | Path | None = None,
    *,
    case: CaseRecord,
    analysis: AnalysisRecord | None,
    version: MaskVersionRecord,
    overlay_png: bytes | None,
    edited: bool | None = None,
    warnings: list[str] | None = None,
    sagittal_png: bytes | None = None,
) -> bytes:
    """Write the one-page report; returns the PDF bytes (also written to ``path`` when given).

    ``warnings``: every warning the app's result card shows (default: the same list, built from the analysis
    with :func:`sarco_core.flags.case_warnings`). ``sagittal_png``: for a volume, the sagittal reformat with
    the detected levels and the measured slice."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    is_edited = edited if edited is not None else version.source != "auto"
    l3_any = analysis.result.get("l3") if analysis is not None else None
    l3: dict[str, Any] = l3_any if isinstance(l3_any, dict) else {}
    if warnings is None:
        warnings = case_warnings(analysis.qc_flags if analysis else (), l3.get("warnings") or (), edited=is_edited)
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
    img_w = 80 * mm
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
        ("Skeletal muscle area (SMA)", _f(version.sma_cm2, ".1f", f" {CM2}")),
        (
            "Skeletal muscle index (SMI)",
            _f(smi, ".1f", f" {CM2_M2}")
            if smi is not None
            else cutoffs.smi_missing_reason(version.sma_cm2, case.height_m),
        ),
        ("Muscle attenuation", _f(version.muscle_hu_mean, ".1f", " HU")),
        ("IMAT / SAT / VAT", f"{_f(version.imat_cm2)} / {_f(version.sat_cm2)} / {_f(version.vat_cm2)} {CM2}"),
        ("Slice", f"{version.slice_index}" + (f" (z {version.z_mm:.1f} mm)" if version.z_mm is not None else "")),
        (
            "Sex / height / weight",
            f"{case.sex or '-'} / {_f(case.height_m, '.2f', ' m')} / {_f(case.weight_kg, '.0f', ' kg')}",
        ),
    ]
    ty = y - 4 * mm
    for k, v in lines:
        pdf.setFont("Helvetica", 9)
        pdf.drawString(tx, ty, k)
        pdf.setFont("Helvetica-Bold", 10)
        pdf.drawString(tx, ty - 4.2 * mm, v)
        ty -= 10 * mm
    y = min(y - img_h, ty) - 6 * mm
    # the patient's SMI and muscle HU on a scale against the rule's cutoffs
    rule, cl = _criteria(case, analysis, version)
    if rule is not None and cl is not None:
        sw = (width - 2 * x0 - 10 * mm) / 2
        _scale(pdf, x0, y, sw, "SMI on the rule's scale", smi, cl.low_smi.threshold, 20.0, 70.0, CM2_M2, rule.name)
        _scale(
            pdf,
            x0 + sw + 10 * mm,
            y,
            sw,
            "Muscle attenuation on the rule's scale",
            version.muscle_hu_mean,
            cl.low_muscle_hu.threshold,
            10.0,
            60.0,
            "HU",
            rule.name,
        )
        y -= 20 * mm
    text_w = width - 2 * x0
    if sagittal_png:
        ir = ImageReader(io.BytesIO(sagittal_png))
        iw, ih = ir.getSize()
        sag_w = 42 * mm
        sag_h = sag_w * ih / iw
        if sag_h > 95 * mm:
            sag_h, sag_w = 95 * mm, 95 * mm * iw / ih
        sx = width - x0 - sag_w
        pdf.drawImage(ir, sx, y - sag_h, width=sag_w, height=sag_h)
        pdf.setFont("Helvetica", 7)
        for i, chunk in enumerate(_wrap("Sagittal view: detected levels; red line = measured slice.", 40)):
            pdf.drawString(sx, y - sag_h - (3.5 + 3 * i) * mm, chunk)
        text_w -= sag_w + 6 * mm
    chars = int(text_w / mm * 0.62)  # Helvetica 9 pt: about 1.6 mm per character
    prov = []
    if analysis is not None:
        model = " ".join(p for p in (analysis.model_name, analysis.model_version) if p) or "none"
        sha = f" (sha256 {analysis.model_sha256[:12]})" if analysis.model_sha256 else ""
        prov.append(
            f"Method: {analysis.method or 'unknown'}; model: {model}{sha}; software sarco {analysis.software_version}."
        )
        gates = analysis.hu_gates.get("muscle", [-29, 150])
        how = l3_choice_words(
            overridden=analysis.l3_overridden,
            auto_index=analysis.l3_auto_index,
            method=l3.get("method"),
            confidence=l3.get("confidence"),
        )
        prov.append(f"SMA = muscle mask within {gates[0]:g}..{gates[1]:g} HU. L3 slice {version.slice_index}: {how}.")
    prov.append(
        f"Mask: version {version.number} by {version.author}, {version.created_at:%Y-%m-%d %H:%M} UTC - "
        + (f"EDITED ({version.source})." if is_edited else "automatic, not edited.")
    )
    quality = [confidence_words(analysis.confidence if analysis else None)]
    quality += [f"Check: {w}" for w in warnings] if warnings else ["No quality-control flags were raised."]
    quality += [f"Note on the acquisition: {w}" for w in acquisition_notes(analysis.qc_flags if analysis else ())]
    sections = [
        ("Classification", classification_lines(case, analysis, version)),
        ("Quality - please check", quality),
        ("Provenance", prov),
    ]
    for title, body in sections:
        pdf.setFont("Helvetica-Bold", 11)
        pdf.drawString(x0, y, title)
        y -= 5 * mm
        pdf.setFont("Helvetica", 9)
        chunks = [c for line in body for c in _wrap(line, chars)]
        for chunk in chunks:
            if y < 22 * mm:  # keep clear of the footer: say so rather than overprint it
                pdf.drawString(x0, y, "(page full: the rest is on the case page of the app)")
                y -= 4.3 * mm
                break
            pdf.drawString(x0, y, chunk)
            y -= 4.3 * mm
        y -= 3 * mm
        if y < 22 * mm:
            break
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
