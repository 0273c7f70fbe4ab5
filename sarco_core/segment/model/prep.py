"""Pre- and post-processing shared by model training and inference.

A slice is resampled (bilinear) from its own pixel grid to the model's fixed pixel size, padded with air to a
multiple of the network stride, turned into one channel per HU window (each scaled to 0..1), and the class
probabilities are cropped and resampled (bilinear) back onto the slice's own grid.

NumPy only (no torch: the slim runtime runs inference with ONNX Runtime). The resampling reproduces
``torch.nn.functional.interpolate(mode="bilinear", align_corners=False, antialias=...)`` as one weight matrix per
axis (:func:`resample`; tests/test_model_prep.py checks it against torch where torch is installed), so models
trained with the torch pipeline see the same pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

AIR_HU = -1024.0
CLASSES = ("background", "muscle", "sat", "vat")
# the native-pixel-size input channel (ArchConfig.pixel_channel) holds native mm / this: 0.5..4 mm -> 0.125..1,
# the range of the window channels
PIXEL_CHANNEL_SCALE_MM = 4.0


@dataclass(frozen=True)
class ArchConfig:
    """Network architecture (segmentation_models_pytorch)."""

    arch: str = "Unet"
    encoder: str = "resnet18"
    encoder_depth: int = 4
    decoder_channels: tuple[int, ...] = (128, 64, 32, 16)
    encoder_weights: str | None = None
    windows_hu: tuple[tuple[float, float], ...] = ((-200.0, 250.0), (-1000.0, 1000.0), (100.0, 1500.0))
    classes: tuple[str, ...] = CLASSES
    pixel_size_mm: float = 2.0
    stride_px: int = 16
    # one more input channel, constant over the slice: the slice's native pixel size (mm, before resampling to
    # the model grid; for a blurred training sample the pixel size it simulates). Without it a blurred fine scan
    # and a coarse scan look alike to the network (the v4 note in docs/model.md).
    pixel_channel: bool = False

    @property
    def in_channels(self) -> int:
        return len(self.windows_hu) + int(self.pixel_channel)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ArchConfig:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if "decoder_channels" in known:
            known["decoder_channels"] = tuple(int(v) for v in known["decoder_channels"])
        if "windows_hu" in known:
            known["windows_hu"] = tuple((float(a), float(b)) for a, b in known["windows_hu"])
        if "classes" in known:
            known["classes"] = tuple(known["classes"])
        if "pixel_channel" in known:
            known["pixel_channel"] = bool(known["pixel_channel"])
        return cls(**known)

    def to_dict(self) -> dict[str, Any]:
        return {
            "arch": self.arch,
            "encoder": self.encoder,
            "encoder_depth": self.encoder_depth,
            "decoder_channels": list(self.decoder_channels),
            "encoder_weights": self.encoder_weights,
            "windows_hu": [list(w) for w in self.windows_hu],
            "classes": list(self.classes),
            "pixel_size_mm": self.pixel_size_mm,
            "stride_px": self.stride_px,
            **({"pixel_channel": True} if self.pixel_channel else {}),  # v1 configs stay byte-identical
        }


def build_network(arch: ArchConfig, out_channels: int | None = None) -> torch.nn.Module:
    """The U-Net (random init; ``encoder_weights`` is always None here: we never download). Needs torch and
    segmentation_models_pytorch (``requirements-train.txt``); inference with ONNX Runtime does not."""
    import segmentation_models_pytorch as smp
    import torch

    net_cls = getattr(smp, arch.arch)
    net: torch.nn.Module = net_cls(
        encoder_name=arch.encoder,
        encoder_depth=arch.encoder_depth,
        encoder_weights=None,
        decoder_channels=list(arch.decoder_channels),
        in_channels=arch.in_channels,
        classes=out_channels or len(arch.classes),
    )
    # smp keeps the unused deepest ResNet stages of a shallow encoder: drop them (a third of the weights)
    enc = net.encoder
    for depth, name in ((5, "layer4"), (4, "layer3")):
        if arch.encoder_depth < depth and isinstance(getattr(enc, name, None), torch.nn.Module):
            delattr(enc, name)
    return net


# ---------------------------------------------------------------------------------------------- resampling
@lru_cache(maxsize=64)
def _taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i0, i1, frac) of torch's plain bilinear ``interpolate(align_corners=False)`` along one axis."""
    scale = n_in / n_out
    # index arithmetic in float32, as torch does for float input
    src = np.maximum(np.float32(scale) * (np.arange(n_out, dtype=np.float32) + np.float32(0.5)) - np.float32(0.5), 0)
    src = src.astype(np.float64)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, (src - i0).astype(np.float32)


@lru_cache(maxsize=64)
def _weights(n_in: int, n_out: int, antialias: bool) -> np.ndarray:
    """(n_out, n_in) bilinear weights of torch's ``interpolate(align_corners=False)`` along one axis."""
    scale = n_in / n_out
    w = np.zeros((n_out, n_in), np.float64)
    if antialias:  # torch's _upsample_bilinear2d_aa (PIL's triangle filter, widened by the scale when shrinking)
        support = scale if scale >= 1.0 else 1.0
        invscale = 1.0 / scale if scale >= 1.0 else 1.0
        for i in range(n_out):
            center = scale * (i + 0.5)
            lo = max(int(center - support + 0.5), 0)
            hi = min(int(center + support + 0.5), n_in)
            j = np.arange(lo, hi)
            f = np.clip(1.0 - np.abs((j - center + 0.5) * invscale), 0.0, None)
            total = f.sum()
            w[i, lo:hi] = f / total if total else f
        return w.astype(np.float32)
    i0, i1, frac = _taps(n_in, n_out)
    rows = np.arange(n_out)
    np.add.at(w, (rows, i0), 1.0 - frac)
    np.add.at(w, (rows, i1), frac)
    return w.astype(np.float32)


def _two_tap(a: np.ndarray, n_out: int, axis: int) -> np.ndarray:
    i0, i1, frac = _taps(a.shape[axis], n_out)
    shape = [1] * a.ndim
    shape[axis] = n_out
    f = frac.reshape(shape)
    return np.asarray(np.take(a, i0, axis=axis) * (np.float32(1.0) - f) + np.take(a, i1, axis=axis) * f)


def resample(x: np.ndarray, size: tuple[int, int], *, antialias: bool = False) -> np.ndarray:
    """Bilinear resampling of the last two axes of ``x`` to ``size`` (float32), as torch's
    ``interpolate(mode="bilinear", align_corners=False, antialias=antialias)``."""
    a = np.asarray(x, dtype=np.float32)
    h, w = a.shape[-2], a.shape[-1]
    if (h, w) == tuple(size):
        return a
    if not antialias:  # two taps per output pixel: gather, no matrix
        return _two_tap(_two_tap(a, int(size[0]), a.ndim - 2), int(size[1]), a.ndim - 1)
    wr = _weights(h, int(size[0]), antialias)
    wct = _weights(w, int(size[1]), antialias).T.copy()  # contiguous, so matmul runs on BLAS
    return np.asarray(np.matmul(np.matmul(wr, a), wct))


def windows_to_channels(hu: np.ndarray, windows_hu: tuple[tuple[float, float], ...]) -> np.ndarray:
    """(B, 1, H, W) HU -> (B, n_windows, H, W) in 0..1."""
    h = np.asarray(hu, dtype=np.float32)
    chans = [np.clip((h - lo) / (hi - lo), 0.0, 1.0) for lo, hi in windows_hu]
    return np.concatenate(chans, axis=1).astype(np.float32, copy=False)


def input_channels(
    hu: np.ndarray, arch: ArchConfig, native_mm: float | list[float] | tuple[float, ...] | None = None
) -> np.ndarray:
    """(B, 1, H, W) HU on the model grid -> the network input: the window channels and, with
    ``arch.pixel_channel``, a constant channel of the native pixel size (one value per batch item; None = the model
    pixel size itself)."""
    x = windows_to_channels(hu, arch.windows_hu)
    if not arch.pixel_channel:
        return x
    b, _, h, w = x.shape
    vals = arch.pixel_size_mm if native_mm is None else native_mm
    v = np.asarray(vals, dtype=np.float32).reshape(-1, 1, 1, 1)
    if v.shape[0] not in (1, b):
        raise ValueError(f"native_mm has {v.shape[0]} values for a batch of {b}")
    extra = np.broadcast_to(v / np.float32(PIXEL_CHANNEL_SCALE_MM), (b, 1, h, w))
    return np.concatenate([x, extra], axis=1).astype(np.float32, copy=False)


@dataclass(frozen=True)
class Grid:
    """How a batch of slices was brought onto the model grid (to undo it)."""

    in_shape: tuple[int, int]
    scaled_shape: tuple[int, int]
    pad: tuple[int, int, int, int] = field(default=(0, 0, 0, 0))  # top, bottom, left, right


def scaled_shape(shape: tuple[int, int], row_mm: float, col_mm: float, pixel_mm: float) -> tuple[int, int]:
    return (max(8, round(shape[0] * row_mm / pixel_mm)), max(8, round(shape[1] * col_mm / pixel_mm)))


def to_model_hu(hu: np.ndarray, row_mm: float, col_mm: float, arch: ArchConfig) -> tuple[np.ndarray, Grid]:
    """(B, H, W) HU on the slice grid -> (B, 1, H', W') HU at ``arch.pixel_size_mm``, padded with air."""
    t = np.asarray(hu, dtype=np.float32)
    if t.ndim == 2:
        t = t[None]
    t = np.clip(t, AIR_HU, 3071.0)[:, None]
    in_shape = (int(t.shape[-2]), int(t.shape[-1]))
    out = scaled_shape(in_shape, row_mm, col_mm, arch.pixel_size_mm)
    if out != in_shape:
        t = resample(t, out, antialias=out[0] < in_shape[0])
    s = arch.stride_px
    ph, pw = (-out[0]) % s, (-out[1]) % s
    pad = (ph // 2, ph - ph // 2, pw // 2, pw - pw // 2)
    if ph or pw:
        t = np.pad(t, ((0, 0), (0, 0), (pad[0], pad[1]), (pad[2], pad[3])), constant_values=AIR_HU)
    return np.ascontiguousarray(t, dtype=np.float32), Grid(in_shape=in_shape, scaled_shape=out, pad=pad)


def to_model_grid(hu: np.ndarray, row_mm: float, col_mm: float, arch: ArchConfig) -> tuple[np.ndarray, Grid]:
    """(B, H, W) HU on the slice grid -> (B, C, H', W') windowed network input at the model's pixel size."""
    t, grid = to_model_hu(hu, row_mm, col_mm, arch)
    return input_channels(t, arch, float(np.sqrt(row_mm * col_mm))), grid


def crop_model_grid(t: Any, grid: Grid) -> Any:
    """Remove the stride padding of a (..., H', W') array (NumPy or torch)."""
    top, bottom, left, right = grid.pad
    h, w = t.shape[-2], t.shape[-1]
    return t[..., top : h - bottom, left : w - right]


def from_model_grid(probs: np.ndarray, grid: Grid) -> np.ndarray:
    """(B, K, H', W') probabilities on the model grid -> (B, K, H, W) on the slice grid (rows sum to 1)."""
    p = crop_model_grid(np.asarray(probs, dtype=np.float32), grid)
    if grid.scaled_shape != grid.in_shape:
        p = resample(p, grid.in_shape)
    return np.asarray(p)


def resample_slice(hu: np.ndarray, row_mm: float, col_mm: float, pixel_mm: float) -> np.ndarray:
    """One HU slice onto the fixed pixel size (float32), as the model sees it before padding."""
    t = np.clip(np.asarray(hu, dtype=np.float32), AIR_HU, 3071.0)
    out = scaled_shape((t.shape[0], t.shape[1]), row_mm, col_mm, pixel_mm)
    if out != t.shape:
        t = resample(t, out, antialias=out[0] < t.shape[0])
    return t


def resample_labels(
    labels: np.ndarray, row_mm: float, col_mm: float, pixel_mm: float, n_classes: int = 4
) -> np.ndarray:
    """Label map onto the fixed pixel size: one-hot, bilinear (antialiased), argmax (uint8)."""
    lab = np.asarray(labels)
    out = scaled_shape((lab.shape[0], lab.shape[1]), row_mm, col_mm, pixel_mm)
    if out == lab.shape:
        return np.asarray(labels, dtype=np.uint8)
    lab = np.clip(lab.astype(np.int64), 0, n_classes - 1)
    oh = (lab[None] == np.arange(n_classes)[:, None, None]).astype(np.float32)
    oh = resample(oh, out, antialias=out[0] < lab.shape[0])
    return np.asarray(oh.argmax(0), dtype=np.uint8)
