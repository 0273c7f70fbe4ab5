"""The ``sarco`` command line. Each sub-command lives in its own ``cmd_<name>.py`` module here, exposing
``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``; modules are discovered automatically.

Every :class:`~sarco_core.errors.SarcoError` becomes one message on stderr and exit code 2 (no traceback).
Set ``SARCO_DEBUG=1`` to see tracebacks of unexpected errors.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from collections.abc import Sequence
from typing import Any

from sarco_core import __version__, settings
from sarco_core.errors import SarcoError


def _commands() -> list[Any]:
    mods = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            mods.append(importlib.import_module(f"{__name__}.{info.name}"))
    return mods


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sarco", description="CT body composition at L3: load, find L3, segment muscle, measure, classify."
    )
    parser.add_argument("--version", action="version", version=f"sarco {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _commands():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def print_json(obj: Any) -> None:
    """Print one JSON object (NaN/inf become null)."""
    print(json.dumps(_clean(obj), indent=2, allow_nan=False))


def _clean(obj: Any) -> Any:
    import math

    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except SarcoError as exc:
        print(f"sarco {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # output piped into `head` etc.
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # last resort: no traceback for users
        if settings.debug():
            raise
        print(
            f"sarco {args.command}: internal error: {type(exc).__name__}: {exc}. "
            "Please report this with the command you ran (set SARCO_DEBUG=1 for details).",
            file=sys.stderr,
        )
        return 1
