"""``sarco export-onnx [MODEL_DIR]``: write model.onnx next to the model's weights."""

from __future__ import annotations

import argparse
from pathlib import Path

from sarco_core.errors import ModelError, require_training

NAME = "export-onnx"
HELP = "Export the model as ONNX (model.onnx next to its weights) for the ONNX Runtime CPU path."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_dir", nargs="?", default=None, help="model folder (default: the shipped model)")


def run(args: argparse.Namespace) -> int:
    require_training("sarco export-onnx")
    from sarco_core.segment.base import default_model_dir
    from sarco_core.train.export import export_onnx

    d = Path(args.model_dir) if args.model_dir else default_model_dir()
    if d is None:
        raise ModelError("No model folder given and none installed (models/<name>/config.json).")
    if not (d / "config.json").is_file():
        raise ModelError(f"{d} has no config.json; pass a model folder such as models/<name>.")
    out = export_onnx(d)
    print(f"wrote {out}")
    return 0
