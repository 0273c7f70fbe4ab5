"""The one owner of "return the exported bytes, and also save them when a path is given"."""

from __future__ import annotations

from pathlib import Path


def deliver(data: bytes, path: str | Path | None) -> bytes:
    """Save ``data`` at ``path`` (its folder created) when a path is given; return ``data`` either way."""
    if path is not None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return data
