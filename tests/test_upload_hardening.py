"""Upload page (issue 17): the same scan uploaded again is named as the existing case; a typed label that
looks like an identifier is warned about and used as typed; a hostile upload gives a clear error."""

from __future__ import annotations

from sarco_core.analyze import analyze, input_sha256
from sarco_core.store import Store, default_db_url
from tests.app_helpers import app
from tests.hostile_inputs import series_bytes, volume, zip_bytes


def _seed(files: list[tuple[str, bytes]]) -> int:
    from sarco_core.io import load

    vol = load(files)
    res = analyze(vol, slice_index=1, method="threshold")
    assert res.labels is not None
    store = Store.open(default_db_url())
    case = store.create_case(
        vol, analysis=res, labels=res.labels, slice_index=1, actor="t", label="first", input_sha256=input_sha256(files)
    )
    store.close()
    return int(case.id)


def _warnings(at: object) -> list[str]:
    return [w.value for w in at.warning]  # type: ignore[attr-defined]


def test_same_upload_and_same_series_are_named_as_existing_case() -> None:
    files = series_bytes(n=4)
    cid = _seed(files)
    at = app()
    at.file_uploader[0].set_value([(n, b, "application/dicom") for n, b in files])
    at.run()
    assert not at.exception
    assert any(f"already case #{cid}" in w for w in _warnings(at)), _warnings(at)
    assert not at.button(key="analyse_btn").disabled  # "add anyway" stays possible
    # the same series repackaged as a zip (other checksum) is found by its Series Instance UID
    at2 = app()
    at2.file_uploader[0].set_value(("again.zip", zip_bytes(files), "application/zip"))
    at2.run()
    assert any(f"already case #{cid}" in w for w in _warnings(at2)), _warnings(at2)
    # another scan is not a duplicate
    at3 = app()
    other = series_bytes(n=4, seed=3)
    at3.file_uploader[0].set_value([(n, b, "application/dicom") for n, b in other])
    at3.run()
    assert not any("already case" in w for w in _warnings(at3))


def test_typed_label_with_identifier_is_warned() -> None:
    at = app()
    at.file_uploader[0].set_value([(n, b, "application/dicom") for n, b in series_bytes(n=4)])
    at.run()
    at.text_input(key="in_label").set_value("Doe Jane 19450317").run()
    assert any("may identify the patient" in w for w in _warnings(at)), _warnings(at)
    at.text_input(key="in_label").set_value("cohort A 017").run()
    assert not any("may identify the patient" in w for w in _warnings(at))


def test_hostile_upload_is_a_clear_error() -> None:
    at = app()
    bomb = zip_bytes([("a.dcm", b"\x00" * 8_000_000)])
    at.file_uploader[0].set_value(("scan.zip", bomb, "application/zip"))
    at.run()
    assert not at.exception
    assert at.error and "compression-ratio limit" in at.error[0].value
    assert at.button(key="analyse_btn").disabled
    assert volume().n_slices == 4  # the corpus helpers are the ones the io tests use
