"""AppTest: Edit page — injected strokes change SMA by exactly (HU-gated pixels added/removed) × pixel area,
for add and erase; save creates a version; a comment typed before other reruns is kept and saved; a conflicting
save is refused; restore makes a new version."""

from __future__ import annotations

import numpy as np
import pytest

from sarco_core.metrics import measure_slice
from sarco_core.store import Store, default_db_url
from tests.app_helpers import app, cm2, gated_count, metric, seed_case
from ui.strokes import disk_stroke, strokes_to_pixels


@pytest.fixture
def edit_case() -> tuple[Store, int]:
    store = Store.open(default_db_url())
    return store, seed_case(store)


def _stroke_on_muscle_edge(mask: np.ndarray, zoom: int, add: bool, hu: np.ndarray | None = None) -> np.ndarray:
    """A disk on the canvas (``zoom`` × the image) centred on a muscle pixel (erase) or, for add, on a
    non-muscle pixel inside the muscle HU gate (so the stroke changes SMA)."""
    target = mask == 1
    if add:
        assert hu is not None
        target = (mask != 1) & (hu >= -29) & (hu <= 150)
    pts = np.argwhere(target)
    r, c = pts[len(pts) // 2]
    rows, cols = mask.shape
    return disk_stroke((rows * zoom, cols * zoom), ((c + 0.5) * zoom, (r + 0.5) * zoom), 3.0 * zoom)


def _state(at, cid):  # type: ignore[no-untyped-def]
    return at.session_state["edit_state"][cid]


def edit_with_one_stroke(store: Store, cid: int):  # type: ignore[no-untyped-def]
    """The Edit page of case ``cid`` after one added stroke on its first version: (app, version 1, its mask)."""
    v1 = store.versions(cid)[0]
    mask = store.get_mask(v1.id)
    hu = np.asarray(store.load_volume(cid).hu[v1.slice_index])
    at = app("views/edit.py", case_id=cid)
    at.session_state["edit_inject"] = [(_stroke_on_muscle_edge(mask, 2, True, hu), "add", 1)]
    at.run()
    return at, v1, mask


@pytest.mark.parametrize("mode", ["add", "erase"])
def test_stroke_changes_sma_exactly_and_save_creates_version(edit_case: tuple[Store, int], mode: str) -> None:
    store, cid = edit_case
    v1 = store.versions(cid)[0]
    vol = store.load_volume(cid)
    hu = np.asarray(vol.hu[v1.slice_index])
    px_cm2 = vol.spacing_mm.row * vol.spacing_mm.col / 100.0
    mask = store.get_mask(v1.id)
    rgba = _stroke_on_muscle_edge(mask, zoom=3, add=mode == "add", hu=hu)
    painted = strokes_to_pixels(rgba, mask.shape)
    if mode == "add":
        n = gated_count(hu, painted & (mask != 1))
    else:
        n = gated_count(hu, painted & (mask == 1))
    assert n > 0

    at = app("views/edit.py", case_id=cid)
    assert not at.exception, at.exception
    before = cm2(metric(at, "SMA now (cm²)"))
    at.session_state["edit_inject"] = [(rgba, mode, 1)]
    at.run()
    assert not at.exception, at.exception
    sign = 1 if mode == "add" else -1
    after = cm2(metric(at, "SMA now (cm²)"))
    assert after == pytest.approx(before + sign * n * px_cm2, abs=0.011)  # both metrics rounded to 2 decimals
    working = _state(at, cid).history.current
    sp = vol.spacing_mm
    exact = measure_slice(hu, working, row_mm=sp.row, col_mm=sp.col, kind="labels").sma_cm2
    assert exact == pytest.approx(v1.sma_cm2 + sign * n * px_cm2, rel=1e-12, abs=1e-9)

    comment = f"{mode} test stroke"
    at.text_input[-1].set_value(comment)
    next(b for b in at.button if b.label == "Save version").click().run()
    assert not at.exception, at.exception
    versions = store.versions(cid)
    assert [v.number for v in versions] == [1, 2]
    v2 = versions[-1]
    assert v2.source == "edit" and v2.comment == comment and v2.parent_id == v1.id
    assert v2.sma_cm2 == pytest.approx(v1.sma_cm2 + sign * n * px_cm2, rel=1e-9, abs=1e-9)
    assert v2.sma_change_cm2 == pytest.approx(sign * n * px_cm2, abs=1e-9)
    assert any("Saved version 2" in s.value for s in at.success)
    hist = at.table[0].value
    assert [int(v) for v in hist.index] == [1, 2]


def _comment_box(at):  # type: ignore[no-untyped-def]
    return next(t for t in at.text_input if t.label == "Comment")


def test_comment_typed_before_other_reruns_is_kept_and_saved(edit_case: tuple[Store, int]) -> None:
    """The comment is typed first; then a newer version is saved by someone else (before any stroke, so the page
    moves to it), the canvas reports a stroke (a rerun that ends in st.rerun), the brush size changes, and the
    user leaves the page and comes back. The text is in the box after each, and saved with the version."""
    store, cid = edit_case
    v1 = store.versions(cid)[0]
    at = app("views/edit.py", case_id=cid)
    text = "removed arm muscle on the left"
    _comment_box(at).input(text)
    other = store.get_mask(v1.id)
    other[other == 3] = 0
    v2 = store.save_version(cid, other, parent_version_id=v1.id, author="someone else", comment="theirs")
    at.run()
    assert not at.exception, at.exception
    assert _state(at, cid).parent_version_id == v2.id
    assert _comment_box(at).value == text
    hu = np.asarray(store.load_volume(cid).hu[v1.slice_index])
    at.session_state["edit_inject"] = [(_stroke_on_muscle_edge(other, 2, True, hu), "add", 1)]
    at.run()
    assert _state(at, cid).strokes == 1
    assert _comment_box(at).value == text
    at.slider(key="edit_brush").set_value(12).run()
    assert _comment_box(at).value == text
    at.switch_page("views/case.py").run()
    at.switch_page("views/edit.py").run()
    assert not at.exception, at.exception
    assert _comment_box(at).value == text
    next(b for b in at.button if b.label == "Save version").click().run()
    assert not at.exception, at.exception
    v3 = store.versions(cid)[-1]
    assert (v3.number, v3.parent_id, v3.comment) == (3, v2.id, text)
    assert _comment_box(at).value == ""  # saved with version 3: the next edit starts with an empty box


def test_conflicting_save_is_refused_and_edit_kept(edit_case: tuple[Store, int]) -> None:
    store, cid = edit_case
    at, v1, mask = edit_with_one_stroke(store, cid)
    # someone else saves first, from the same parent version
    other = mask.copy()
    other[other == 1] = 0
    store.save_version(cid, other, parent_version_id=v1.id, author="someone else", comment="theirs")
    at.run()
    assert any("after you started editing" in w.value for w in at.warning)
    next(b for b in at.button if b.label == "Save version").click().run()
    assert not at.exception
    assert at.error, "a conflicting save must show the store's message"
    assert "Traceback" not in at.error[0].value
    versions = store.versions(cid)
    assert len(versions) == 2 and versions[-1].author == "someone else"
    assert _state(at, cid).history.dirty  # the user's edit is still there


def test_undo_redo_reset_and_restore(edit_case: tuple[Store, int]) -> None:
    store, cid = edit_case
    v1 = store.versions(cid)[0]
    mask = store.get_mask(v1.id)
    at = app("views/edit.py", case_id=cid)
    base = cm2(metric(at, "SMA now (cm²)"))
    at.session_state["edit_inject"] = [(_stroke_on_muscle_edge(mask, 2, False), "erase", 1)]
    at.run()
    erased = cm2(metric(at, "SMA now (cm²)"))
    assert erased < base
    next(b for b in at.button if b.label == "Undo").click().run()
    assert cm2(metric(at, "SMA now (cm²)")) == base
    next(b for b in at.button if b.label == "Redo").click().run()
    assert cm2(metric(at, "SMA now (cm²)")) == erased
    next(b for b in at.button if b.label == "Save version").click().run()
    assert len(store.versions(cid)) == 2
    next(b for b in at.button if b.label == "Reset to automatic mask").click().run()
    assert cm2(metric(at, "SMA now (cm²)")) == base
    # restore version 1 as version 3 (history is never rewritten)
    at.selectbox(key="restore_pick").set_value(1)
    next(b for b in at.button if b.label == "Restore as new version").click().run()
    assert not at.exception, at.exception
    versions = store.versions(cid)
    assert [v.source for v in versions] == ["auto", "edit", "restore"]
    assert versions[-1].sha256 == v1.sha256
