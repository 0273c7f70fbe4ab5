"""Held-out checks during training (never the validation patient): phantom Dice against exact labels,
agreement with teacher pseudo-labels on held-out real slices, and the confidence calibration."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch

from sarco_core.metrics import gated_scores
from sarco_core.segment.model.prep import ArchConfig, crop_model_grid, input_channels, to_model_hu
from sarco_core.segment.model.qc import Calibration, fit_calibration, raw_confidence
from sarco_core.train.augment import add_noise, coarse_pixels, fov_truncate, metal_streaks
from sarco_core.train.data import SliceSet


@torch.no_grad()
def predict_pair(
    net: torch.nn.Module, hu: np.ndarray, arch: ArchConfig, device: str, native_mm: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(probs, probs of the flipped slice flipped back) of one slice at the model pixel size, as inference does
    (``native_mm``: the slice's native pixel size, for a model with the pixel-size channel)."""
    net.eval()
    hu_t, grid = to_model_hu(hu[None], arch.pixel_size_mm, arch.pixel_size_mm, arch)
    x = torch.from_numpy(input_channels(hu_t, arch, native_mm)).to(device)
    p = torch.softmax(net(torch.cat([x, torch.flip(x, dims=[3])])), 1).cpu()
    return crop_model_grid(p[0], grid).numpy(), crop_model_grid(p[1].flip(dims=[2]), grid).numpy()


def _labels(p: np.ndarray, pf: np.ndarray) -> npt.NDArray[np.intp]:
    labels: npt.NDArray[np.intp] = ((p + pf) / 2).argmax(0)
    return labels


def slice_scores(hu: np.ndarray, truth: np.ndarray, pred: np.ndarray, px_mm: float) -> tuple[float, float | None]:
    """(HU-gated muscle Dice, SMA error %) at the model pixel size."""
    return gated_scores(hu, truth == 1, pred == 1, px_mm**2 / 100)


def evaluate_set(net: torch.nn.Module, s: SliceSet, arch: ArchConfig, device: str) -> dict[str, float]:
    """Median/mean gated Dice and median |SMA error| against the set's labels (exact or pseudo)."""
    dices, errs = [], []
    for i in s.labelled():
        lab = s.labels[i]
        assert lab is not None
        p, pf = predict_pair(net, s.hu[i], arch, device, s.native(i, arch.pixel_size_mm))
        d, e = slice_scores(s.hu[i], lab, _labels(p, pf), arch.pixel_size_mm)
        dices.append(d)
        if e is not None:
            errs.append(abs(e))
    if not dices:
        return {"n": 0}
    return {
        "n": len(dices),
        "dice_median": float(np.median(dices)),
        "dice_mean": float(np.mean(dices)),
        "dice_min": float(np.min(dices)),
        "sma_abs_error_pct_median": float(np.median(errs)) if errs else float("nan"),
    }


def corrupted_variants(
    hu: np.ndarray, lab: np.ndarray, rng: np.random.Generator
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The slice itself plus noisy, coarse, truncated and streaked versions (labels follow truncation)."""
    out = [("clean", hu, lab)]
    out.append(("noise", add_noise(hu, float(rng.uniform(40, 120)), rng), lab))
    out.append(("coarse", coarse_pixels(hu, float(rng.uniform(1.5, 3.0))), lab))
    th, tl = fov_truncate(hu, lab, float(rng.uniform(0.3, 0.42)))
    assert tl is not None
    out.append(("truncated", th, tl))
    out.append(
        ("streaks", metal_streaks(hu, rng, n_lines=int(rng.integers(8, 20)), amp_hu=float(rng.uniform(300, 900))), lab)
    )
    return out


def calibration_points(
    net: torch.nn.Module, s: SliceSet, arch: ArchConfig, device: str, rng: np.random.Generator
) -> tuple[list[float], list[float]]:
    """(raw confidence, gated Dice) of every labelled slice of ``s`` and its corrupted variants."""
    raws, dices = [], []
    for i in s.labelled():
        lab = s.labels[i]
        assert lab is not None
        for _name, hu, tl in corrupted_variants(s.hu[i], lab, rng):
            p, pf = predict_pair(net, hu, arch, device, s.native(i, arch.pixel_size_mm))
            raws.append(raw_confidence(p, pf)[0])
            dices.append(slice_scores(hu, tl, _labels(p, pf), arch.pixel_size_mm)[0])
    return raws, dices


def calibrate(
    net: torch.nn.Module, s: SliceSet, arch: ArchConfig, device: str, seed: int, extra: SliceSet | None = None
) -> tuple[Calibration, dict[str, float]]:
    """Fit raw-score -> expected gated Dice on held-out phantoms (and ``extra`` labelled slices, e.g. reviewed
    real slices) and their corrupted variants."""
    rng = np.random.default_rng([seed, 777])
    raws, dices = calibration_points(net, s, arch, device, rng)
    if extra is not None:
        r2, d2 = calibration_points(net, extra, arch, device, rng)
        raws, dices = raws + r2, dices + d2
    cal = fit_calibration(np.array(raws), np.array(dices))
    from scipy.stats import spearmanr

    rho = float(spearmanr(raws, dices).statistic) if len(set(dices)) > 1 else float("nan")
    return cal, {"n": len(raws), "spearman_conf_dice": rho, "dice_median": float(np.median(dices))}
