"""Bulk import: a manifest CSV (or a folder of DICOM + TAG pairs) -> one :class:`ImportOutcome` per row.

Manifest columns (header names are case-insensitive): ``case_id``, ``image`` (CT: DICOM file/folder/zip or
NIfTI), ``mask``; optional ``format`` (tag, nifti, seg, png; default from the file), ``slice`` (canonical
index, 0 = most inferior; needed only when the mask does not tell), ``height_m``, ``weight_kg``, ``sex``.
Relative paths are relative to the manifest's folder. A bad row is reported and never stops the others.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sarco_core.errors import InputNotFoundError, InvalidMaskError, ManifestError, SarcoError
from sarco_core.masks.cases import dicom_for_tag, import_case, patient_info
from sarco_core.masks.records import ImportOutcome, ImportReport, MaskFormat, RowStatus, ValueMap

REQUIRED = ("case_id", "mask")
ALIASES = {
    "case": "case_id",
    "id": "case_id",
    "ct": "image",
    "ct_path": "image",
    "image_path": "image",
    "mask_path": "mask",
    "slice_index": "slice",
    "height": "height_m",
    "weight": "weight_kg",
}


@dataclass(frozen=True)
class ManifestRow:
    """One manifest line as written (paths resolved against the manifest folder)."""

    row: int
    case_id: str
    image: str
    mask: str
    format: str = ""
    slice: str = ""
    height_m: str = ""
    weight_kg: str = ""
    sex: str = ""


def _resolve(base: Path, text: str) -> str:
    t = (text or "").strip()
    if not t:
        return ""
    p = Path(t).expanduser()
    return str(p if p.is_absolute() else base / p)


def read_manifest(path: str | Path, *, base: str | Path | None = None) -> list[ManifestRow]:
    """The rows of a manifest CSV; relative paths resolve against ``base`` (default: the manifest's folder)."""
    p = Path(path)
    if not p.is_file():
        raise InputNotFoundError(f"The manifest {p} does not exist. Check the path.")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ManifestError(f"The manifest {p.name} is not UTF-8 text; save it as CSV (UTF-8).") from None
    reader = csv.DictReader(text.splitlines())
    cols = {c: ALIASES.get(c.strip().lower(), c.strip().lower()) for c in (reader.fieldnames or [])}
    missing = [c for c in REQUIRED if c not in cols.values()]
    if missing:
        raise ManifestError(
            f"The manifest {p.name} lacks the column(s) {', '.join(missing)} (it has {', '.join(cols) or 'none'}). "
            "Columns: case_id, image, mask, and optionally format, slice, height_m, weight_kg, sex."
        )
    root = Path(base) if base is not None else p.parent
    rows = []
    for n, raw in enumerate(reader, start=1):
        d = {cols[k]: (v or "").strip() for k, v in raw.items() if k in cols}
        if not any(d.values()):
            continue
        rows.append(
            ManifestRow(
                row=n,
                case_id=d.get("case_id", ""),
                image=_resolve(root, d.get("image", "")),
                mask=_resolve(root, d.get("mask", "")),
                format=d.get("format", ""),
                slice=d.get("slice", ""),
                height_m=d.get("height_m", ""),
                weight_kg=d.get("weight_kg", ""),
                sex=d.get("sex", ""),
            )
        )
    return rows


def scan_folder(folder: str | Path) -> list[ManifestRow]:
    """Rows for every ``*.tag`` under ``folder`` with its DICOM beside it by name (case id = file name stem)."""
    root = Path(folder)
    if not root.is_dir():
        raise InputNotFoundError(f"The folder {root} does not exist. Check the path.")
    rows = []
    tags = sorted(p for p in root.rglob("*") if p.is_file() and p.name.lower().endswith(".tag"))
    for n, t in enumerate(tags, start=1):
        dcm = dicom_for_tag(t)
        stem = t.name[:-4]
        stem = stem[:-4] if stem.lower().endswith(".dcm") else stem
        case = str(t.parent.relative_to(root) / stem) if t.parent != root else stem
        rows.append(
            ManifestRow(row=n, case_id=case.replace("/", "_"), image=str(dcm) if dcm else "", mask=str(t), format="tag")
        )
    if not rows:
        raise InputNotFoundError(
            f"No .tag files were found under {root}. Put each Slice-O-Matic X.dcm.tag beside its X.dcm, or "
            "import with a manifest (--manifest) for NIfTI, DICOM-SEG or PNG masks."
        )
    return rows


def _slice(text: str) -> int | None:
    if not text.strip():
        return None
    try:
        return int(float(text))
    except ValueError:
        raise InvalidMaskError(
            f"The slice {text!r} is not a whole number (canonical index, 0 = most inferior)."
        ) from None


def import_row(
    row: ManifestRow,
    *,
    tag_map: ValueMap | None = None,
    png_map: ValueMap | None = None,
    nifti_map: ValueMap | None = None,
) -> ImportOutcome:
    """Import one row; every problem becomes an error outcome with its reason."""
    fmt: MaskFormat | None = None
    try:
        if not row.case_id:
            raise InvalidMaskError("The row has no case_id; give every case a code (never a patient name or ID).")
        if not row.mask:
            raise InvalidMaskError("The row names no mask file.")
        fmt = MaskFormat.parse(row.format) if row.format else None
        patient = patient_info(row.height_m, row.weight_kg, row.sex)
        fmt_known = fmt or MaskFormat.from_name(row.mask)
        vmap = (
            {MaskFormat.TAG: tag_map, MaskFormat.PNG: png_map, MaskFormat.NIFTI: nifti_map}.get(fmt_known)
            if fmt_known
            else None
        )
        case = import_case(
            row.mask,
            row.image or None,
            case_id=row.case_id,
            fmt=fmt,
            slice_index=_slice(row.slice),
            value_map=vmap,
            patient=patient,
        )
        return ImportOutcome(row=row.row, case_id=row.case_id, status=RowStatus.OK, case=case, format=case.mask.format)
    except SarcoError as exc:
        return ImportOutcome(row=row.row, case_id=row.case_id, status=RowStatus.ERROR, reason=str(exc), format=fmt)
    except Exception as exc:  # one unexpected failure never stops the other rows
        return ImportOutcome(
            row=row.row,
            case_id=row.case_id,
            status=RowStatus.ERROR,
            format=fmt,
            reason=f"unexpected error ({type(exc).__name__}: {exc}); please report this file.",
        )


def import_rows(
    rows: Iterable[ManifestRow],
    *,
    tag_map: ValueMap | None = None,
    png_map: ValueMap | None = None,
    nifti_map: ValueMap | None = None,
    progress: Callable[[ImportOutcome], None] | None = None,
) -> ImportReport:
    """Import every row (a repeated case_id is refused on its later rows)."""
    seen: set[str] = set()
    out = []
    for r in rows:
        if r.case_id and r.case_id in seen:
            o = ImportOutcome(
                row=r.row,
                case_id=r.case_id,
                status=RowStatus.ERROR,
                reason=f"case_id {r.case_id!r} appears on an earlier row; give each case one row.",
            )
        else:
            o = import_row(r, tag_map=tag_map, png_map=png_map, nifti_map=nifti_map)
            seen.add(r.case_id)
        out.append(o)
        if progress is not None:
            progress(o)
    return ImportReport(outcomes=tuple(out))


def import_manifest(path: str | Path, **maps: ValueMap | None) -> ImportReport:
    """:func:`read_manifest` then :func:`import_rows`."""
    return import_rows(read_manifest(path), **maps)  # type: ignore[arg-type]
