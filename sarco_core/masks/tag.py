"""Slice-O-Matic (TomoVision) ``.tag`` files: read and write.

Layout, from TomoVision's sliceOmatic help (appendix D "TAG File Format" and "Mode TAG: User Read"):

* an ASCII header of ``keyword:value`` pairs separated by spaces, commas, tabs or new lines (lines end in
  CR LF; keywords are case-insensitive; text after ``*`` on a line is a comment), terminated by one form
  feed (0x0C);
* then one byte (the tag value) per pixel of the grey-level image, row first (left to right), rows top to
  bottom: the stored pixel order of the DICOM slice the tag belongs to; ``z`` images follow each other.

Keywords: ``x`` columns, ``y`` rows, ``z`` images, ``type`` (BYTE for tags), ``org_x/y/z`` centre of the top
left pixel, ``inc_x/y`` pixel spacing (mm), ``dim_x/y`` image size (mm), ``epais`` slice thickness,
``dir_h_*`` / ``dir_v_*`` row and column direction vectors, ``uid`` and ``chksum`` of the grey-level image.
3D Slicer's ImportSliceOmatic reader reads the same layout. The file carries no link to its image except its
name (``X.dcm.tag`` beside ``X.dcm``), so the importer matches it by name and checks size and spacing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sarco_core.errors import InvalidMaskError

FORM_FEED = b"\x0c"
MAX_HEADER_BYTES = 16384  # real headers are a few hundred bytes
_FLOAT_KEYS = (
    "org_x",
    "org_y",
    "org_z",
    "inc_x",
    "inc_y",
    "dim_x",
    "dim_y",
    "epais",
    "dir_h_x",
    "dir_h_y",
    "dir_h_z",
    "dir_v_x",
    "dir_v_y",
    "dir_v_z",
)
_KNOWN = {"x", "y", "z", "type", "uid", "chksum", *_FLOAT_KEYS}


@dataclass(frozen=True)
class TagHeader:
    """The parsed header. Geometry fields are None when the file does not give them."""

    cols: int
    rows: int
    n_images: int
    pixel_type: str
    origin_mm: tuple[float, float, float] | None
    col_spacing_mm: float | None  # inc_x
    row_spacing_mm: float | None  # inc_y
    thickness_mm: float | None
    row_direction: tuple[float, float, float] | None  # dir_h
    col_direction: tuple[float, float, float] | None  # dir_v
    uid: str | None
    extra: tuple[tuple[str, str], ...]  # keywords the documentation does not list (kept, not interpreted)
    header_bytes: int  # offset of the first pixel byte


@dataclass(frozen=True, eq=False)
class TagFile:
    """A TAG file: header and the tag values of each image, (n_images, rows, cols) uint8 in file order."""

    header: TagHeader
    tags: np.ndarray


def _triple(v: dict[str, float], prefix: str) -> tuple[float, float, float] | None:
    keys = [f"{prefix}{a}" for a in ("x", "y", "z")]
    return (v[keys[0]], v[keys[1]], v[keys[2]]) if all(k in v for k in keys) else None


def parse_header(text: str, *, header_bytes: int, name: str = "The TAG file") -> TagHeader:
    """Parse the header text (without the form feed); refuses text that is not a TAG header."""
    fields: dict[str, str] = {}
    for line in text.replace("\r", "\n").split("\n"):
        line = line.split("*", 1)[0]
        for token in re.split(r"[ ,\t]+", line.strip()):
            if not token:
                continue
            key, sep, value = token.partition(":")
            if not sep or not key:
                raise InvalidMaskError(
                    f"{name} does not have a Slice-O-Matic TAG header (found {token[:40]!r} where "
                    "keyword:value pairs are expected). Export the tags from sliceOmatic (File > Save TAG) "
                    "or import the mask as NIfTI, DICOM-SEG or PNG."
                )
            fields[key.strip().lower()] = value.strip()
    missing = [k for k in ("x", "y") if k not in fields]
    if missing:
        raise InvalidMaskError(
            f"{name}'s header lacks the image size ({' and '.join(missing)}); it is not a Slice-O-Matic TAG "
            "file. Export the tags from sliceOmatic, or import the mask in another format."
        )
    try:
        cols, rows, n = int(fields["x"]), int(fields["y"]), int(fields.get("z", "1"))
        floats = {k: float(fields[k]) for k in _FLOAT_KEYS if k in fields}
    except ValueError as exc:
        raise InvalidMaskError(
            f"{name}'s header has a value that is not a number ({exc}); re-export the TAG from sliceOmatic."
        ) from None
    ptype = fields.get("type", "BYTE").upper()
    if ptype != "BYTE":
        raise InvalidMaskError(
            f"{name} stores {ptype} pixels; TAG files hold one BYTE per pixel. Re-export the tags from sliceOmatic."
        )
    if cols <= 0 or rows <= 0 or n <= 0:
        raise InvalidMaskError(f"{name}'s header gives an empty image (x={cols}, y={rows}, z={n}); re-export it.")
    org = _triple(floats, "org_")
    return TagHeader(
        cols=cols,
        rows=rows,
        n_images=n,
        pixel_type=ptype,
        origin_mm=org,
        col_spacing_mm=floats.get("inc_x"),
        row_spacing_mm=floats.get("inc_y"),
        thickness_mm=floats.get("epais"),
        row_direction=_triple(floats, "dir_h_"),
        col_direction=_triple(floats, "dir_v_"),
        uid=fields.get("uid"),
        extra=tuple(sorted((k, v) for k, v in fields.items() if k not in _KNOWN)),
        header_bytes=header_bytes,
    )


def read_tag(src: str | Path | bytes, *, name: str | None = None) -> TagFile:
    """Read a TAG file (path or bytes). Errors name what is wrong: no header terminator, bad header, size."""
    label = name or ("The TAG file" if isinstance(src, bytes) else f"TAG file {Path(src).name}")
    data = src if isinstance(src, bytes) else Path(src).read_bytes()
    end = data.find(FORM_FEED, 0, MAX_HEADER_BYTES)
    if end < 0:
        raise InvalidMaskError(
            f"{label} has no header terminator (form feed, 0x0C) in its first {MAX_HEADER_BYTES} bytes, so it "
            "is not a Slice-O-Matic TAG file. Export the tags from sliceOmatic, or import NIfTI, DICOM-SEG or PNG."
        )
    try:
        text = data[:end].decode("ascii")
    except UnicodeDecodeError:
        raise InvalidMaskError(
            f"{label}'s header is not ASCII text, so it is not a Slice-O-Matic TAG file; re-export the tags."
        ) from None
    hdr = parse_header(text, header_bytes=end + 1, name=label)
    payload = data[end + 1 :]
    need = hdr.rows * hdr.cols * hdr.n_images
    if len(payload) != need:
        what = "truncated" if len(payload) < need else "longer than its header says"
        raise InvalidMaskError(
            f"{label} holds {len(payload)} pixel bytes but its header announces {hdr.cols} x {hdr.rows} x "
            f"{hdr.n_images} = {need}: the file is {what}. Re-export it from sliceOmatic."
        )
    tags = np.frombuffer(payload, np.uint8).reshape(hdr.n_images, hdr.rows, hdr.cols)
    return TagFile(header=hdr, tags=tags)


def _fmt(v: float) -> str:
    return f"{v:.6f}"


def tag_bytes(
    tags: np.ndarray,
    *,
    origin_mm: tuple[float, float, float] | None = None,
    col_spacing_mm: float | None = None,
    row_spacing_mm: float | None = None,
    thickness_mm: float | None = None,
    row_direction: tuple[float, float, float] | None = None,
    col_direction: tuple[float, float, float] | None = None,
    comment: str = "",
) -> bytes:
    """A TAG file of one image: ``tags`` is (rows, cols) uint8 in the grey-level image's stored pixel order."""
    t = np.asarray(tags)
    if t.ndim != 2:
        raise InvalidMaskError(f"A TAG image is 2-D (rows, cols); got shape {t.shape}.")
    if t.size and (t.min() < 0 or t.max() > 255):
        raise InvalidMaskError("TAG values are bytes (0-255); relabel the mask first.")
    rows, cols = t.shape
    pairs = [("x", str(cols)), ("y", str(rows)), ("z", "1"), ("type", "BYTE")]
    if origin_mm is not None:
        pairs += [(f"org_{a}", _fmt(v)) for a, v in zip("xyz", origin_mm, strict=True)]
    if col_spacing_mm is not None and row_spacing_mm is not None:
        pairs += [
            ("inc_x", _fmt(col_spacing_mm)),
            ("inc_y", _fmt(row_spacing_mm)),
            ("dim_x", _fmt(col_spacing_mm * cols)),
            ("dim_y", _fmt(row_spacing_mm * rows)),
        ]
    if thickness_mm is not None:
        pairs.append(("epais", _fmt(thickness_mm)))
    for prefix, vec in (("dir_h_", row_direction), ("dir_v_", col_direction)):
        if vec is not None:
            pairs += [(f"{prefix}{a}", _fmt(v)) for a, v in zip("xyz", vec, strict=True)]
    lines = [f"* {comment}"] if comment else []
    lines += [" ".join(f"{k}:{v}" for k, v in pairs[i : i + 4]) for i in range(0, len(pairs), 4)]
    head = ("\r\n".join(lines) + "\r\n").encode("ascii", errors="replace")
    return head + FORM_FEED + np.ascontiguousarray(t, dtype=np.uint8).tobytes()
