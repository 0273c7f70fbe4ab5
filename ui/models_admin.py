"""The "Models" page (admin): which model the app uses, fine-tuned candidates with their held-out scores,
promotion by the registry's rule, and switching back to an earlier model. All rules live in
:mod:`sarco_core.model_registry`; this module only shows them and passes the clicks on."""

from __future__ import annotations

import streamlit as st

from sarco_core.errors import SarcoError
from sarco_core.model_registry import EntryStatus, PromotionRule, Registry


def _rows(reg: Registry) -> list[dict[str, object]]:
    active = reg.active
    rows: list[dict[str, object]] = []
    for e in reg.entries:
        rows.append(
            {
                "active": "✓" if active is not None and e.name == active.name else "",
                "model": e.name,
                "status": e.status.value,
                "parent": e.parent or "",
                "held-out Dice (child / parent)": ""
                if e.child_scores is None or e.parent_scores is None
                else f"{e.child_scores.dice_median:.3f} / {e.parent_scores.dice_median:.3f}",
                "held-out |SMA error| % (child / parent)": ""
                if e.child_scores is None or e.parent_scores is None
                else f"{e.child_scores.sma_abs_error_pct_median:.1f} / {e.parent_scores.sma_abs_error_pct_median:.1f}",
                "decision": e.decision,
            }
        )
    return rows


def page() -> None:
    st.title("Models")
    try:
        reg = Registry.load()
    except SarcoError as exc:
        st.error(str(exc))
        return
    active = reg.active
    st.caption(
        f"Registry: `{reg.root}` (set `SARCO_MODELS_HOME` to move it). Active model: "
        f"**{active.name if active else 'none'}**. Fine-tune with `sarco finetune`; see site-adaptation.md."
    )
    st.dataframe(_rows(reg), hide_index=True, width="stretch")
    st.caption(f"Promotion rule: {PromotionRule().text}.")
    candidates = [e.name for e in reg.entries if e.status in (EntryStatus.CANDIDATE, EntryStatus.REFUSED)]
    if candidates:
        name = st.selectbox("Candidate", candidates, key="mdl_candidate")
        if st.button("Promote by the rule", key="mdl_promote"):
            try:
                _, why = reg.promote(name)
                st.success(f"{name} is now the active model: {why}.")
            except SarcoError as exc:
                st.error(str(exc))
    earlier = [
        e.name
        for e in reg.entries
        if e.status in (EntryStatus.SHIPPED, EntryStatus.PROMOTED) and (active is None or e.name != active.name)
    ]
    if earlier:
        to = st.selectbox("Switch back to", earlier, key="mdl_rollback_to")
        if st.button("Make active", key="mdl_rollback"):
            try:
                Registry.load().rollback(to)
                st.success(f"{to} is now the active model; new analyses use it.")
            except SarcoError as exc:
                st.error(str(exc))
