"""PHI through file names (issue 17): an upload named ``Doe_Jane_MRN123456.dcm`` with identifiers in its header
leaves no identifier in the database, the logs or any export; case labels are never derived from file or
folder names (checked on the source code too); a typed label that looks like an identifier is warned about."""

from __future__ import annotations

import ast
import gzip
import io
import logging
import zipfile
from pathlib import Path

import pytest

from sarco_core.privacy import generated_case_label, label_warnings

REPO = Path(__file__).resolve().parents[1]
FILE_NAME = "Doe_Jane_MRN123456.dcm"
# "Doe" alone is left out: three bytes occur by chance in compressed binary data
SECRETS = ["Doe_Jane", "Doe^Jane", "Jane", "MRN123456", "19450317", "Quixby", "QX-998877", "notes.txt"]


def _slice_bytes() -> bytes:
    from sarco_core.io.dicom_write import series_datasets
    from sarco_core.phantom.volume import phantom_volume

    pv = phantom_volume(seed=0, size=128, pixel_mm=3.2)
    vol = pv.volume.select([pv.l3_mid_index])
    ds = series_datasets(vol, patient_sex="F")[0]
    ds.PatientName = "Doe^Jane"
    ds.PatientID = "MRN123456"
    ds.PatientBirthDate = "19450317"
    ds.OtherPatientIDs = "QX-998877"
    ds.ReferringPhysicianName = "Quixby^Doctor"
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _contents(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(path) as zf:
            return b"".join(zf.read(n) for n in zf.namelist())
    return data


def test_upload_named_with_identifiers_leaks_nowhere(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from sarco_core.export import cohort_csv, cohort_xlsx, mask_to_dicom_seg, mask_to_nifti, overlay_png, report_pdf
    from sarco_core.store import Store, default_db_url
    from tests.app_helpers import app

    caplog.set_level(logging.DEBUG)
    at = app()
    notes = FILE_NAME.replace(".dcm", "_notes.txt")  # skipped with a warning that names it
    at.file_uploader[0].set_value(
        [(FILE_NAME, _slice_bytes(), "application/dicom"), (notes, b"exported by PACS " * 30, "text/plain")]
    )
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(notes in w.value for w in at.warning)  # the user sees which file was skipped ...
    at.button(key="analyse_btn").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]

    store = Store.open(default_db_url())
    [summary] = store.list_cases()
    assert summary.label.startswith("case-")  # generated, not the file name
    rec = store.get_case(summary.id)
    vol = store.load_volume(summary.id)
    v = rec.latest_version
    assert v is not None
    mask = store.get_mask(v.id)
    out = tmp_path / "exports"
    out.mkdir()
    mask_to_nifti(vol, mask, v.slice_index, out / "mask.nii.gz")
    mask_to_dicom_seg(vol, mask, v.slice_index, out / "seg.dcm")
    png = overlay_png(vol.hu[v.slice_index], mask, vol.spacing_mm, out / "overlay.png")
    report_pdf(out / "report.pdf", case=rec, analysis=rec.latest_analysis, version=v, overlay_png=png)
    cohort_csv(store.cohort_rows(), out / "cohort.csv")
    cohort_xlsx(store.cohort_rows(), out / "cohort.xlsx")
    store.close()
    db_file = Path(default_db_url().removeprefix("sqlite:///"))
    files = [p for p in db_file.parent.iterdir() if p.is_file() and p.name.startswith(db_file.name)]
    files += sorted(out.iterdir())
    assert db_file in files and len(files) >= 7
    for f in files:
        blob = _contents(f)
        for s in SECRETS:
            assert s.encode() not in blob, f"{s!r} found in {f.name}"
    for s in SECRETS:
        assert s not in caplog.text, f"{s!r} found in the log"
    assert summary.label.encode() in db_file.read_bytes()  # the scan does read the database content
    assert any("[file]" in w for w in vol.warnings)  # ... the stored warning does not


def test_typed_label_that_looks_like_an_identifier_is_warned() -> None:
    assert label_warnings("Doe^Jane") and label_warnings("Jane Doe")
    assert label_warnings("MRN 1234567") and label_warnings("pt_19450317")
    assert label_warnings("scan 2024-03-01") and label_warnings("01.03.2024")
    for ok in ("cohort A 017", "baseline", "liver-07", "P1", generated_case_label("ab" * 32)):
        assert label_warnings(ok) == [], ok
    assert generated_case_label("0123456789abcdef") == "case-01234567"


# ------------------------------------------------------------------------------- source scan (grep-style)
_NAME_ATTRS = {"name", "stem", "filename", "parts", "parent", "suffix"}
_NAME_VARS = {"filename", "fname", "basename", "file_name", "files", "uploaded", "path", "p"}
_NAME_CALLS = {"case_id_of", "basename", "Path", "PurePath", "PurePosixPath", "splitext"}
_ALLOWED_CALLS = {"input_sha256", "generated_case_label", "case_label", "store_label", "sha256_hex"}
_LABEL_FUNCS = {"case_label", "store_label", "generated_case_label"}


def _derives_from_file_name(node: ast.AST) -> str | None:
    """The first sub-expression of ``node`` that reads a file/folder name (None if there is none)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Call):
            fn = n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", "")
            if fn in _ALLOWED_CALLS:
                continue  # a checksum of the bytes, or the one label function (checked on its own)
            if fn in _NAME_CALLS:
                return ast.unparse(n)
        if isinstance(n, ast.Attribute) and n.attr in _NAME_ATTRS:
            return ast.unparse(n)
        if isinstance(n, ast.Name) and n.id in _NAME_VARS:
            return ast.unparse(n)
        stack.extend(ast.iter_child_nodes(n))
    return None


def label_violations(source: str, where: str) -> list[str]:
    """Store labels (``create_case(label=...)``) and label functions that derive from file names."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            fn = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if fn in ("create_case", "add_case", "rename_case"):
                for kw in node.keywords:
                    if kw.arg == "label" and (bad := _derives_from_file_name(kw.value)):
                        out.append(f"{where}:{node.lineno}: label={ast.unparse(kw.value)} reads {bad}")
        if isinstance(node, ast.FunctionDef) and node.name in _LABEL_FUNCS:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Return) and sub.value is not None:
                    if bad := _derives_from_file_name(sub.value):
                        out.append(f"{where}:{sub.lineno}: {node.name} returns {bad}")
                if isinstance(sub, ast.Assign) and (bad := _derives_from_file_name(sub.value)):
                    out.append(f"{where}:{sub.lineno}: {node.name} computes from {bad}")
    return out


def test_scanner_catches_file_name_labels() -> None:
    bad = [
        "store.create_case(vol, label=files[0][0])",
        "store.create_case(vol, label=Path(p).stem)",
        "s.create_case(v, label=f'{upload.name} · 3 slices')",
        "def case_label(files, volume):\n    base = files[0][0].rsplit('/', 1)[-1]\n    return base",
        "store.create_case(vol, label=case_id_of(entry))",
    ]
    for snippet in bad:
        assert label_violations(snippet, "x"), snippet
    good = [
        "store.create_case(vol, label=generated_case_label(input_sha256(list(files))))",
        "store.create_case(vol, label=case.store_label(sha))",
        "store.create_case(vol, label=code)",
    ]
    for snippet in good:
        assert not label_violations(snippet, "x"), snippet


def test_no_label_is_derived_from_a_file_name_in_the_code() -> None:
    found = []
    for folder in ("sarco_core", "ui", "pages"):
        for py in sorted((REPO / folder).rglob("*.py")):
            found += label_violations(py.read_text(encoding="utf-8"), str(py.relative_to(REPO)))
    found += label_violations((REPO / "app.py").read_text(encoding="utf-8"), "app.py")
    assert not found, "\n".join(found)
