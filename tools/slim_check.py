"""Prove the slim runtime: with torch (and the training libraries) unimportable, the CLI, the app and
``sarco analyze`` still work. ``python -m tools.slim_check CT_FILE`` (CI runs it in a venv built from
requirements.txt alone; tests/test_slim_runtime.py runs it with torch blocked).

Prints one JSON line: the analysis' SMA and backend, and whether torch got imported (it must not)."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

APP = str(Path(__file__).resolve().parents[1] / "app.py")
BLOCKED = ("torch", "torchvision", "segmentation_models_pytorch", "timm", "onnx")


def block_training_libraries() -> None:
    """Make ``import torch`` (and friends) fail as if they were not installed."""
    for name in BLOCKED:
        if name in sys.modules and sys.modules[name] is not None:
            raise RuntimeError(f"{name} was imported before the check started")
        sys.modules[name] = None  # type: ignore[assignment]


def main(argv: list[str]) -> int:
    if "--block" in argv:
        argv = [a for a in argv if a != "--block"]
        block_training_libraries()
    ct = argv[0]
    from streamlit.testing.v1 import AppTest

    import sarco_core.cli
    import ui.backend  # noqa: F401  (the app's core seam imports without torch)

    at = AppTest.from_file(APP, default_timeout=60).run()
    if at.exception:
        print(json.dumps({"ok": False, "app_exception": [str(e.message) for e in at.exception]}))
        return 1
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = sarco_core.cli.main(["analyze", ct, "--json"])
    if rc != 0:
        print(json.dumps({"ok": False, "analyze_rc": rc}))
        return 1
    rec = json.loads(buf.getvalue())
    imported = [m for m in BLOCKED if sys.modules.get(m) is not None]
    out = {
        "ok": not imported,
        "sma_cm2": rec["sma_cm2"],
        "method": rec["segmentation"]["method"],
        "torch_imported": imported,
    }
    print(json.dumps(out))
    return 0 if out["ok"] and rec["segmentation"]["method"] == "model" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
