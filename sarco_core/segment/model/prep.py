"""Pre- and post-processing shared by model training and inference.

A slice is resampled (bilinear) from its own pixel grid to the model's fixed pixel size, padded with air to a
multiple of the network stride, turned into one channel per HU window (each scaled to 0..1), and the class
probabilities are cropped and resampled (bilinear) back onto the slice's own grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

AIR_HU = -1024.0
CLASSES = ("background", "muscle", "sat", "vat")


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

    @property
    def in_channels(self) -> int:
        return len(self.windows_hu)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ArchConfig:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if "decoder_channels" in known:
            known["decoder_channels"] = tuple(int(v) for v in known["decoder_channels"])
        if "windows_hu" in known:
            known["windows_hu"] = tuple((float(a), float(b)) for a, b in known["windows_hu"])
        if "classes" in known:
            known["classes"] = tuple(known["classes"])
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
        }


def build_network(arch: ArchConfig, out_channels: int | None = None) -> torch.nn.Module:
    """The U-Net (random init; ``encoder_weights`` is always None here: we never download)."""
    import segmentation_models_pytorch as smp

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


def windows_to_channels(hu: torch.Tensor, windows_hu: tuple[tuple[float, float], ...]) -> torch.Tensor:
    """(B, 1, H, W) HU -> (B, n_windows, H, W) in 0..1."""
    chans = [((hu - lo) / (hi - lo)).clamp(0.0, 1.0) for lo, hi in windows_hu]
    return torch.cat(chans, dim=1)


@dataclass(frozen=True)
class Grid:
    """How a batch of slices was brought onto the model grid (to undo it)."""

    in_shape: tuple[int, int]
    scaled_shape: tuple[int, int]
    pad: tuple[int, int, int, int] = field(default=(0, 0, 0, 0))  # top, bottom, left, right


def scaled_shape(shape: tuple[int, int], row_mm: float, col_mm: float, pixel_mm: float) -> tuple[int, int]:
    return (max(8, round(shape[0] * row_mm / pixel_mm)), max(8, round(shape[1] * col_mm / pixel_mm)))


def to_model_hu(
    hu: np.ndarray | torch.Tensor, row_mm: float, col_mm: float, arch: ArchConfig
) -> tuple[torch.Tensor, Grid]:
    """(B, H, W) HU on the slice grid -> (B, 1, H', W') HU at ``arch.pixel_size_mm``, padded with air."""
    t = torch.as_tensor(np.asarray(hu, dtype=np.float32) if isinstance(hu, np.ndarray) else hu, dtype=torch.float32)
    if t.ndim == 2:
        t = t[None]
    t = t.clamp(AIR_HU, 3071.0)[:, None]
    in_shape = (int(t.shape[-2]), int(t.shape[-1]))
    out = scaled_shape(in_shape, row_mm, col_mm, arch.pixel_size_mm)
    if out != in_shape:
        t = F.interpolate(t, size=out, mode="bilinear", align_corners=False, antialias=out[0] < in_shape[0])
    s = arch.stride_px
    ph, pw = (-out[0]) % s, (-out[1]) % s
    pad = (ph // 2, ph - ph // 2, pw // 2, pw - pw // 2)
    if ph or pw:
        t = F.pad(t, (pad[2], pad[3], pad[0], pad[1]), value=AIR_HU)
    return t, Grid(in_shape=in_shape, scaled_shape=out, pad=pad)


def to_model_grid(
    hu: np.ndarray | torch.Tensor, row_mm: float, col_mm: float, arch: ArchConfig
) -> tuple[torch.Tensor, Grid]:
    """(B, H, W) HU on the slice grid -> (B, C, H', W') windowed network input at the model's pixel size."""
    t, grid = to_model_hu(hu, row_mm, col_mm, arch)
    return windows_to_channels(t, arch.windows_hu), grid


def crop_model_grid(t: torch.Tensor, grid: Grid) -> torch.Tensor:
    """Remove the stride padding of a (..., H', W') tensor."""
    top, bottom, left, right = grid.pad
    h, w = t.shape[-2], t.shape[-1]
    return t[..., top : h - bottom, left : w - right]


def from_model_grid(probs: torch.Tensor, grid: Grid) -> torch.Tensor:
    """(B, K, H', W') probabilities on the model grid -> (B, K, H, W) on the slice grid (rows sum to 1)."""
    p = crop_model_grid(probs, grid)
    if grid.scaled_shape != grid.in_shape:
        p = F.interpolate(p, size=grid.in_shape, mode="bilinear", align_corners=False)
    return p


def resample_slice(hu: np.ndarray, row_mm: float, col_mm: float, pixel_mm: float) -> np.ndarray:
    """One HU slice onto the fixed pixel size (float32), as the model sees it before padding."""
    t = torch.as_tensor(np.asarray(hu, dtype=np.float32))[None, None].clamp(AIR_HU, 3071.0)
    out = scaled_shape(t.shape[-2:], row_mm, col_mm, pixel_mm)  # type: ignore[arg-type]
    if out != tuple(t.shape[-2:]):
        t = F.interpolate(t, size=out, mode="bilinear", align_corners=False, antialias=out[0] < t.shape[-2])
    return t[0, 0].numpy()


def resample_labels(
    labels: np.ndarray, row_mm: float, col_mm: float, pixel_mm: float, n_classes: int = 4
) -> np.ndarray:
    """Label map onto the fixed pixel size: one-hot, bilinear (antialiased), argmax (uint8)."""
    lab = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    out = scaled_shape(tuple(lab.shape), row_mm, col_mm, pixel_mm)  # type: ignore[arg-type]
    if out == tuple(lab.shape):
        return np.asarray(labels, dtype=np.uint8)
    oh = F.one_hot(lab.clamp(0, n_classes - 1), n_classes).permute(2, 0, 1)[None].float()
    oh = F.interpolate(oh, size=out, mode="bilinear", align_corners=False, antialias=out[0] < lab.shape[0])
    return oh[0].argmax(0).numpy().astype(np.uint8)
