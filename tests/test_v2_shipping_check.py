"""The verdict arithmetic of validation/v2_shipping_check (rules 3-5 of models/sarco-unet-v2/SHIPPING_RULE.md)."""

from __future__ import annotations

from typing import Any

from validation.v2_shipping_check import summarise, verdicts


def _row(kind: str, cand: tuple[float, float], inc: tuple[float, float]) -> dict[str, Any]:
    return {
        "id": f"1/{kind}",
        "kind": kind,
        "candidate": {"dice": cand[0], "sma_err_pct": cand[1]},
        "incumbent": {"dice": inc[0], "sma_err_pct": inc[1]},
    }


def test_rules_met_only_when_not_worse_everywhere_and_variants_within_5_pct() -> None:
    rows = [_row("default", (0.97, 2.0), (0.96, -3.0)), _row("hard", (0.93, 4.0), (0.92, 4.0))]
    vrows = [_row(v, (0.95, -3.0), (0.90, 9.0)) for v in ("anasarca", "cachexia", "bowel_flank", "ascites")]
    v = verdicts(summarise(rows + vrows), vrows, 0.9995)
    assert v["rule3_heldout_phantoms"]["met"] and v["rule4_variants"]["met"] and v["rule5_torch_onnx_agreement"]["met"]
    # a worse hard-contact SMA error fails rule 3; a variant over 5 % fails rule 4 even if better than the incumbent
    rows[1] = _row("hard", (0.93, -4.5), (0.92, 4.0))
    vrows[0] = _row("anasarca", (0.90, 6.0), (0.80, 30.0))
    vrows[1] = _row("cachexia", (0.90, -7.0), (0.80, 30.0))
    vrows[2] = _row("bowel_flank", (0.90, 6.5), (0.80, 30.0))
    v = verdicts(summarise(rows + vrows), vrows, 0.998)
    assert v["rule3_heldout_phantoms"]["per_render"] == {"default": True, "hard": False}
    assert not v["rule3_heldout_phantoms"]["met"]
    assert all(v["rule4_variants"]["per_variant_not_worse"].values())
    assert v["rule4_variants"]["candidate_overall_median_abs_sma_err_pct"] > 5.0 and not v["rule4_variants"]["met"]
    assert not v["rule5_torch_onnx_agreement"]["met"]
