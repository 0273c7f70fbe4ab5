"""Cohort dashboard: filterable case table, SMI/SMA/HU plots, automatic-vs-edited agreement, review queue,
CSV/XLSX export and import of manual masks with comparison against the automatic mask."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from sarco_core import cutoffs
from sarco_core.auth import Permission
from sarco_core.errors import SarcoError
from sarco_core.flags import flag_text, merge_flags, split_flags
from ui import auth, backend, plots, state

REVIEW_CONFIDENCE = 0.7


def cohort_frame() -> pd.DataFrame:
    df = backend.store().cohort_frame()
    if len(df):
        df["edited"] = df["edited"].astype(bool)
        df["qc_flags"] = df["qc_flags"].fillna("")
    return df


def filter_frame(df: pd.DataFrame, *, sexes: list[str], flags: str, edited: str, rules: list[str]) -> pd.DataFrame:
    """Apply the dashboard filters (pure)."""
    if not len(df):
        return df
    sex = df["sex"].fillna("unknown")
    out = df[sex.isin(sexes)]
    if flags == "with QC flags":
        out = out[out["qc_flags"] != ""]
    elif flags == "without QC flags":
        out = out[out["qc_flags"] == ""]
    if edited == "edited":
        out = out[out["edited"]]
    elif edited == "not edited":
        out = out[~out["edited"]]
    if rules:
        out = out[out["rule"].isin(rules)]
    return out


def review_queue(df: pd.DataFrame, min_confidence: float = REVIEW_CONFIDENCE) -> pd.DataFrame:
    """Cases not yet edited whose confidence is low or that carry mask / level QC flags (acquisition notes such as
    kVp or contrast phase do not count), least confident first."""
    if not len(df):
        return df
    conf = df["confidence"].astype(float)
    mask_flags = df["qc_flags"].map(lambda s: bool(split_flags(str(s).split(";"))[0]))
    need = (~df["edited"]) & ((conf < min_confidence) | conf.isna() | mask_flags)
    return df[need].sort_values("confidence", na_position="first")


def _open(case_id: int, page: str) -> None:
    state.set_case(case_id)
    st.session_state["go_page"] = page


def flag_words(codes: str) -> str:
    """The review queue's text of a case's flags: the short sentence of each (one table, sarco_core.flags)."""
    return " ".join(flag_text(c).sentence for c in merge_flags(x for x in str(codes).split(";") if x.strip()))


def page() -> None:
    st.title("Cohort dashboard")
    state.init()
    state.show_flashes("dashboard")
    go = st.session_state.pop("go_page", None)
    if go:
        st.switch_page(go)
    if not auth.require(Permission.DASHBOARD, "use the cohort dashboard"):
        return
    try:
        df = cohort_frame()
    except SarcoError as exc:
        st.error(str(exc))
        return
    if not len(df):
        st.info("No cases yet. Analyse scans on **Upload & analyse**; they appear here.")
        return

    # ------------------------------------------------------------ filters
    with st.expander("Filters", expanded=True):
        c1, c2, c3, c4 = st.columns(4)
        sexes = c1.multiselect("Sex", ["F", "M", "unknown"], default=["F", "M", "unknown"], key="dash_sex")
        flags = c2.selectbox("QC flags", ["all", "with QC flags", "without QC flags"], key="dash_flags")
        edited = c3.selectbox("Edited", ["all", "edited", "not edited"], key="dash_edited")
        rule_keys = sorted(df["rule"].dropna().unique().tolist())
        rules = c4.multiselect(
            "Rule used",
            rule_keys,
            default=rule_keys,
            format_func=lambda k: cutoffs.RULES[k].name if k in cutoffs.RULES else k,
            key="dash_rules",
        )
    view = filter_frame(df, sexes=sexes, flags=flags, edited=edited, rules=rules)
    keys = list(cutoffs.RULES)
    active = st.selectbox(
        "Cutoff lines of",
        keys,
        index=keys.index(cutoffs.DEFAULT_RULE),
        format_func=lambda k: cutoffs.RULES[k].name,
        key="dash_rule",
    )

    same = df[df["auto_same_slice"].astype(bool)]
    n_edit = int(same["edited"].sum())
    n_over = int(df["l3_overridden"].astype(bool).sum())
    m1, m2, m3, m4, m5 = st.columns(5)
    m1.metric("Cases (shown / all)", f"{len(view)} / {len(df)}")
    m2.metric(
        "Edit rate",
        f"{n_edit / len(same) * 100:.0f} %" if len(same) else "—",
        help=f"{n_edit} of {len(same)} cases have a saved mask that differs from the automatic mask of the same "
        "slice. Restoring a version is not an edit; L3 overrides are counted separately.",
    )
    m5.metric(
        "L3 set by hand",
        f"{n_over}",
        help="Cases whose measured slice was changed by hand from the automatic L3 (counted apart from mask edits).",
    )
    low = view["low_smi"]
    m3.metric(
        "Low SMI (CT-defined)",
        f"{int(low.eq(True).sum())}",
        help="By each case's own rule; undetermined cases are not counted.",
    )
    m4.metric(
        "Undetermined", f"{int(low.isna().sum())}", help="Missing height, sex or (for BMI-dependent rules) weight."
    )

    # ------------------------------------------------------------ plots
    p1, p2 = st.columns(2)
    p1.plotly_chart(plots.smi_distribution(view, active), width="stretch", key="fig_smi")
    p2.plotly_chart(
        plots.scatter(view, "height_m", "sma_cm2", "height (m)", "SMA (cm²)", "SMA vs height"),
        width="stretch",
        key="fig_sma_h",
    )
    p3, p4 = st.columns(2)
    p3.plotly_chart(
        plots.scatter(view, "smi_cm2_m2", "muscle_hu_mean", "SMI (cm²/m²)", "muscle HU", "Muscle attenuation vs SMI"),
        width="stretch",
        key="fig_hu",
    )
    fig, ba = plots.bland_altman(view)
    with p4:
        st.plotly_chart(fig, width="stretch", key="fig_ba")
        if ba.n:
            st.caption(
                f"{ba.n} edited case(s): bias {ba.bias:+.2f} cm²"
                + (
                    f", limits of agreement {ba.loa_low:+.2f} to {ba.loa_high:+.2f} cm²"
                    if ba.loa_low is not None
                    else " (limits of agreement need at least 2 edited cases)"
                )
            )
        else:
            st.caption("No edited cases yet: nothing to compare.")
        st.caption(
            "Method: each point is one case whose latest saved mask differs from the automatic mask **of the same "
            "slice**; difference = saved − automatic SMA (cm²), limits = bias ± 1.96 SD (Bland & Altman 1986). "
            f"Cases whose latest mask has no automatic mask on its slice are left out ({len(df) - len(same)}); "
            f"L3 overrides are counted apart ({n_over}); restoring a version is not an edit."
        )

    # ------------------------------------------------------------ table + export
    st.subheader("Cases")
    cols = [
        "case_id",
        "label",
        "sex",
        "height_m",
        "weight_kg",
        "rule",
        "method",
        "slice_index",
        "auto_sma_cm2",
        "sma_cm2",
        "sma_change_cm2",
        "smi_cm2_m2",
        "muscle_hu_mean",
        "low_smi",
        "confidence",
        "qc_flags",
        "edited",
        "latest_version",
        "latest_author",
    ]
    table = view[cols].copy()
    table.insert(0, "open", [f"/case?case={int(i)}" for i in table["case_id"]])
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        key="cohort_table",
        column_config={
            "open": st.column_config.LinkColumn("case page", display_text="open", help="The case page (?case=N)."),
            "auto_sma_cm2": st.column_config.NumberColumn("auto SMA (cm²)", format="%.2f"),
            "sma_cm2": st.column_config.NumberColumn("SMA (cm²)", format="%.2f"),
            "sma_change_cm2": st.column_config.NumberColumn("SMA change (cm²)", format="%+.2f"),
            "smi_cm2_m2": st.column_config.NumberColumn("SMI (cm²/m²)", format="%.1f"),
            "muscle_hu_mean": st.column_config.NumberColumn("muscle HU", format="%.1f"),
            "confidence": st.column_config.ProgressColumn("confidence", min_value=0.0, max_value=1.0, format="%.2f"),
        },
    )
    may_export = auth.can(Permission.EXPORT)
    d1, d2, _ = st.columns([1, 1, 3])
    d1.download_button(
        "Download CSV",
        data=lambda: _csv(view),
        file_name="sarco_cohort.csv",
        mime="text/csv",
        on_click="ignore",
        width="stretch",
        disabled=not may_export,
    )
    d2.download_button(
        "Download XLSX",
        data=lambda: _xlsx(view),
        file_name="sarco_cohort.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        on_click="ignore",
        width="stretch",
        disabled=not may_export,
    )

    # ------------------------------------------------------------ review queue
    st.subheader("Review queue")
    q = review_queue(df)
    if not len(q):
        st.success(f"Nothing to review: every unedited case has confidence ≥ {REVIEW_CONFIDENCE:.0%} and no QC flags.")
    else:
        st.caption(
            f"Unedited cases with confidence below {REVIEW_CONFIDENCE:.0%} or with QC flags, least confident first."
        )
        for _, row in q.head(25).iterrows():
            a, b, c, e = st.columns([3, 5, 1, 1])
            conf = row["confidence"]
            a.markdown(
                f"**#{row['case_id']} {row['label']}** · confidence " + ("—" if pd.isna(conf) else f"{conf:.0%}")
            )
            b.caption(flag_words(row["qc_flags"]) or "no flags")
            cid = int(row["case_id"])
            c.button("Open case", key=f"review_case_{cid}", on_click=_open, args=(cid, "views/case.py"))
            if auth.can(Permission.EDIT):
                e.button("Edit", key=f"review_{cid}", on_click=_open, args=(cid, "views/edit.py"))

    if auth.can(Permission.IMPORT):
        import_section(df)


def _csv(df: pd.DataFrame) -> bytes:
    try:
        from sarco_core.export import cohort_csv

        return cohort_csv(df.to_dict("records"))
    except ImportError:
        text: str = df.to_csv(index=False)  # pandas: untyped here
        return text.encode()


def _xlsx(df: pd.DataFrame) -> bytes:
    try:
        from sarco_core.export import cohort_xlsx

        return cohort_xlsx(df.to_dict("records"))
    except ImportError:
        buf = io.BytesIO()
        df.to_excel(buf, index=False, sheet_name="cohort")
        return buf.getvalue()


def import_section(df: pd.DataFrame) -> None:
    st.subheader("Import a manual mask")
    st.caption(
        "Compare an existing manual segmentation (NIfTI on the case's grid, or DICOM-SEG of its series) "
        "with the case's automatic mask. The import is kept as a new version (source: import)."
    )
    ids = df["case_id"].tolist()
    labels = dict(zip(df["case_id"], df["label"], strict=False))
    cur = state.case_id()
    c1, c2 = st.columns([1, 2])
    cid = c1.selectbox(
        "Case",
        ids,
        index=ids.index(cur) if cur in ids else 0,
        format_func=lambda i: f"#{i} {labels[i]}",
        key="import_case",
    )
    up = c2.file_uploader("Mask file (.nii, .nii.gz, .dcm)", key="import_file")
    if up is not None and st.button("Import and compare", key="import_btn"):
        try:
            version, cmp = import_and_compare(int(cid), up.name, up.getvalue())
        except SarcoError as exc:
            st.error(str(exc))
        else:
            st.session_state["import_result"] = (int(cid), version.number, cmp)
    res = st.session_state.get("import_result")
    if res is not None:
        cid_r, number, cmp = res
        st.success(f"Imported as version {number} of case #{cid_r}.")
        a, b, c = st.columns(3)
        a.metric("Dice (HU-gated muscle)", f"{cmp.gated_dice:.3f}")
        b.metric("SMA manual − automatic", f"{cmp.sma_diff_cm2:+.2f} cm²")
        c.metric("SMA difference", "—" if cmp.sma_diff_pct is None else f"{cmp.sma_diff_pct:+.1f} %")
        st.caption(f"Automatic SMA {cmp.sma_a_cm2:.2f} cm², manual SMA {cmp.sma_b_cm2:.2f} cm².")


def import_and_compare(case_id: int, name: str, data: bytes) -> tuple[Any, Any]:
    """Read a manual mask for ``case_id``, store it as a version and compare it with the automatic one."""
    from sarco_core.export import read_manual_mask

    store = backend.store()
    vol = backend.case_volume(case_id)
    labels = read_manual_mask(data, vol)
    versions = store.versions(case_id)
    latest = versions[-1]
    auto = next(
        (v for v in reversed(versions) if v.source == "auto" and v.slice_index == latest.slice_index), versions[0]
    )
    # the file name is not stored (names often carry patient identifiers): only what kind of file it was
    kind = "NIfTI mask" if name.lower().endswith((".nii", ".nii.gz")) else "mask file"
    v = store.import_mask(case_id, np.asarray(labels), source_name=f"an uploaded {kind}", author=state.author())
    return v, store.compare_versions(auto.id, v.id)
