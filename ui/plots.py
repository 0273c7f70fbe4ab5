"""Plotly figures of the cohort dashboard (pure: DataFrame in, figure out)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from sarco_core import cutoffs

SEX_COLOURS = {"F": "#d6336c", "M": "#1c7ed6", "unknown": "#868e96"}


@dataclass(frozen=True)
class BlandAltman:
    n: int
    bias: float | None
    sd: float | None
    loa_low: float | None
    loa_high: float | None


def bland_altman_stats(a: np.ndarray, b: np.ndarray) -> BlandAltman:
    """Bias (mean of b − a) and 95 % limits of agreement (bias ± 1.96 SD, sample SD)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    d = b - a
    n = int(d.size)
    if n == 0:
        return BlandAltman(0, None, None, None, None)
    bias = float(d.mean())
    if n < 2:
        return BlandAltman(n, bias, None, None, None)
    sd = float(d.std(ddof=1))
    return BlandAltman(n, bias, sd, bias - 1.96 * sd, bias + 1.96 * sd)


def _sex(df: pd.DataFrame) -> pd.Series:
    return df["sex"].fillna("unknown").replace("", "unknown")


def smi_distribution(df: pd.DataFrame, rule: str) -> go.Figure:
    """SMI histogram by sex with the rule's low-SMI cutoff lines."""
    fig = go.Figure()
    d = df.dropna(subset=["smi_cm2_m2"])
    sexes = _sex(d)
    lo = float(d["smi_cm2_m2"].min()) if len(d) else 20.0
    start = 2.5 * np.floor(min(lo, 25.0) / 2.5)
    for s in ("F", "M", "unknown"):
        vals = d.loc[sexes == s, "smi_cm2_m2"]
        if len(vals):
            fig.add_trace(
                go.Histogram(
                    x=vals,
                    name={"F": "Female", "M": "Male", "unknown": "Sex unknown"}[s],
                    marker_color=SEX_COLOURS[s],
                    opacity=0.65,
                    xbins=dict(start=start, size=2.5),
                )
            )
    _, r = cutoffs.get_rule(rule)
    n_line = 0
    for sex, spec in (("M", r.smi_male), ("F", r.smi_female)):
        vals = spec if isinstance(spec, tuple) else (spec,)
        for i, v in enumerate(vals):
            extra = "" if len(vals) == 1 else (" BMI<25" if i == 0 else " BMI≥25")
            fig.add_vline(x=v, line_dash="dash", line_color=SEX_COLOURS[sex])
            fig.add_annotation(
                x=v,
                y=1.02 + 0.08 * (n_line % 3),
                yref="paper",
                text=f"{sex} < {v:g}{extra}",
                showarrow=False,
                font=dict(size=10, color=SEX_COLOURS[sex]),
                xanchor="left",
            )
            n_line += 1
    fig.update_layout(
        barmode="overlay",
        xaxis_title="SMI (cm²/m²)",
        yaxis_title="cases",
        title=f"SMI by sex — cutoffs: {r.name}",
        legend_title_text="",
        height=420,
        margin=dict(l=10, r=10, t=100, b=10),
    )
    return fig


def scatter(df: pd.DataFrame, x: str, y: str, x_title: str, y_title: str, title: str) -> go.Figure:
    fig = go.Figure()
    d = df.dropna(subset=[x, y])
    sexes = _sex(d)
    for s in ("F", "M", "unknown"):
        sub = d[sexes == s]
        if len(sub):
            fig.add_trace(
                go.Scatter(
                    x=sub[x],
                    y=sub[y],
                    mode="markers",
                    name={"F": "Female", "M": "Male", "unknown": "Sex unknown"}[s],
                    marker=dict(color=SEX_COLOURS[s], size=9, line=dict(width=0.5, color="white")),
                    text=sub["label"],
                    hovertemplate="%{text}<br>" + x_title + " %{x:.2f}<br>" + y_title + " %{y:.2f}",
                )
            )
    fig.update_layout(
        xaxis_title=x_title, yaxis_title=y_title, title=title, height=380, margin=dict(l=10, r=10, t=60, b=10)
    )
    return fig


def bland_altman(df: pd.DataFrame) -> tuple[go.Figure, BlandAltman]:
    """Automatic vs latest (edited) SMA of the edited cases, each against the automatic mask of the same slice
    (``auto_same_slice``; the cohort table leaves ``auto_sma_cm2`` empty where there is none)."""
    same = df["auto_same_slice"].astype(bool) if "auto_same_slice" in df else True
    d = df[df["edited"].astype(bool) & same].dropna(subset=["auto_sma_cm2", "sma_cm2"])
    st = bland_altman_stats(d["auto_sma_cm2"].to_numpy(), d["sma_cm2"].to_numpy())
    mean = (d["auto_sma_cm2"] + d["sma_cm2"]) / 2
    diff = d["sma_cm2"] - d["auto_sma_cm2"]
    fig = go.Figure(
        go.Scatter(
            x=mean,
            y=diff,
            mode="markers",
            text=d["label"],
            name="edited cases",
            marker=dict(size=9, color="#7048e8"),
            hovertemplate="%{text}<br>mean %{x:.1f} cm²<br>edited − auto %{y:+.2f} cm²",
        )
    )
    if st.bias is not None:
        fig.add_hline(y=st.bias, line_color="#7048e8", annotation_text=f"bias {st.bias:+.2f} cm²")
    if st.loa_low is not None and st.loa_high is not None:
        for v, t in ((st.loa_low, "−1.96 SD"), (st.loa_high, "+1.96 SD")):
            fig.add_hline(y=v, line_dash="dot", line_color="#868e96", annotation_text=f"{t}: {v:+.2f} cm²")
    fig.add_hline(y=0, line_color="#ced4da", line_width=1)
    fig.update_layout(
        xaxis_title="mean of automatic and edited SMA (cm²)",
        yaxis_title="edited − automatic SMA (cm²)",
        title="Automatic vs edited SMA (Bland-Altman)",
        height=380,
        margin=dict(l=10, r=10, t=60, b=10),
    )
    return fig, st
