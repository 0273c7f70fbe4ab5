"""Reading every header of a DICOM input (a bad file is skipped with the reason, never aborting the load)
and the value checks of the chosen series before any pixel is decoded (colour, palette, rescale), with the
explanation of a "missing" slice that is really an image of another geometry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from sarco_core.errors import ImageValueError, IrregularSeriesError, NotCTError, SarcoError, UnreadableFileError
from sarco_core.io.dicom_file import SourceItem, read_header, source_name
from sarco_core.io.dicom_grouping import SeriesGroup
from sarco_core.io.dicom_headers import CT_SOP_CLASSES, SliceHeader, headers_from_dataset
from sarco_core.io.limits import check_deadline


class NoDicomFoundError(UnreadableFileError):
    """None of the given files is a DICOM image."""


def check_values(chosen: SeriesGroup) -> None:
    """Colour, palette and unusable rescale values are refused before any pixel is decoded."""
    first = chosen.first
    if first.samples_per_pixel != 1 or first.photometric.startswith(("RGB", "YBR")):
        raise NotCTError(
            f"{first.name} is a colour image (SamplesPerPixel {first.samples_per_pixel}, "
            f"{first.photometric}), e.g. a screenshot or secondary capture, not CT attenuation data. Load the "
            "original CT series."
        )
    odd = [h for h in chosen.headers if not h.photometric.startswith("MONOCHROME")]
    if odd:
        raise NotCTError(
            f"{odd[0].name} is a {odd[0].photometric} image (colour look-up table), not CT attenuation data in "
            "grey levels; its pixel values are colour indices, not HU. Load the original CT series."
        )
    bad = [h for h in chosen.headers if h.rescale_problem]
    if bad:
        raise ImageValueError(
            f"{bad[0].name}: {bad[0].rescale_problem}, so its pixels cannot be converted to HU"
            + (f" ({len(bad) - 1} more image(s) alike)" if len(bad) > 1 else "")
            + ". The header is corrupt; export the series again from the scanner or PACS."
        )
    if first.rows < 1 or first.cols < 1:
        raise UnreadableFileError(
            f"{first.name} declares an image of {first.rows}x{first.cols} pixels; the header is corrupt. "
            "Export the series again."
        )


def explain_mixed_geometry(exc: IrregularSeriesError, chosen: SeriesGroup, groups: list[SeriesGroup]) -> SarcoError:
    """A 'missing' slice is often an image with another orientation or matrix that sits inside the stack: say so."""
    c = chosen.first
    n = c.normal
    if n is None:
        return exc
    d = [float(np.dot(h.ipp, n)) for h in chosen.headers if h.ipp is not None]
    if len(d) < 2:
        return exc
    lo, hi = min(d), max(d)
    inside = [
        h
        for g in groups
        if g is not chosen and g.first.is_ct
        for h in g.headers
        if h.ipp is not None and lo < float(np.dot(h.ipp, n)) < hi
    ]
    if not inside:
        return exc
    g = inside[0]
    what = []
    if (g.rows, g.cols) != (c.rows, c.cols):
        what.append(f"a {g.rows}x{g.cols} matrix instead of {c.rows}x{c.cols}")
    if g.iop != c.iop:
        what.append(f"orientation {[round(v, 3) for v in g.iop or ()]} instead of {[round(v, 3) for v in c.iop or ()]}")
    if g.pixel_spacing != c.pixel_spacing:
        what.append(f"pixel spacing {g.pixel_spacing} instead of {c.pixel_spacing}")
    if g.series_uid != c.series_uid:
        what.append("another Series Instance UID")
    return IrregularSeriesError(
        f"{len(inside)} image(s) inside this stack (e.g. {g.name}) have "
        f"{' and '.join(what) or 'a different geometry'}, so they do not fit the other {len(chosen.headers)}; "
        f"without them the slices are not evenly spaced ({exc}). Export the series again; if it was edited, "
        "restore the original images."
    )


def _touch(ds: Dataset) -> None:
    """Convert every top-level element now (pydicom converts lazily), so bad VRs and values fail here, per
    file; nested functional groups are read inside the same per-file boundary by ``headers_from_dataset``."""
    for _elem in ds:
        pass


def _image_sop(ds: Dataset) -> bool:
    modality = str(ds.get("Modality", "") or "").strip().upper()
    if modality:
        return modality == "CT"
    return str(ds.get("SOPClassUID", "") or "") in CT_SOP_CLASSES


def _fmt_names(names: list[str]) -> str:
    return ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")


def read_all_headers(items: list[SourceItem]) -> tuple[list[SliceHeader], list[str]]:
    """Headers of every readable image; a single bad file is skipped with a warning naming why."""
    if not items:
        raise NoDicomFoundError("No files were given. Choose a DICOM folder, .zip or .dcm files.")
    headers: list[SliceHeader] = []
    skipped: list[str] = []
    empty: list[str] = []
    truncated: list[str] = []
    broken: list[str] = []
    non_image: list[str] = []
    for i, src in enumerate(items):
        check_deadline("reading the DICOM headers")
        name = Path(source_name(src)).name
        ds = read_header(src)
        if ds is None:
            skipped.append(name)
            continue
        try:
            _touch(ds)
            if len(ds) == 0:
                empty.append(name)
                continue
            if "Rows" not in ds or "Columns" not in ds:
                if _image_sop(ds):
                    truncated.append(name)
                else:
                    non_image.append(f"{name} ({str(ds.get('Modality', '') or '') or 'no modality'})")
                continue
            headers.extend(headers_from_dataset(ds, i, source_name(src)))
        except SarcoError:
            raise
        except Exception as exc:  # a corrupt header value (multi-valued Rows, unknown VR, huge numbers ...)
            broken.append(f"{name} ({type(exc).__name__}: {str(exc)[:120]})")
    warnings = []
    if skipped:
        warnings.append(f"{len(skipped)} file(s) are not readable DICOM and were skipped: {_fmt_names(skipped)}")
    if empty:
        warnings.append(
            f"{len(empty)} file(s) hold no DICOM elements (only a preamble) and were skipped: {_fmt_names(empty)}"
        )
    if truncated:
        warnings.append(
            f"{len(truncated)} CT file(s) have an incomplete header (no Rows/Columns: probably "
            f"truncated) and were skipped: {_fmt_names(truncated)}"
        )
    if broken:
        warnings.append(f"{len(broken)} file(s) have corrupt header values and were skipped: {_fmt_names(broken)}")
    if non_image:
        warnings.append(f"{len(non_image)} DICOM object(s) without image data were skipped: {_fmt_names(non_image)}")
    if not headers:
        if broken:
            raise UnreadableFileError(
                f"The DICOM header of {broken[0]} holds corrupt values"
                + (f" ({len(broken) - 1} more file(s) alike)" if len(broken) > 1 else "")
                + ", so no image could be read. Export the CT series from the PACS again."
            )
        if truncated:
            raise UnreadableFileError(
                f"{truncated[0]} is a CT image whose header stops before the image size (Rows/Columns): the file "
                "is truncated or corrupt. Export the series again."
            )
        if non_image:
            mods = sorted({n.split("(")[-1].rstrip(")") for n in non_image})
            raise NotCTError(
                f"The DICOM files hold no images (only {', '.join(mods)} objects, e.g. structure sets or reports). "
                "Load the CT image series itself."
            )
        if empty:
            raise UnreadableFileError(
                f"{empty[0]} holds only a DICOM preamble and no data elements: the file is empty or truncated. "
                "Export the series again."
            )
        raise NoDicomFoundError(
            f"None of the {len(items)} file(s) could be read as DICOM (e.g. {Path(source_name(items[0])).name}); "
            "they may be truncated, corrupt, or not DICOM. Export the CT series from the PACS again."
        )
    return headers, warnings
