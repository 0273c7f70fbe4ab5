"""AppTest: Browse page — slice stepping, window presets, reformats, and "use this slice as L3"."""

from __future__ import annotations

from sarco_core.store import Store, default_db_url
from tests.app_helpers import app, seed_case


def test_browse_steps_and_overrides_l3() -> None:
    store = Store.open(default_db_url())
    cid = seed_case(store)
    v1 = store.versions(cid)[0]
    at = app("views/browse.py", case_id=cid)
    assert not at.exception, at.exception
    assert at.slider(key="browse_k").value == v1.slice_index
    auto_before = store.get_case(cid).latest_analysis.l3_auto_index
    # step one slice toward the head with the button, then pick a custom window
    next(b for b in at.button if b.label == "Next").click().run()
    k = at.slider(key="browse_k").value
    assert k == v1.slice_index + 1
    at.selectbox(key="browse_preset").set_value("Custom").run()
    at.number_input(key="browse_ww").set_value(800.0).run()
    assert not at.exception
    target = v1.slice_index + 2
    at.slider(key="browse_k").set_value(target).run()
    override = next(b for b in at.button if b.label.startswith("Use slice"))
    assert override.label == f"Use slice {target} as L3"
    override.click().run()
    assert not at.exception, at.exception

    versions = store.versions(cid)
    assert len(versions) == 2
    v2 = versions[-1]
    assert v2.slice_index == target and v2.source == "auto"
    an = store.get_case(cid).latest_analysis
    assert an is not None and an.l3_overridden and an.slice_index == target
    assert an.l3_auto_index == auto_before  # the automatic choice is kept next to the override
    assert any(f"L3 set to slice {target}" in s.value for s in at.success)
    assert at.slider(key="browse_k").value == target
    assert any("set by hand" in m.value for m in at.markdown)


def test_delete_case_is_audited() -> None:
    store = Store.open(default_db_url())
    cid = seed_case(store)
    at = app("views/browse.py", case_id=cid)
    assert at.button(key=f"delete_{cid}").disabled
    at.text_input(key=f"delete_reason_{cid}").set_value("duplicate upload")
    at.checkbox(key=f"delete_sure_{cid}").check()
    at.run()
    at.button(key=f"delete_{cid}").click().run()
    assert not at.exception, at.exception
    assert store.list_cases() == []
    events = [e for e in store.audit(cid) if e.action == "delete"]
    assert len(events) == 1 and events[0].details.get("reason") == "duplicate upload"
