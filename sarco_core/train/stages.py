"""Batches and losses of the three stages: self-supervised pretraining (masked-image + denoising
reconstruction), supervised segmentation, and self-training label refresh."""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

from sarco_core.segment.model.prep import ArchConfig, crop_model_grid, input_channels, to_model_hu
from sarco_core.train.augment import augment, augment_sample
from sarco_core.train.config import AugmentConfig, SelfTrainConfig, SSLConfig
from sarco_core.train.data import SliceSet

IGNORE = 255


def _channels(hu: list[np.ndarray], arch: ArchConfig, native_mm: list[float] | None = None) -> torch.Tensor:
    return torch.from_numpy(input_channels(np.stack(hu)[:, None], arch, native_mm))


# --------------------------------------------------------------------------------------------- SSL
def ssl_batch_fn(pool: list[np.ndarray], arch: ArchConfig, aug: AugmentConfig, ssl: SSLConfig, crop_px: int):  # noqa: ANN201
    """Input = augmented slice with random patches blanked and noise added; target = the clean slice + mask."""

    def fn(rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        clean = []
        for _ in range(ssl.batch):
            hu, _ = augment(pool[int(rng.integers(len(pool)))], None, rng, aug, crop_px)
            clean.append(hu)
        target = _channels(clean, arch)
        noisy = [h + rng.normal(0, ssl.noise_hu, h.shape).astype(np.float32) * (h > -900) for h in clean]
        x = _channels(noisy, arch)
        g = crop_px // ssl.patch_px
        keep = torch.from_numpy(rng.random((ssl.batch, 1, g, g)) >= ssl.mask_ratio).float()
        keep = F.interpolate(keep, scale_factor=ssl.patch_px, mode="nearest")
        x = x * keep
        return x, torch.cat([target, 1.0 - keep], dim=1)

    return fn


def ssl_loss(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    c = x.shape[1]
    target, masked = y[:, :c], y[:, c:]
    err = (net(x) - target).abs()
    loss: torch.Tensor = (err * (1.0 + 3.0 * masked)).mean()  # the network's output is Any (torch.nn.Module)
    return loss


# --------------------------------------------------------------------------------------------- supervised
def seg_batch_fn(
    phantoms: SliceSet,
    real: SliceSet,
    arch: ArchConfig,
    aug: AugmentConfig,
    batch: int,
    crop_px: int,
    real_fraction: float,
    real_weights: tuple[tuple[str, float], ...] = (),
    coarse: tuple[SliceSet, SliceSet] | None = None,
    coarse_fraction: float = 0.0,
):  # noqa: ANN201
    """Batches of augmented (channels, labels); a ``coarse_fraction`` share of samples comes from the coarse-pixel
    copies ``coarse`` = (phantom, real) when given (the extra draw is made only then, so other configs keep their
    data order)."""
    pools = [(phantoms, real)]
    if coarse is not None and coarse_fraction > 0:
        pools.append(coarse)
    picks = []
    for ph_set, re_set in pools:
        re_i = re_set.labelled()
        pick = real_sampler([re_set.names[i] for i in re_i], real_weights)
        picks.append((ph_set, ph_set.labelled(), re_set, re_i, pick))

    def fn(rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        hus: list[np.ndarray] = []
        labs: list[np.ndarray] = []
        natives: list[float] = []
        for _ in range(batch):
            ph_set, ph_idx, re_set, re_idx, pick_real = picks[0]
            if len(picks) > 1 and rng.random() < coarse_fraction:
                ph_set, ph_idx, re_set, re_idx, pick_real = picks[1]
            use_real = bool(re_idx) and (not ph_idx or rng.random() < real_fraction)
            src, idx = (re_set, re_idx) if use_real else (ph_set, ph_idx)
            i = idx[pick_real(rng) if use_real else int(rng.integers(len(idx)))]
            smp = augment_sample(src.hu[i], src.labels[i], rng, aug, crop_px)
            assert smp.labels is not None
            hus.append(smp.hu)
            labs.append(smp.labels)
            # a blurred sample simulates pixels of (model pixel x blur factor): the pixel size the channel reports
            natives.append(max(src.native(i, arch.pixel_size_mm), arch.pixel_size_mm * smp.blur_factor))
        return _channels(hus, arch, natives), torch.from_numpy(np.stack(labs).astype(np.int64))

    return fn


def sample_weight(name: str, real_weights: tuple[tuple[str, float], ...]) -> float:
    """Product of the weights of every ``[regex, weight]`` pair whose regex matches ``name`` (1 when none)."""
    w = 1.0
    for rx, wt in real_weights:
        if re.search(rx, name):
            w *= float(wt)
    return w


def real_sampler(names: list[str], real_weights: tuple[tuple[str, float], ...]):  # noqa: ANN201
    """rng -> index into ``names``: uniform (the draw used before weights existed) when no weights are given,
    else proportional to :func:`sample_weight`."""
    n = len(names)
    if not real_weights or n == 0:
        return lambda rng: int(rng.integers(max(n, 1)))
    w = np.array([sample_weight(nm, real_weights) for nm in names], dtype=np.float64)
    cum = np.cumsum(w / w.sum())
    return lambda rng: min(int(np.searchsorted(cum, rng.random(), side="right")), n - 1)


CLASS_WEIGHTS = (0.5, 1.5, 1.0, 1.0)


def seg_loss(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy + soft Dice of the muscle, SAT and VAT classes (label 255 ignored)."""
    logits = net(x)
    w = torch.tensor(CLASS_WEIGHTS, device=logits.device)
    ce = F.cross_entropy(logits, y, weight=w, ignore_index=IGNORE)
    valid = (y != IGNORE).unsqueeze(1).float()
    prob = torch.softmax(logits, 1) * valid
    oh = F.one_hot(y.clamp(0, logits.shape[1] - 1), logits.shape[1]).permute(0, 3, 1, 2).float() * valid
    inter = (prob * oh).sum((0, 2, 3))
    den = prob.sum((0, 2, 3)) + oh.sum((0, 2, 3))
    dice = (2 * inter + 1.0) / (den + 1.0)
    return ce + (1.0 - dice[1:]).mean() + 0.5 * (1.0 - dice[1])


# --------------------------------------------------------------------------------------------- inference helpers
@torch.no_grad()
def predict_probs(
    net: torch.nn.Module,
    hu: np.ndarray,
    arch: ArchConfig,
    device: str,
    tta: bool = True,
    native_mm: float | None = None,
) -> npt.NDArray[np.float32]:
    """(K, H, W) probabilities of one slice already at the model pixel size (``native_mm``: its native pixel
    size, for a model with the pixel-size channel)."""
    net.eval()
    hu_t, grid = to_model_hu(hu[None], arch.pixel_size_mm, arch.pixel_size_mm, arch)
    x = torch.from_numpy(input_channels(hu_t, arch, native_mm)).to(device)
    p = torch.softmax(net(x), 1)
    if tta:
        p = (p + torch.softmax(net(torch.flip(x, dims=[3])), 1).flip(dims=[3])) / 2
    probs: npt.NDArray[np.float32] = crop_model_grid(p[0].cpu(), grid).numpy()
    return probs


def refresh_labels(
    net: torch.nn.Module, real: SliceSet, arch: ArchConfig, device: str, st: SelfTrainConfig
) -> tuple[SliceSet, dict[str, float]]:
    """Self-training: confident model pixels replace the teacher's labels; unlabelled slices get model labels
    where confident and 'ignore' elsewhere."""
    out = SliceSet()
    changed, total, n_conf = 0, 0, 0
    for i in range(len(real)):
        p = predict_probs(net, real.hu[i], arch, device, native_mm=real.native(i, arch.pixel_size_mm))
        pred = p.argmax(0).astype(np.uint8)
        sure = p.max(0) >= st.min_probability
        old = real.labels[i]
        if old is None:
            new = np.where(sure, pred, IGNORE).astype(np.uint8)
        else:
            new = np.where(sure, pred, old).astype(np.uint8)
            changed += int((new != old).sum())
            total += old.size
        n_conf += int(sure.sum())
        out.add(real.hu[i], new, real.names[i], real.confidence[i], native_mm=real.native_mm[i])
    stats = {
        "pixels_changed_frac": changed / max(1, total),
        "confident_frac": n_conf / max(1, sum(h.size for h in real.hu)),
    }
    return out, stats
