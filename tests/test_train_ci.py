"""Tiny-config training: it runs, the loss falls, a resumed run reproduces the uninterrupted one exactly."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from sarco_core.errors import SarcoError
from sarco_core.train.config import load_config
from sarco_core.train.loop import Interrupted
from sarco_core.train.run import train

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def write_cfg(tmp: Path, run: str, cache: Path, **over: object) -> Path:
    d = json.loads((REPO / "configs" / "train_ci.json").read_text())
    d["run_dir"] = str(tmp / run)
    d["cache_dir"] = str(cache)
    d.update(over)
    p = tmp / f"{run}.json"
    p.write_text(json.dumps(d))
    return p


@pytest.fixture(scope="module")
def ci_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("train_ci")
    cache = tmp / "cache"
    cfg_path = write_cfg(tmp, "full", cache)
    out = train(load_config(cfg_path))
    return tmp, out


def test_ci_training_exports_a_model_and_loss_falls(ci_run: tuple[Path, Path]) -> None:
    tmp, out = ci_run
    assert (out / "model.pt").is_file() and (out / "config.json").is_file()
    conf = json.loads((out / "config.json").read_text())
    assert conf["architecture"]["encoder_weights"] is None
    assert conf["training"]["data"]["validation_patient_used"] is False
    ck = torch.load(tmp / "full" / "ckpt_supervised.pt", weights_only=False)
    losses = ck["losses"]
    assert len(losses) == 6
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3
    assert (tmp / "full" / "train.log").read_text().count("[supervised] step") >= 2


def test_resume_reproduces_the_uninterrupted_run(ci_run: tuple[Path, Path]) -> None:
    tmp, _ = ci_run
    cfg_path = write_cfg(tmp, "resumed", tmp / "cache")
    cfg = load_config(cfg_path)
    with pytest.raises(Interrupted):
        train(cfg, stop_after=5)  # ssl has 2 steps: stops inside the supervised stage at its step 3
    ck = torch.load(tmp / "resumed" / "ckpt_supervised.pt", weights_only=False)
    assert ck["step"] == 3
    train(cfg, resume=True)
    a = torch.load(tmp / "full" / "supervised_final.pt", weights_only=True)
    b = torch.load(tmp / "resumed" / "supervised_final.pt", weights_only=True)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_config_refuses_the_validation_patient(tmp_path: Path) -> None:
    cfg_path = write_cfg(tmp_path, "bad", tmp_path / "cache", shared_data=str(tmp_path))
    (tmp_path / "totalsegmentator").mkdir()
    (tmp_path / "totalsegmentator" / "x.nii.gz").write_bytes(b"")
    d = json.loads(cfg_path.read_text())
    d["data"]["real_globs"] = ["totalsegmentator/*.nii.gz"]
    cfg_path.write_text(json.dumps(d))
    from sarco_core.train.data import real_sources

    with pytest.raises(SarcoError, match="validation patient"):
        real_sources(load_config(cfg_path))


def test_unknown_config_key_is_a_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"supervised": {"stepz": 3}}))
    with pytest.raises(SarcoError, match="stepz"):
        load_config(p)


# ------------------------------------------------------------------ training-data options (v2 recipe)
def test_hard_contact_share_renders_hard_phantoms_and_leaves_the_rest_unchanged() -> None:
    import numpy as np

    from sarco_core.phantom.slice import phantom_slice
    from sarco_core.train.phantoms import is_hard_seed, phantom_sample

    hard = [s for s in range(60) if is_hard_seed(s, 0.4)]
    assert 12 <= len(hard) <= 36  # ~40 % of the seeds
    assert not any(is_hard_seed(s, 0.0) for s in range(60))
    soft = next(s for s in range(60) if s not in hard)
    # a seed not drawn as hard is byte-identical to the default recipe (same level/pixel/truncation draws)
    a = phantom_sample(soft)
    b = phantom_sample(soft, hard_fraction=0.4)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    # a hard seed is the contacts="hard" rendering of the same draws
    h = hard[0]
    dflt = phantom_sample(h)
    hu, lab, rmm, cmm = phantom_sample(h, hard_fraction=0.4)
    assert (rmm, cmm) == (dflt[2], dflt[3]) and not np.array_equal(hu, dflt[0])
    rng = np.random.default_rng([h, 4242])
    from sarco_core.train.phantoms import PHANTOM_LEVELS

    level = PHANTOM_LEVELS[int(rng.integers(len(PHANTOM_LEVELS)))]
    px = float(rng.uniform(0.6, 1.0))
    ref = phantom_slice(
        h,
        level=level,
        pixel_mm=px,
        frac=float(rng.uniform(0.2, 0.8)),
        truncated=bool(rng.random() < 0.1),
        contacts="hard",
    )
    assert np.array_equal(ref.hu, hu) and np.array_equal(ref.labels, lab)


def test_phantom_levels_option_restricts_the_levels() -> None:
    import numpy as np

    from sarco_core.phantom.slice import phantom_slice
    from sarco_core.train.phantoms import phantom_sample

    hu, _lab, _r, _c = phantom_sample(5, levels=("L2",))
    rng = np.random.default_rng([5, 4242])
    rng.integers(1)
    px = float(rng.uniform(0.6, 1.0))
    ref = phantom_slice(
        5, level="L2", pixel_mm=px, frac=float(rng.uniform(0.2, 0.8)), truncated=bool(rng.random() < 0.1)
    )
    assert np.array_equal(ref.hu, hu)


def test_real_weights_draw_matching_slices_more_often() -> None:
    import numpy as np

    from sarco_core.train.stages import real_sampler, sample_weight

    names = ["covid/A027284/x#0", "lidc#3", "lidc#4", "covid/A062055/y#0"]
    w = (("A027284|A062055", 4.0), ("#0$", 0.5))
    assert sample_weight(names[0], w) == 2.0 and sample_weight(names[1], w) == 1.0
    pick = real_sampler(names, w)
    rng = np.random.default_rng(0)
    counts = np.bincount([pick(rng) for _ in range(6000)], minlength=4) / 6000
    assert np.allclose(counts, [1 / 3, 1 / 6, 1 / 6, 1 / 3], atol=0.03)
    # no weights: the uniform draw of the old recipe (same random stream)
    a = real_sampler(names, ())
    r1, r2 = np.random.default_rng(3), np.random.default_rng(3)
    assert [a(r1) for _ in range(20)] == [int(r2.integers(4)) for _ in range(20)]


def test_variant_share_renders_issue15_variants_and_leaves_the_rest_unchanged() -> None:
    import numpy as np

    from sarco_core.phantom.variants import VARIANTS, variant_slice
    from sarco_core.train.phantoms import PHANTOM_LEVELS, phantom_sample, variant_of_seed

    drawn = {s: variant_of_seed(s, 0.25) for s in range(80)}
    picked = [s for s, v in drawn.items() if v is not None]
    assert 8 <= len(picked) <= 32  # ~25 % of the seeds
    assert {drawn[s] for s in picked} <= set(VARIANTS) - {"none"}
    assert all(variant_of_seed(s, 0.0) is None for s in range(80))
    plain = next(s for s, v in drawn.items() if v is None)
    a, b = phantom_sample(plain), phantom_sample(plain, variant_fraction=0.25)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    s = picked[0]
    rng = np.random.default_rng([s, 4242])
    level = PHANTOM_LEVELS[int(rng.integers(len(PHANTOM_LEVELS)))]
    px = float(rng.uniform(0.6, 1.0))
    ref = variant_slice(s, str(drawn[s]), level=level, pixel_mm=px)
    hu, lab, _, _ = phantom_sample(s, variant_fraction=0.25)
    assert np.array_equal(hu, ref.hu.astype(np.float32)) and np.array_equal(lab, ref.labels)


def test_bad_data_options_are_clear_errors(tmp_path: Path) -> None:
    for bad, word in (
        ({"phantom_hard_fraction": 1.5}, "phantom_hard_fraction"),
        ({"phantom_variant_fraction": -0.1}, "phantom_variant_fraction"),
        ({"real_weights": [["x"]]}, "real_weights"),
    ):
        p = tmp_path / "c.json"
        p.write_text(json.dumps({"data": bad}))
        with pytest.raises(SarcoError, match=word):
            load_config(p)


def test_source_digest_follows_the_code(tmp_path: Path) -> None:
    from sarco_core.train.data import TEACHER_SOURCES, source_digest

    (tmp_path / "segment").mkdir()
    f = tmp_path / "segment" / "teacher_x.py"
    f.write_text("A = 1\n")
    (tmp_path / "metrics.py").write_text("B = 2\n")
    d1 = source_digest(*TEACHER_SOURCES, root=tmp_path)
    assert source_digest(*TEACHER_SOURCES, root=tmp_path) == d1
    f.write_text("A = 2\n")
    assert source_digest(*TEACHER_SOURCES, root=tmp_path) != d1
    with pytest.raises(SarcoError, match="no source files"):
        source_digest("nothing/*.py", root=tmp_path)


def test_pseudo_labels_are_rebuilt_when_the_teacher_code_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    from sarco_core.train import data as data_mod

    shared = tmp_path / "shared"
    (shared / "real").mkdir(parents=True)
    (shared / "real" / "a.dcm").write_bytes(b"")
    cfg_path = write_cfg(tmp_path, "r", tmp_path / "cache", shared_data=str(shared))
    d = json.loads(cfg_path.read_text())
    d["data"]["real_globs"] = ["real/*.dcm"]
    cfg_path.write_text(json.dumps(d))
    cfg = load_config(cfg_path)
    builds: list[str] = []
    digest = {"teacher": "t1"}

    def fake_build(_cfg: object, _srcs: object, with_teacher: bool) -> data_mod.SliceSet:
        builds.append(digest["teacher"])
        s = data_mod.SliceSet()
        s.add(np.zeros((8, 8), np.float32), np.full((8, 8), len(builds), np.uint8), "real/a.dcm#0", 0.9)
        return s

    real_digest = data_mod.source_digest
    monkeypatch.setattr(data_mod, "build_real", fake_build)
    monkeypatch.setattr(
        data_mod,
        "source_digest",
        lambda *g, root=None: digest["teacher"] if g == data_mod.TEACHER_SOURCES else real_digest(*g, root=root),
    )
    a = data_mod.prepare(cfg)
    b = data_mod.prepare(cfg)  # same teacher code: the cache is reused
    assert builds == ["t1"] and a.sources["teacher_code_sha256"] == "t1"
    assert b.real_train.labels[0] is not None and int(b.real_train.labels[0].max()) == 1
    digest["teacher"] = "t2"  # the teacher changed: new pseudo-labels
    c = data_mod.prepare(cfg)
    assert builds == ["t1", "t2"] and c.sources["teacher_code_sha256"] == "t2"
    assert c.real_train.labels[0] is not None and int(c.real_train.labels[0].max()) == 2
