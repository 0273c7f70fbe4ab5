"""A compact container for the stored HU array: one zlib chunk per slice, bytes shuffled by significance
(CT compresses ~20 % better and several times faster than plain deflate), with a SHA-256 per chunk so one
slice can be read and verified without decoding the whole volume.

Layout: ``b"SCV1"`` + uint32 little-endian header length + JSON header
(``dtype``, ``shape``, ``sizes``, ``sha256``) + the chunks in slice order.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

MAGIC = b"SCV1"


class ChunkError(ValueError):
    """The container is damaged or not a SCV1 blob."""


def _shuffle(a: np.ndarray) -> bytes:
    b = np.ascontiguousarray(a).view(np.uint8).reshape(-1, a.dtype.itemsize)
    return np.ascontiguousarray(b.T).tobytes()


def _unshuffle(raw: bytes, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(shape))
    b = np.frombuffer(raw, np.uint8).reshape(dtype.itemsize, n)
    return np.ascontiguousarray(b.T).view(dtype).reshape(shape)


def _workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _pack(a: np.ndarray) -> bytes:
    return zlib.compress(_shuffle(a), 1)


def encode(arr: np.ndarray) -> bytes:
    """Pack a 3-D array (slices first)."""
    a = np.ascontiguousarray(arr)
    with ThreadPoolExecutor(_workers()) as ex:  # zlib releases the GIL
        chunks = list(ex.map(_pack, list(a)))
    header = {
        "dtype": a.dtype.str,
        "shape": list(a.shape),
        "sizes": [len(c) for c in chunks],
        "sha256": [hashlib.sha256(c).hexdigest() for c in chunks],
    }
    h = json.dumps(header).encode()
    return MAGIC + struct.pack("<I", len(h)) + h + b"".join(chunks)


def _header(blob: bytes) -> tuple[dict[str, Any], int]:
    if blob[:4] != MAGIC or len(blob) < 8:
        raise ChunkError("not a SCV1 container")
    (n,) = struct.unpack("<I", blob[4:8])
    try:
        header = json.loads(blob[8 : 8 + n])
    except ValueError:
        raise ChunkError("damaged header") from None
    return header, 8 + n


def _chunk(blob: bytes, header: dict[str, Any], start: int, k: int) -> np.ndarray:
    sizes = header["sizes"]
    off = start + sum(sizes[:k])
    c = blob[off : off + sizes[k]]
    if hashlib.sha256(c).hexdigest() != header["sha256"][k]:
        raise ChunkError(f"slice {k} is damaged")
    dtype = np.dtype(header["dtype"])
    shape = tuple(header["shape"][1:])
    try:
        return _unshuffle(zlib.decompress(c), dtype, shape)
    except (zlib.error, ValueError):
        raise ChunkError(f"slice {k} cannot be decompressed") from None


def decode(blob: bytes) -> np.ndarray:
    header, start = _header(blob)
    n = header["shape"][0]
    out = np.empty(tuple(header["shape"]), np.dtype(header["dtype"]))
    offsets = np.concatenate([[start], start + np.cumsum(header["sizes"])]).astype(int)

    def one(k: int) -> None:
        c = blob[offsets[k] : offsets[k + 1]]
        if hashlib.sha256(c).hexdigest() != header["sha256"][k]:
            raise ChunkError(f"slice {k} is damaged")
        try:
            out[k] = _unshuffle(zlib.decompress(c), out.dtype, out.shape[1:])
        except (zlib.error, ValueError):
            raise ChunkError(f"slice {k} cannot be decompressed") from None

    with ThreadPoolExecutor(_workers()) as ex:
        list(ex.map(one, range(n)))
    return out


def decode_slice(blob: bytes, k: int) -> np.ndarray:
    header, start = _header(blob)
    if not 0 <= k < header["shape"][0]:
        raise IndexError(f"slice {k} outside 0..{header['shape'][0] - 1}")
    return _chunk(blob, header, start, k)
