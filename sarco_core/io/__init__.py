"""Loaders: one entry, :func:`load`, for a DICOM folder / file list / zip / single slice / multi-frame, or NIfTI."""

from __future__ import annotations

from sarco_core.io.loader import load, load_mask

__all__ = ["load", "load_mask"]
