"""Write our masks as Slice-O-Matic TAG files, so a site can open (and correct) them in sliceOmatic."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sarco_core.errors import InvalidMaskError
from sarco_core.export.dicom_seg import canonical_to_source_2d, source_affine
from sarco_core.masks.readers import source_slice_geometry
from sarco_core.masks.records import MUSCLE, ValueMap
from sarco_core.masks.tag import tag_bytes
from sarco_core.metrics import DEFAULT_GATES, HUGates, gated, mask_kind
from sarco_core.volume import Volume

ALBERTA_IMAT_TAG = 2


def mask_to_tag(
    volume: Volume,
    labels2d: np.ndarray,
    slice_index: int,
    path: str | Path | None = None,
    *,
    tag_map: ValueMap | None = None,
    imat_from_hu: bool = True,
    gates: HUGates = DEFAULT_GATES,
) -> bytes:
    """A TAG file of canonical slice ``slice_index`` of a DICOM ``volume`` (returns the bytes; writes ``path``).

    Our labels become tags by the inverse of ``tag_map`` (default Alberta: muscle 1, SAT 7, VAT 5). With
    ``imat_from_hu``, muscle-compartment pixels in the IMAT HU gate are written as tag 2 (IMAT), as a
    Slice-O-Matic user would tag them; reading the file back with the same map gives the same label map.
    """
    tag_map = tag_map or ValueMap.alberta_tags()
    lab = np.asarray(labels2d)
    if lab.shape != volume.shape[1:]:
        raise InvalidMaskError(f"The mask's shape {lab.shape} differs from the image slice's {volume.shape[1:]}.")
    if not 0 <= slice_index < volume.n_slices:
        raise InvalidMaskError(f"Slice {slice_index} is outside 0..{volume.n_slices - 1}.")
    if not volume.meta.kind.startswith("dicom") or volume.source_axes[0] != 0:
        raise InvalidMaskError(
            f"A TAG file belongs to one DICOM slice; this image came from {volume.meta.kind}. Export NIfTI instead."
        )
    if mask_kind(lab) == "binary":
        lab = (lab != 0).astype(np.uint8)
    inverse: dict[int, int] = {}
    for tag, ours in tag_map.pairs:  # the first (lowest) tag of each label
        inverse.setdefault(ours, tag)
    missing = sorted({int(v) for v in np.unique(lab)} - set(inverse))
    if missing:
        raise InvalidMaskError(f"The tag map '{tag_map.name}' has no tag for labels {missing}; extend the map.")
    lut = np.zeros(256, np.uint8)
    for ours, tag in inverse.items():
        lut[ours] = tag
    tags = lut[lab.astype(np.int64)]
    if imat_from_hu and tag_map.as_dict().get(ALBERTA_IMAT_TAG) == MUSCLE:
        imat = gated(np.asarray(volume.hu[slice_index]), lab == MUSCLE, gates.imat)
        tags[imat] = ALBERTA_IMAT_TAG
    src = canonical_to_source_2d(volume, tags)
    pos, row_dir, col_dir = source_slice_geometry(volume, slice_index)
    a_s = source_affine(volume)
    data = tag_bytes(
        src,
        origin_mm=(float(pos[0]), float(pos[1]), float(pos[2])),
        col_spacing_mm=float(np.linalg.norm(a_s[:3, 2])),
        row_spacing_mm=float(np.linalg.norm(a_s[:3, 1])),
        thickness_mm=volume.meta.slice_thickness_mm or volume.spacing_mm.slice,
        row_direction=(float(row_dir[0]), float(row_dir[1]), float(row_dir[2])),
        col_direction=(float(col_dir[0]), float(col_dir[1]), float(col_dir[2])),
        comment=f"written by sarco; tags {tag_map.describe()}",
    )
    if path is not None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return data
