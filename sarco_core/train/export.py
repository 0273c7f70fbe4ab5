"""Write a model folder (weights in fp16, config.json with sha256) and its ONNX export."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from sarco_core.metrics import DEFAULT_GATES
from sarco_core.segment.model import ONNX_FILE, ONNX_META_FILE, WEIGHTS_FILE, ModelConfig, load_state_dict, sha256_file
from sarco_core.segment.model.prep import build_network
from sarco_core.segment.model.qc import Calibration
from sarco_core.train.config import TrainConfig

MAX_WEIGHTS_BYTES = 16 * 1024 * 1024


def export_model(
    cfg: TrainConfig, net: torch.nn.Module, out_dir: Path, *, calibration: Calibration, summary: dict[str, Any]
) -> Path:
    """``out_dir``/model.pt + config.json; refuses weights over 16 MB."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sd = {
        k: (v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu()) for k, v in net.state_dict().items()
    }
    wpath = out_dir / WEIGHTS_FILE
    torch.save(sd, wpath)
    if wpath.stat().st_size > MAX_WEIGHTS_BYTES:
        raise ValueError(f"weights {wpath} are {wpath.stat().st_size / 2**20:.1f} MiB (> 16 MiB)")
    conf = {
        "name": cfg.name,
        "version": cfg.version,
        "weights": WEIGHTS_FILE,
        "weights_dtype": "float16",
        "sha256": sha256_file(wpath),
        "architecture": {
            **cfg.arch.to_dict(),
            "library": "segmentation_models_pytorch",
            "deleted_unused_encoder_stages": True,
        },
        "input": {
            "channels": "one per HU window, each clipped and scaled to 0..1",
            "size_policy": "any slice is resampled (bilinear) to pixel_size_mm, padded with air (-1024 HU) to a "
            "multiple of stride_px; probabilities are resampled back to the slice grid",
        },
        "labels": {
            "0": "background",
            "1": "skeletal muscle compartment",
            "2": "SAT",
            "3": "VAT",
            "imat": "derived by HU inside label 1",
        },
        "hu_gates": DEFAULT_GATES.to_dict(),
        "inference": {"tta": True, "tta_kind": "left-right flip, probabilities averaged", "restrict_to_body": True},
        "confidence": {
            "calibration": calibration.to_dict(),
            "low_confidence": 0.7,
            "raw": "mean max-probability inside predicted muscle x flip-TTA muscle Dice",
            "calibrated_on": "held-out phantom slices and corrupted variants (noise, coarse pixels, "
            "FOV truncation, metal streaks); confidence ~ expected gated muscle Dice",
        },
        "qc": {
            "sma_range_cm2": [40.0, 350.0],
            "note": "wide range: the segmenter does not know the vertebral level (L3 is typically 60-250 cm2)",
        },
        "training": {
            **summary,
            "config": cfg.raw,
            "seed": cfg.seed,
            "exported": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "license": "Apache-2.0 (weights trained here); for research use only, not a medical device",
    }
    (out_dir / "config.json").write_text(json.dumps(conf, indent=2))
    return out_dir


def export_onnx(model_dir: Path, *, opset: int = 17) -> Path:
    """Write ``model_dir``/model.onnx (logits; dynamic batch, height and width) and model.onnx.json (which
    weights it was exported from; config.json is left untouched)."""
    cfg_path = model_dir / "config.json"
    mc = ModelConfig.load(cfg_path)
    net = build_network(mc.arch)
    net.load_state_dict(load_state_dict(model_dir / mc.weights, mc.sha256))
    net.eval()
    x = torch.zeros(1, mc.arch.in_channels, 256, 256)
    out = model_dir / ONNX_FILE
    tmp = model_dir / (ONNX_FILE + ".partial")
    torch.onnx.export(
        net,
        (x,),
        str(tmp),
        input_names=["image"],
        output_names=["logits"],
        opset_version=opset,
        dynamo=False,
        dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"}, "logits": {0: "batch", 2: "height", 3: "width"}},
    )
    tmp.replace(out)
    side = {"file": ONNX_FILE, "sha256": sha256_file(out), "weights_sha256": mc.sha256, "opset": opset}
    (model_dir / ONNX_META_FILE).write_text(json.dumps(side, indent=2))
    return out
