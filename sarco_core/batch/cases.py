"""The cohort of a batch run: cases found in an input folder, joined with an optional manifest CSV.

Manifest CSV (UTF-8, comma-separated, header row; column order free, extra columns ignored)::

    case_id,path,height_m,weight_kg,sex
    p001,p001.zip,1.72,80,M
    p002,/data/other/p002/,1.60,,F

* ``case_id`` (required): the case's name; matches an entry of INPUT by its name without extension. It is
  the case's label in the app's database (cases found in INPUT but not in the manifest get a generated
  ``case-<checksum>`` label there: file and folder names are never stored).
* ``path`` (optional): the case's input (folder, .zip, .nii/.nii.gz); relative paths are taken from INPUT.
  When empty, the INPUT entry named ``case_id`` is used.
* ``height_m``, ``weight_kg``, ``sex`` (optional, may be empty): patient data for SMI and the cutoffs;
  they override the DICOM headers (which rarely hold height). Sex is F or M.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from sarco_core.errors import InputNotFoundError, SarcoError

MANIFEST_COLUMNS = ("case_id", "path", "height_m", "weight_kg", "sex")
_NIFTI = (".nii", ".nii.gz")


class ManifestError(SarcoError):
    """The manifest CSV is missing, malformed, or names a case twice."""


@dataclass(frozen=True)
class BatchCase:
    """One case of the cohort, with the patient data the manifest gives (None = not given)."""

    case_id: str
    path: str
    height_m: float | None = None
    weight_kg: float | None = None
    sex: str | None = None
    typed_id: bool = field(default=False, compare=False)  # case_id typed in a manifest, not a file/folder name

    def store_label(self, input_sha256: str | None) -> str:
        """The label in the app's database: a manifest's case_id as typed; for a case found in INPUT a
        generated ``case-<checksum>``, never the file or folder name (names often carry patient identifiers)."""
        from sarco_core.privacy import generated_case_label

        return self.case_id if self.typed_id else generated_case_label(input_sha256)

    def fingerprint(self, settings: str) -> str:
        """Identity of the work to do: input path, size and mtime, patient data and run settings.

        A finished result whose fingerprint differs (input replaced, manifest edited, other method) is redone.
        """
        p = Path(self.path)
        try:
            if p.is_dir():
                files = sorted(f for f in p.rglob("*") if f.is_file())
                stamp = (
                    f"{len(files)}:{sum(f.stat().st_size for f in files)}:"
                    + f"{max((f.stat().st_mtime_ns for f in files), default=0)}"
                )
            else:
                st = p.stat()
                stamp = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            stamp = "missing"
        text = "|".join([self.path, stamp, repr(self.height_m), repr(self.weight_kg), repr(self.sex), settings])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def case_id_of(path: Path) -> str:
    """The name of an input entry without .zip / .nii / .nii.gz."""
    name = path.name
    for ext in (".nii.gz", ".nii", ".zip"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return name


def safe_name(case_id: str) -> str:
    """A file-system-safe, unique-ish file stem for a case id."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", case_id).strip("._") or "case"
    if stem != case_id:
        stem += "-" + hashlib.sha1(case_id.encode()).hexdigest()[:8]
    return stem[:120]


def discover(input_dir: Path) -> tuple[list[BatchCase], list[str]]:
    """Cases in ``input_dir``: each sub-folder, .zip, .nii or .nii.gz is one case (sorted by name).

    Returns the cases and warnings about entries that were skipped (loose DICOM files, other files).
    """
    if not input_dir.exists():
        raise InputNotFoundError(
            f"{input_dir} does not exist. Give a folder holding one sub-folder, .zip or NIfTI file per case."
        )
    if not input_dir.is_dir():
        raise InputNotFoundError(
            f"{input_dir} is not a folder. Give a folder holding one sub-folder, "
            ".zip or NIfTI file per case (or use --manifest to list the cases)."
        )
    cases: list[BatchCase] = []
    skipped: list[str] = []
    for p in sorted(input_dir.iterdir(), key=lambda q: q.name):
        if p.name.startswith(".") or p.name.endswith(".parts"):
            continue
        low = p.name.lower()
        if p.is_dir() or low.endswith(".zip") or low.endswith(_NIFTI):
            cases.append(BatchCase(case_id=case_id_of(p), path=str(p)))
        else:
            skipped.append(p.name)
    warnings = []
    if skipped:
        warnings.append(
            f"{len(skipped)} file(s) in {input_dir} are not a case and were skipped (e.g. {skipped[0]}): "
            "put each DICOM series in its own sub-folder or .zip."
        )
    ids = [c.case_id for c in cases]
    dups = sorted({i for i in ids if ids.count(i) > 1})
    if dups:
        raise ManifestError(
            f"Two inputs in {input_dir} share the case id {dups[0]!r} (e.g. a folder and a .zip); rename one of them."
        )
    return cases, warnings


def _num(row: dict[str, str], col: str, line: int, src: Path) -> float | None:
    v = (row.get(col) or "").strip()
    if not v:
        return None
    try:
        return float(v)
    except ValueError:
        raise ManifestError(
            f"{src} line {line}: {col} = {v!r} is not a number (use a dot as decimal mark, e.g. 1.72)."
        ) from None


def read_manifest(manifest: Path, input_dir: Path | None) -> list[BatchCase]:
    """Rows of the manifest as cases (paths resolved against ``input_dir``; see the module docstring)."""
    if not manifest.is_file():
        raise ManifestError(
            f"Manifest {manifest} does not exist. Give a CSV with columns {', '.join(MANIFEST_COLUMNS)}."
        )
    try:
        text = manifest.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"Cannot read the manifest {manifest}: {exc}. Save it as UTF-8 CSV.") from None
    reader = csv.DictReader(text.splitlines())
    cols = [c.strip().lower() for c in (reader.fieldnames or [])]
    if "case_id" not in cols:
        raise ManifestError(
            f"Manifest {manifest} has no case_id column (found: {', '.join(cols) or 'nothing'}). "
            f"Its header must name {', '.join(MANIFEST_COLUMNS)}."
        )
    out: list[BatchCase] = []
    seen: set[str] = set()
    for line, raw in enumerate(reader, start=2):
        if raw.get(None):  # type: ignore[call-overload]
            raise ManifestError(
                f"{manifest} line {line} has more fields than the header (a decimal comma, e.g. "
                "1,72? Use a dot: 1.72, or quote the value)."
            )
        row = {(k or "").strip().lower(): (v or "") for k, v in raw.items() if isinstance(v, str)}
        cid = row.get("case_id", "").strip()
        if not cid:
            if any(v.strip() for v in row.values()):
                raise ManifestError(f"{manifest} line {line}: case_id is empty.")
            continue
        if cid in seen:
            raise ManifestError(f"{manifest} line {line}: case_id {cid!r} appears twice; give each case once.")
        seen.add(cid)
        sex = row.get("sex", "").strip().upper() or None
        if sex is not None:
            sex = {"FEMALE": "F", "MALE": "M", "W": "F"}.get(sex, sex)
            if sex not in ("F", "M"):
                raise ManifestError(f"{manifest} line {line}: sex = {sex!r}; use F, M or leave it empty.")
        path = row.get("path", "").strip()
        if path:
            p = Path(path).expanduser()
            if not p.is_absolute():
                p = (input_dir or manifest.parent) / p
            path = str(p)
        out.append(
            BatchCase(
                case_id=cid,
                path=path,
                height_m=_num(row, "height_m", line, manifest),
                weight_kg=_num(row, "weight_kg", line, manifest),
                sex=sex,
                typed_id=True,
            )
        )
    return out


def cohort(input_dir: Path | None, manifest: Path | None) -> tuple[list[BatchCase], list[str]]:
    """The cases to run: the manifest's rows (in its order) joined with INPUT's entries by case id,
    then INPUT's entries the manifest does not name. Without INPUT, the manifest must give every path."""
    found: list[BatchCase] = []
    warnings: list[str] = []
    if input_dir is not None:
        found, warnings = discover(input_dir)
    if manifest is None:
        if not found:
            raise InputNotFoundError(f"No cases found in {input_dir}: it holds no sub-folder, .zip or NIfTI file.")
        return found, warnings
    by_id = {c.case_id: c for c in found}
    rows = read_manifest(manifest, input_dir)
    cases: list[BatchCase] = []
    for r in rows:
        if not r.path:
            hit = by_id.get(r.case_id)
            if hit is None:
                where = f"in {input_dir}" if input_dir else "(no INPUT folder given)"
                raise ManifestError(
                    f"Manifest case {r.case_id!r} has no path and no entry of that name {where}; fill its path column."
                )
            r = replace(r, path=hit.path)
        cases.append(r)
    named = {c.case_id for c in cases}
    extra = [c for c in found if c.case_id not in named]
    if extra:
        warnings.append(
            f"{len(extra)} case(s) in {input_dir} are not in the manifest and run without "
            f"height/weight/sex from it (e.g. {extra[0].case_id})."
        )
    return cases + extra, warnings
