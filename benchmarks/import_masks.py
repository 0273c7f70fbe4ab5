"""Speed of the expert-mask import (``python -m benchmarks.import_masks [--n 20]``): seconds per case for
TAG + DICOM slice pairs at 512 x 512 (read, align, keep one slice) and for writing the import set.

Prints figures only (no targets asserted); results are recorded in docs/site-adaptation.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=20, help="number of phantom slices (default 20)")
    args = ap.parse_args()
    from sarco_core.io import load
    from sarco_core.masks import import_rows, mask_to_tag, read_import_set, scan_folder, write_import_set
    from sarco_core.phantom import phantom_slice, write_dicom

    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "site"
        for i in range(args.n):
            p = phantom_slice(seed=1000 + i, size=512, pixel_mm=0.8)
            dcm = write_dicom(p, root / f"case{i:03d}")[0]
            Path(str(dcm) + ".tag").write_bytes(mask_to_tag(load(dcm), np.asarray(p.labels).reshape(512, 512), 0))
        t0 = time.perf_counter()
        report = import_rows(scan_folder(root))
        t1 = time.perf_counter()
        write_import_set(report, Path(d) / "set")
        t2 = time.perf_counter()
        back = read_import_set(Path(d) / "set")
        t3 = time.perf_counter()
    n = args.n
    print(f"cases: {n} (512 x 512 phantom DICOM slices with Slice-O-Matic TAG files), ok {report.n_ok}")
    print(f"import (read TAG + DICOM, align, map tags): {(t1 - t0) / n * 1000:.1f} ms/case")
    print(f"write import set (NIfTI slice + reference + JSON): {(t2 - t1) / n * 1000:.1f} ms/case")
    print(f"read import set back: {(t3 - t2) / n * 1000:.1f} ms/case ({len(back)} cases)")


if __name__ == "__main__":
    main()
