"""AppTest: cohort dashboard on a seeded store (filters, plots, edit rate, review queue -> Edit, exports,
manual-mask import with Dice); pure checks of the Bland-Altman statistics and filters."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sarco_core.store import Store, default_db_url
from tests.app_helpers import app, seed_case
from ui.dashboard import filter_frame, review_queue
from ui.plots import bland_altman_stats


def test_bland_altman_stats() -> None:
    a = np.array([100.0, 120.0, 90.0, 110.0])
    b = np.array([102.0, 119.0, 95.0, 110.0])
    st = bland_altman_stats(a, b)
    d = b - a
    assert st.n == 4 and st.bias == pytest.approx(d.mean())
    assert st.sd == pytest.approx(d.std(ddof=1))
    assert st.loa_low == pytest.approx(d.mean() - 1.96 * d.std(ddof=1))
    assert st.loa_high == pytest.approx(d.mean() + 1.96 * d.std(ddof=1))
    one = bland_altman_stats(a[:1], b[:1])
    assert one.bias == pytest.approx(2.0) and one.loa_low is None
    assert bland_altman_stats(a[:0], b[:0]).bias is None


def test_filters_and_review_queue() -> None:
    df = pd.DataFrame(
        {
            "case_id": [1, 2, 3, 4],
            "sex": ["F", "M", None, "F"],
            "qc_flags": ["", "fov_truncated", "", ""],
            "edited": [False, False, True, False],
            "rule": ["martin2013"] * 3 + ["prado2008"],
            "confidence": [0.9, 0.8, 0.2, 0.5],
        }
    )
    assert filter_frame(df, sexes=["F"], flags="all", edited="all", rules=[])["case_id"].tolist() == [1, 4]
    assert filter_frame(df, sexes=["F", "M", "unknown"], flags="with QC flags", edited="all", rules=[])[
        "case_id"
    ].tolist() == [2]
    assert filter_frame(df, sexes=["F", "M", "unknown"], flags="all", edited="edited", rules=[])[
        "case_id"
    ].tolist() == [3]
    assert filter_frame(df, sexes=["F", "M", "unknown"], flags="all", edited="all", rules=["prado2008"])[
        "case_id"
    ].tolist() == [4]
    # unedited and (low confidence or flagged), least confident first; edited case 3 is done
    assert review_queue(df, 0.7)["case_id"].tolist() == [4, 2]


def test_dashboard_on_seeded_store() -> None:
    store = Store.open(default_db_url())
    ids = [
        seed_case(store, seed=s, sex=sex, height_m=h) for s, sex, h in ((0, "F", 1.62), (1, "M", 1.80), (2, None, None))
    ]
    v1 = store.versions(ids[1])[0]
    m = store.get_mask(v1.id)
    m[m == 1] = 0  # a (drastic) edit of case 2
    m[store.get_mask(v1.id) == 1] = 0
    store.save_version(ids[1], m, parent_version_id=v1.id, author="tester", comment="edit")

    at = app("views/dashboard.py")
    assert not at.exception, at.exception
    metrics = {x.label: x.value for x in at.metric}
    assert metrics["Cases (shown / all)"] == "3 / 3"
    assert metrics["Edit rate"] == "33 %"
    assert len(at.get("plotly_chart")) == 4
    table = at.dataframe[0].value
    assert sorted(table["case_id"].tolist()) == sorted(ids)
    assert bool(table.set_index("case_id").loc[ids[1], "edited"]) is True

    at.selectbox(key="dash_edited").set_value("edited").run()
    assert {x.label: x.value for x in at.metric}["Cases (shown / all)"] == "1 / 3"
    at.selectbox(key="dash_edited").set_value("all").run()

    # downloads are built on click: check the CSV the button would serve
    from ui.dashboard import _csv

    csv = _csv(store.cohort_frame()).decode()
    assert csv.splitlines()[0].startswith("case_id") and len(csv.splitlines()) == 4

    # the review queue opens a case in Edit
    buttons = [b for b in at.button if b.label == "Open in Edit"]
    if buttons:
        buttons[0].click().run()
        assert not at.exception, at.exception
        assert at.title[0].value == "Edit the mask"


def test_import_manual_mask_compares_with_automatic() -> None:
    from sarco_core.export import mask_to_nifti

    store = Store.open(default_db_url())
    cid = seed_case(store)
    v1 = store.versions(cid)[0]
    vol = store.load_volume(cid)
    manual = store.get_mask(v1.id).copy()
    rows = np.nonzero((manual == 1).any(axis=1))[0]
    manual[rows[: len(rows) // 3]] = np.where(manual[rows[: len(rows) // 3]] == 1, 0, manual[rows[: len(rows) // 3]])
    with tempfile.TemporaryDirectory() as d:
        data = Path(mask_to_nifti(vol, manual, v1.slice_index, Path(d) / "manual.nii.gz")).read_bytes()

    at = app("views/dashboard.py", case_id=cid)
    at.file_uploader(key="import_file").set_value(("manual.nii.gz", data, "application/gzip"))
    at.run()
    at.button(key="import_btn").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    versions = store.versions(cid)
    assert versions[-1].source == "import"
    cmp = store.compare_versions(v1.id, versions[-1].id)
    assert 0.0 < cmp.gated_dice < 1.0
    shown = {x.label: x.value for x in at.metric}
    assert shown["Dice (HU-gated muscle)"] == f"{cmp.gated_dice:.3f}"
    assert shown["SMA manual − automatic"] == f"{cmp.sma_diff_cm2:+.2f} cm²"
