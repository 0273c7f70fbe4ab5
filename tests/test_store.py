"""Case store: create/list/get, immutable versions, conflicts, restore, delete audit, checksums, migrations."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sarco_core.errors import ConflictError, GridMismatchError, InvalidMaskError, StoreError
from sarco_core.store import Store, current_revision, default_db_url, head_revision
from sarco_core.store.schema import MaskVersion
from tests.store_helpers import auto_labels, db_url, expected_sma_cm2, synthetic_volume  # noqa: F401

ANALYSIS = {
    "method": "teacher",
    "model": {"name": "teacher", "version": "1", "sha256": "ab" * 32},
    "rule": "martin2013",
    "confidence": 0.42,
    "qc_flags": ["low confidence"],
    "l3": {"index": 3, "auto_index": 3, "overridden": False},
}


def _new(store: Store, **kw):  # type: ignore[no-untyped-def]
    vol = synthetic_volume()
    case = store.create_case(
        vol,
        analysis=ANALYSIS,
        labels=auto_labels(),
        slice_index=3,
        actor="ann",
        height_m=1.7,
        weight_kg=70,
        sex="F",
        **kw,
    )
    return vol, case


def test_default_db_url_follows_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("SARCO_DB_URL", raising=False)
    monkeypatch.setenv("SARCO_HOME", str(tmp_path / "home"))
    assert default_db_url() == f"sqlite:///{tmp_path / 'home' / 'sarco.db'}"
    monkeypatch.setenv("SARCO_DB_URL", "sqlite:////x/y.db")
    assert default_db_url() == "sqlite:////x/y.db"


def test_create_list_get_and_reopen_image(db_url: str) -> None:  # noqa: F811
    store = Store.open(db_url)
    vol, case = _new(store, label="P-001")
    assert case.label == "P-001" and case.n_versions == 1 and case.shape == vol.shape
    assert case.sex == "F" and case.height_m == 1.7
    a = case.latest_analysis
    assert a is not None and a.method == "teacher" and a.model_sha256 == "ab" * 32 and a.rule == "martin2013"
    assert a.confidence == pytest.approx(0.42) and a.qc_flags == ("low confidence",) and not a.l3_overridden
    v1 = case.latest_version
    assert v1 is not None and v1.number == 1 and v1.source == "auto" and v1.parent_id is None
    assert v1.sma_cm2 == pytest.approx(expected_sma_cm2(vol, auto_labels(), 3))
    assert [c.label for c in store.list_cases()] == ["P-001"]
    store.close()
    # a fresh process (new Store, no cache) reopens the de-identified copy exactly
    again = Store.open(db_url)
    back = again.load_volume(case.id)
    np.testing.assert_array_equal(back.hu, vol.hu)
    np.testing.assert_allclose(back.affine, vol.affine)
    np.testing.assert_allclose(back.z_mm, vol.z_mm)
    assert back.spacing_mm == vol.spacing_mm
    np.testing.assert_array_equal(again.get_mask(v1.id), auto_labels())
    with pytest.raises(StoreError, match="already exists"):
        _new(again, label="P-001")
    again.close()


def test_versions_are_immutable_and_numbered(db_url: str) -> None:  # noqa: F811
    store = Store.open(db_url)
    vol, case = _new(store)
    v1 = case.latest_version
    assert v1 is not None
    edit = auto_labels()
    edit[30:34, 8:30] = 1  # these pixels are -100 HU fat: not muscle by the HU gate
    edit[10:12, 8:30] = 0  # erase muscle pixels
    v2 = store.save_version(case.id, edit, parent_version_id=v1.id, author="bob", comment="trim")
    assert (v2.number, v2.parent_id, v2.source, v2.author) == (2, v1.id, "edit", "bob")
    assert v2.sma_cm2 == pytest.approx(expected_sma_cm2(vol, edit, 3))  # recomputed, HU-gated
    assert v2.sma_change_cm2 == pytest.approx(v2.sma_cm2 - v1.sma_cm2) and v2.sma_change_cm2 < 0
    v3 = store.save_version(case.id, auto_labels(), parent_version_id=v2.id, author="bob")
    hist = store.versions(case.id)
    assert [v.number for v in hist] == [1, 2, 3]
    assert hist[0] == v1 and hist[1].sha256 == v2.sha256  # old versions unchanged
    np.testing.assert_array_equal(store.get_mask(v2.id), edit)
    assert store.latest_version(case.id).id == v3.id
    # the database refuses a second version with the same number, whatever the API does
    eng = create_engine(db_url)
    with Session(eng) as s, pytest.raises(IntegrityError):
        row = s.get(MaskVersion, v3.id)
        assert row is not None
        s.add(MaskVersion(**{c.name: getattr(row, c.name) for c in MaskVersion.__table__.columns if c.name != "id"}))
        s.commit()
    eng.dispose()


def test_conflicting_save_is_refused_and_nothing_lost(db_url: str) -> None:  # noqa: F811
    store = Store.open(db_url)
    _, case = _new(store, label="C7")
    v1 = case.latest_version
    assert v1 is not None
    mine, theirs = auto_labels(), auto_labels()
    mine[12:14, :] = 0
    theirs[20:22, :] = 0
    won = store.save_version(case.id, theirs, parent_version_id=v1.id, author="alice")
    with pytest.raises(ConflictError) as err:
        store.save_version(case.id, mine, parent_version_id=v1.id, author="bob")
    msg = str(err.value)
    assert "C7" in msg and "alice" in msg and "version 2" in msg and "version 1" in msg and "reload" in msg
    hist = store.versions(case.id)
    assert [v.number for v in hist] == [1, 2] and hist[1].sha256 == won.sha256
    np.testing.assert_array_equal(store.get_mask(won.id), theirs)
    # after reloading bob re-applies his edit on top of alice's
    v3 = store.save_version(case.id, mine, parent_version_id=won.id, author="bob")
    assert v3.number == 3


def test_simultaneous_saves_only_one_wins(db_url: str) -> None:  # noqa: F811
    first = Store.open(db_url)
    _, case = _new(first)
    v1 = case.latest_version
    assert v1 is not None
    stores = [Store.open(db_url) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    results: list[object] = []

    def save(st: Store, i: int) -> None:
        lab = auto_labels()
        lab[i, :] = 1
        barrier.wait()
        try:
            results.append(st.save_version(case.id, lab, parent_version_id=v1.id, author=f"user{i}"))
        except ConflictError as exc:
            results.append(exc)

    threads = [threading.Thread(target=save, args=(st, i)) for i, st in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wins = [r for r in results if not isinstance(r, Exception)]
    assert len(wins) == 1 and len(results) == 4
    assert [v.number for v in first.versions(case.id)] == [1, 2]


def test_restore_creates_a_new_version(db_url: str) -> None:  # noqa: F811
    store = Store.open(db_url)
    _, case = _new(store)
    v1 = case.latest_version
    assert v1 is not None
    edit = auto_labels()
    edit[10:20] = 0
    v2 = store.save_version(case.id, edit, parent_version_id=v1.id, author="bob")
    v3 = store.restore_version(case.id, v1.id, author="carol")
    assert (v3.number, v3.source, v3.parent_id) == (3, "restore", v2.id)
    assert v3.sha256 == v1.sha256 and v3.sma_cm2 == pytest.approx(v1.sma_cm2)
    assert len(store.versions(case.id)) == 3
    row = store.cohort_rows()[0]
    assert row["edited"] is False and row["n_versions"] == 3  # same mask content as the automatic one
    with pytest.raises(ConflictError):
        store.restore_version(case.id, v1.id, author="dave", parent_version_id=v2.id)
    assert [e.action for e in store.audit(case.id)] == ["create", "analyse", "save_version", "restore"]


def test_delete_is_soft_and_audited(db_url: str) -> None:  # noqa: F811
    store = Store.open(db_url)
    _, case = _new(store, label="DEL")
    store.delete_case(case.id, actor="admin", reason="duplicate upload")
    assert store.list_cases() == [] and store.cohort_rows() == []
    gone = store.list_cases(include_deleted=True)
    assert [c.label for c in gone] == ["DEL"] and gone[0].deleted
    ev = store.audit(case.id)[-1]
    assert (ev.action, ev.actor, ev.details["reason"]) == ("delete", "admin", "duplicate upload")
    assert store.load_volume(case.id).shape == case.shape  # data kept until purged
    with pytest.raises(StoreError, match="deleted"):
        store.save_version(case.id, auto_labels(), parent_version_id=case.latest_version.id, author="x")  # type: ignore[union-attr]
    store.purge_case(case.id, actor="admin")
    with pytest.raises(StoreError, match="purged"):
        Store.open(db_url).load_volume(case.id)
    assert store.audit(case.id)[-1].action == "purge"


def test_corrupt_image_and_mask_are_detected(db_url: str) -> None:  # noqa: F811
    store = Store.open(db_url)
    _, case = _new(store)
    eng = create_engine(db_url)
    with eng.begin() as c:
        blob = c.execute(text("SELECT image_npz FROM cases WHERE id = :i"), {"i": case.id}).scalar_one()
        bad = bytearray(blob)
        bad[len(bad) // 2] ^= 0xFF
        c.execute(text("UPDATE cases SET image_npz = :b WHERE id = :i"), {"b": bytes(bad), "i": case.id})
        c.execute(text("UPDATE mask_versions SET mask_zlib = :b WHERE case_id = :i"), {"b": b"xx", "i": case.id})
    eng.dispose()
    fresh = Store.open(db_url)  # no cached copy
    with pytest.raises(StoreError, match="corrupt"):
        fresh.load_volume(case.id)
    with pytest.raises(StoreError, match="corrupt"):
        fresh.get_mask(case.latest_version.id)  # type: ignore[union-attr]


def test_bad_masks_are_refused(db_url: str) -> None:  # noqa: F811
    store = Store.open(db_url)
    _, case = _new(store)
    v1 = case.latest_version
    assert v1 is not None
    with pytest.raises(GridMismatchError):
        store.save_version(case.id, np.zeros((10, 10), np.uint8), parent_version_id=v1.id, author="x")
    bad = auto_labels()
    bad[0, 0] = 7
    with pytest.raises(InvalidMaskError):
        store.save_version(case.id, bad, parent_version_id=v1.id, author="x")
    assert len(store.versions(case.id)) == 1


def test_reanalysis_import_compare_and_cohort(db_url: str) -> None:  # noqa: F811
    store = Store.open(db_url)
    vol, case = _new(store, label="R1")
    over = dict(ANALYSIS, l3={"index": 4, "auto_index": 3, "overridden": True}, height_m=1.72)
    v2 = store.add_analysis(case.id, over, auto_labels(), 4, "ann")
    assert store.get_case(case.id).height_m == 1.72  # the re-analysis' patient values win
    assert (v2.source, v2.slice_index, v2.number) == ("auto", 4, 2)
    an = store.get_case(case.id).latest_analysis
    assert an is not None and an.l3_overridden and an.l3_auto_index == 3 and an.slice_index == 4
    manual3d = np.zeros(vol.shape, np.uint8)
    manual3d[4, 10:30, 10:30] = 1
    v3 = store.import_mask(case.id, manual3d, source_name="manual.nii.gz", author="res")
    assert (v3.source, v3.slice_index) == ("import", 4)
    assert v3.sma_cm2 == pytest.approx(expected_sma_cm2(vol, manual3d[4], 4))
    cmp = store.compare_versions(v2.id, v3.id)
    assert 0 < cmp.gated_dice < 1 and cmp.sma_diff_cm2 == pytest.approx(v3.sma_cm2 - v2.sma_cm2)
    with pytest.raises(StoreError, match="empty on slice"):
        store.import_mask(case.id, np.roll(manual3d, 1, axis=0), source_name="m", author="res")
    rows = store.cohort_rows()
    assert len(rows) == 1
    r = rows[0]
    assert r["label"] == "R1" and r["edited"] is True and r["l3_overridden"] is True
    assert r["auto_sma_cm2"] == pytest.approx(v2.sma_cm2) and r["sma_cm2"] == pytest.approx(v3.sma_cm2)
    assert r["smi_cm2_m2"] == pytest.approx(v3.sma_cm2 / 1.72**2)
    assert r["low_smi"] is True and r["smi_threshold"] == 41.0  # female, Martin 2013
    assert r["qc_flags"] == "low confidence" and r["method"] == "teacher"
    assert list(store.cohort_frame()["label"]) == ["R1"]
    actions = [e.action for e in store.audit(case.id)]
    assert actions == ["create", "analyse", "analyse", "import"]


def test_duplicates_by_patient_hash(db_url: str) -> None:  # noqa: F811
    from sarco_core.volume import SourceMeta

    store = Store.open(db_url)
    meta = SourceMeta(kind="dicom-series", patient_id_hash="f" * 64)
    for name in ("A", "B"):
        store.create_case(
            synthetic_volume(meta=meta), analysis={}, labels=auto_labels(), slice_index=0, actor="x", label=name
        )
    _new(store, label="C")
    assert [c.label for c in store.find_duplicates("f" * 64)] == ["A", "B"]
    assert store.find_duplicates(None) == []


def test_migrations_from_empty_to_head_match_the_models(db_url: str) -> None:  # noqa: F811
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from sarco_core.store.db import make_engine, migrate, table_names
    from sarco_core.store.schema import Base

    eng = make_engine(db_url)
    assert current_revision(eng) is None
    migrate(eng)
    assert current_revision(eng) == head_revision()
    assert {"cases", "analyses", "mask_versions", "audit_events"} <= set(table_names(eng))
    with eng.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(ctx, Base.metadata)
    assert diffs == []
    migrate(eng)  # idempotent
    eng.dispose()


def test_real_analysis_result_is_stored_with_provenance(db_url: str) -> None:  # noqa: F811
    from sarco_core.analyze import analyze

    vol = synthetic_volume()
    res = analyze(vol, slice_index=3, method="threshold", height_m=1.7, sex="F", weight_kg=60)
    assert res.labels is not None
    store = Store.open(db_url)
    case = store.create_case(vol, analysis=res, labels=res.labels, slice_index=res.l3.index, actor="ann")
    a, v = case.latest_analysis, case.latest_version
    assert a is not None and v is not None
    assert a.method == "threshold" and a.rule == "martin2013" and a.l3_overridden
    assert a.input_sha256 == res.input.sha256 and a.qc_flags == tuple(res.qc_flags)
    assert v.sma_cm2 == pytest.approx(res.metrics.sma_cm2)  # recomputed from the stored image: same number
    assert (case.sex, case.height_m, case.weight_kg) == ("F", 1.7, 60.0)
    assert "name" not in a.result["input"]  # file names never reach the database


def test_chunked_image_container_round_trip_and_damage() -> None:
    from sarco_core.store import chunks

    rng = np.random.default_rng(1)
    for arr in (rng.integers(-1024, 3000, (4, 7, 5)).astype(np.int16), rng.normal(size=(3, 4, 6)).astype(np.float32)):
        blob = chunks.encode(arr)
        back = chunks.decode(blob)
        assert back.dtype == arr.dtype
        np.testing.assert_array_equal(back, arr)
        np.testing.assert_array_equal(chunks.decode_slice(blob, 1), arr[1])
    blob = bytearray(chunks.encode(rng.integers(-1024, 3000, (4, 7, 5)).astype(np.int16)))
    blob[-3] ^= 0xFF  # inside the last slice's chunk
    chunks.decode_slice(bytes(blob), 0)  # other slices still read
    with pytest.raises(chunks.ChunkError, match="slice 3"):
        chunks.decode_slice(bytes(blob), 3)


def test_downgrade_to_empty_and_unknown_schema_refused(db_url: str) -> None:  # noqa: F811
    from alembic import command

    from sarco_core.store.db import alembic_config, make_engine, migrate, table_names

    eng = make_engine(db_url)
    migrate(eng)
    with eng.begin() as conn:
        cfg = alembic_config(eng)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(table_names(eng)) <= {"alembic_version"}
    migrate(eng)
    with eng.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff_from_the_future'"))
    eng.dispose()
    with pytest.raises(StoreError, match="newer sarco"):
        Store.open(db_url)
