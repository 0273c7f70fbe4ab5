"""The one owner of "make a value strict-JSON-safe" (``json.dumps(..., allow_nan=False)`` then never fails on
numpy scalars or non-finite floats)."""

from __future__ import annotations

import math
from typing import Any


def json_safe(obj: Any) -> Any:
    """``obj`` with dict keys as strings, tuples as lists, numpy scalars as Python values and NaN/inf as None."""
    import numpy as np  # here, so that importing the CLI stays light

    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
