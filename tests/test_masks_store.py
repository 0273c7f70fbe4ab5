"""Imported reference masks kept in the case store: version source imported:<format>, never replaced."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from sarco_core.cli import main
from sarco_core.io import load
from sarco_core.masks import RowStatus, import_case, import_rows, mask_to_tag, read_manifest
from sarco_core.phantom import phantom_slice, write_dicom
from sarco_core.store import Store, default_db_url
from sarco_core.store.imports import store_report


@pytest.fixture()
def cohort(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """Two DICOM slices with TAG files beside them, and a manifest naming both (patient data on c1)."""
    labels = None
    for seed, name in ((31, "a"), (32, "b")):
        p = phantom_slice(seed=seed, size=64, pixel_mm=5.0)
        dcm = write_dicom(p, tmp_path / name)[0]
        lab = np.asarray(p.labels).reshape(64, 64).astype(np.uint8)
        labels = lab if labels is None else labels
        Path(str(dcm) + ".tag").write_bytes(mask_to_tag(load(dcm), lab, 0))
    rows = [
        ["case_id", "image", "mask", "height_m", "sex"],
        ["c1", "", "a/IM00001.dcm.tag", "1.65", "M"],
        ["c2", "", "b/IM00001.dcm.tag", "", ""],
    ]
    with (tmp_path / "m.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    assert labels is not None
    return tmp_path / "m.csv", labels


def test_imported_cases_are_kept_as_imported_versions(cohort: tuple[Path, np.ndarray]) -> None:
    manifest, labels = cohort
    store = Store.open(default_db_url())
    report = store_report(store, import_rows(read_manifest(manifest)), actor="site")
    assert [o.status for o in report.outcomes] == [RowStatus.OK, RowStatus.OK]
    cid = report.outcomes[0].store_case_id
    assert cid is not None
    case = store.get_case(cid)
    assert case.label == "c1" and case.height_m == 1.65 and case.sex == "M" and case.shape == (1, 64, 64)
    v = store.versions(cid)
    assert [x.source for x in v] == ["imported:tag"]
    np.testing.assert_array_equal(store.get_mask(v[0].id), labels)
    assert v[0].sma_cm2 > 0
    assert [x.case_id for x in store.imported_versions()] == [cid, report.outcomes[1].store_case_id]
    assert {r["case_id"] for r in store.cohort_rows()} == {cid, report.outcomes[1].store_case_id}
    assert any(e.action == "import" and e.details.get("format") == "tag" for e in store.audit(cid))
    # the same import again adds a version to the same case; nothing is replaced
    again = store_report(store, import_rows(read_manifest(manifest)), actor="site")
    assert again.outcomes[0].store_case_id == cid
    assert [x.source for x in store.versions(cid)] == ["imported:tag", "imported:tag"]


def test_a_case_id_taken_by_another_image_is_refused_per_row(cohort: tuple[Path, np.ndarray]) -> None:
    manifest, _ = cohort
    store = Store.open(default_db_url())
    other = import_case(manifest.parent / "b" / "IM00001.dcm.tag", case_id="c1")
    store.add_imported(other, actor="site")
    report = store_report(store, import_rows(read_manifest(manifest)), actor="site")
    assert report.outcomes[0].status is RowStatus.ERROR
    assert "already exists with another image" in report.outcomes[0].reason
    assert report.outcomes[1].status is RowStatus.OK


def test_cli_store_flag_fills_the_report(cohort: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    manifest, _ = cohort
    assert main(["import-masks", "--manifest", str(manifest), "--out", str(tmp_path / "set"), "--store"]) == 0
    with (tmp_path / "set" / "import_report.csv").open() as fh:
        ids = [r["store_case_id"] for r in csv.DictReader(fh)]
    store = Store.open(default_db_url())
    assert sorted(ids) == sorted(str(c.id) for c in store.list_cases())


def test_import_onto_an_analysed_series_adds_a_version_on_its_slice(tmp_path: Path) -> None:
    from sarco_core.volume import Volume

    p = phantom_slice(seed=33, size=64, pixel_mm=5.0)
    hu = np.stack([np.asarray(p.hu).reshape(64, 64) + i for i in range(3)]).astype(np.int16)
    series = Volume.from_array(hu=hu, spacing_mm=(5.0, 5.0, 5.0), z0_mm=50.0)
    store = Store.open(default_db_url())
    cid = store.create_case(
        series,
        analysis={"method": "threshold"},
        labels=np.asarray(p.labels).reshape(64, 64),
        slice_index=1,
        actor="model",
        label="series-1",
    ).id
    vol = store.load_volume(cid)
    auto = store.latest_version(cid)
    k = auto.slice_index
    ref = store.get_mask(auto.id).copy()
    ref[ref == 3] = 0  # the expert traced muscle and SAT only
    case = import_case(_png(ref), vol, case_id="series-1", slice_index=k, mask_name="ref.png")
    v = store.add_imported(case, actor="site")
    assert v.case_id == cid and v.slice_index == k and v.source == "imported:png" and v.number == 2
    np.testing.assert_array_equal(store.get_mask(v.id), ref)
    assert store.versions(cid)[0].source == "auto"


def _png(arr: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr.astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()
