"""The NumPy pre- and post-processing reproduces torch's bilinear interpolate (plain and antialiased), so the
slim runtime sees the pixels the model was trained on."""

from __future__ import annotations

import numpy as np
import pytest

from sarco_core.segment.model.prep import ArchConfig, resample, resample_labels, to_model_hu

torch = pytest.importorskip("torch")
F = torch.nn.functional


@pytest.mark.parametrize(
    "shape,size",
    [
        ((512, 512), (205, 205)),
        ((512, 512), (184, 184)),
        ((100, 120), (256, 300)),
        ((183, 183), (512, 512)),
        ((300, 512), (120, 205)),
        ((17, 19), (8, 8)),
        ((64, 50), (64, 70)),
    ],
)
@pytest.mark.parametrize("antialias", [False, True])
def test_resample_matches_torch(shape: tuple[int, int], size: tuple[int, int], antialias: bool) -> None:
    x = np.random.default_rng(sum(shape) + sum(size)).normal(0.0, 300.0, (2, 3, *shape)).astype(np.float32)
    want = F.interpolate(
        torch.from_numpy(x), size=size, mode="bilinear", align_corners=False, antialias=antialias
    ).numpy()
    got = resample(x, size, antialias=antialias)
    assert got.shape == want.shape
    assert float(np.abs(got - want).max()) < 0.01  # HU-scale values: float32 rounding only


def test_model_grid_and_labels_match_the_torch_recipe() -> None:
    rng = np.random.default_rng(3)
    hu = rng.normal(0.0, 200.0, (1, 300, 280)).astype(np.float32)
    t, grid = to_model_hu(hu, 0.7, 0.7, ArchConfig())
    tt = torch.from_numpy(hu).clamp(-1024.0, 3071.0)[:, None]
    ref = F.interpolate(tt, size=grid.scaled_shape, mode="bilinear", align_corners=False, antialias=True)
    top, bottom, left, right = grid.pad
    inner = t[..., top : t.shape[-2] - bottom, left : t.shape[-1] - right]
    assert float(np.abs(inner - ref.numpy()).max()) < 0.01
    assert t.shape[-1] % 16 == 0 and t.shape[-2] % 16 == 0
    lab = rng.integers(0, 4, (120, 110)).astype(np.uint8)
    oh = F.one_hot(torch.from_numpy(lab.astype(np.int64)), 4).permute(2, 0, 1)[None].float()
    want = F.interpolate(oh, size=(42, 38), mode="bilinear", align_corners=False, antialias=True)[0].argmax(0)
    got = resample_labels(lab, 0.7, 0.7, 2.0)
    assert got.shape == (42, 38)
    assert (got == want.numpy()).mean() > 0.999  # ties may break differently
