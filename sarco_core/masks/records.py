"""Typed, frozen records of the mask import: formats, value maps, imported masks and the per-row report."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sarco_core.errors import InvalidMaskError
from sarco_core.volume import Spacing, Volume

BACKGROUND, MUSCLE, SAT, VAT = 0, 1, 2, 3  # our labels (sarco_core.metrics)
LABEL_NAMES = {BACKGROUND: "background", MUSCLE: "muscle", SAT: "SAT", VAT: "VAT"}


class MaskFormat(enum.Enum):
    """The file formats an expert mask can come in; ``value`` is the manifest / CLI spelling."""

    TAG = "tag"  # Slice-O-Matic (TomoVision) .tag
    NIFTI = "nifti"
    DICOM_SEG = "seg"
    PNG = "png"

    @property
    def source(self) -> str:
        """The mask-version source written for this format (``imported:<format>``, at most 16 characters)."""
        return f"imported:{self.value}"

    @classmethod
    def parse(cls, text: str) -> MaskFormat:
        t = str(text or "").strip().lower().lstrip(".")
        aliases = {
            "tag": cls.TAG,
            "sliceomatic": cls.TAG,
            "slice-o-matic": cls.TAG,
            "nifti": cls.NIFTI,
            "nii": cls.NIFTI,
            "nii.gz": cls.NIFTI,
            "seg": cls.DICOM_SEG,
            "dicom-seg": cls.DICOM_SEG,
            "dcm": cls.DICOM_SEG,
            "png": cls.PNG,
        }
        if t not in aliases:
            raise InvalidMaskError(f"Unknown mask format {text!r}; use one of tag, nifti, seg (DICOM-SEG) or png.")
        return aliases[t]

    @classmethod
    def from_name(cls, name: str) -> MaskFormat | None:
        """The format a file name implies (``None`` when the name does not tell)."""
        n = name.lower()
        if n.endswith(".tag"):
            return cls.TAG
        if n.endswith((".nii", ".nii.gz")):
            return cls.NIFTI
        if n.endswith(".png"):
            return cls.PNG
        if n.endswith(".dcm"):
            return cls.DICOM_SEG
        return None


@dataclass(frozen=True)
class ValueMap:
    """Which of our labels (0 background, 1 muscle compartment, 2 SAT, 3 VAT) each file value stands for.

    Build it with :meth:`alberta_tags`, :meth:`png_default` or :meth:`parse`; a value not in the map is refused
    (never silently dropped) with an error naming the value and how to map it.
    """

    name: str
    pairs: tuple[tuple[int, int], ...]

    @classmethod
    def alberta_tags(cls) -> ValueMap:
        """Slice-O-Matic tags of the Alberta protocol: 1 muscle, 2 IMAT, 5 VAT, 7 SAT (TomoVision's
        sarcopenia help; the same values in Mosamatic/barbell2's TAG reader). IMAT is fat inside the muscle
        compartment, so tag 2 becomes our muscle compartment (label 1): its area is recovered by the IMAT HU gate."""
        return cls(name="alberta", pairs=((0, BACKGROUND), (1, MUSCLE), (2, MUSCLE), (5, VAT), (7, SAT)))

    @classmethod
    def png_default(cls) -> ValueMap:
        """PNG masks: our labels 0-3 as pixel values, and 255 (a white binary mask) as muscle."""
        return cls(name="labels", pairs=((0, BACKGROUND), (1, MUSCLE), (2, SAT), (3, VAT), (255, MUSCLE)))

    @classmethod
    def parse(cls, text: str, *, base: ValueMap | None = None) -> ValueMap:
        """``"alberta"``, ``"labels"`` or ``"1=1,2=1,5=3,7=2"``; ``"alberta,12=0"`` extends a named map."""
        named = {"alberta": cls.alberta_tags, "labels": cls.png_default}
        pairs: dict[int, int] = dict(base.pairs) if base is not None else {}
        names: list[str] = [base.name] if base is not None else []
        for part in [p.strip() for p in str(text or "").split(",") if p.strip()]:
            if part.lower() in named:
                pairs.update(named[part.lower()]().pairs)
                names.append(part.lower())
                continue
            try:
                src, dst = (int(v) for v in part.split("="))
            except ValueError:
                raise InvalidMaskError(
                    f"Cannot read {part!r} in the value map {text!r}; write value=label pairs such as "
                    "'1=1,2=1,5=3,7=2' (labels 0 background, 1 muscle, 2 SAT, 3 VAT) or a name (alberta, labels)."
                ) from None
            if dst not in LABEL_NAMES or not 0 <= src <= 65535:
                raise InvalidMaskError(
                    f"{part!r} maps to label {dst}; labels are 0 background, 1 muscle, 2 SAT, 3 VAT."
                )
            pairs[src] = dst
            names.append(part)
        if not pairs:
            raise InvalidMaskError(f"The value map {text!r} is empty; name one (alberta, labels) or give pairs.")
        return cls(name=",".join(names), pairs=tuple(sorted(pairs.items())))

    def as_dict(self) -> dict[int, int]:
        return dict(self.pairs)

    def to_labels(self, values: np.ndarray, *, what: str = "The mask", option: str = "--tag-map") -> np.ndarray:
        """Our uint8 label map for ``values``; refuses values the map does not name (the error shows how to
        name them with ``option``, the CLI flag of this format's map)."""
        v = np.asarray(values)
        present = np.unique(v)
        table = self.as_dict()
        unknown = [int(x) for x in present if int(x) not in table]
        if unknown:
            counts = {u: int((v == u).sum()) for u in unknown[:8]}
            raise InvalidMaskError(
                f"{what} holds values {unknown[:8]} ({', '.join(f'{k}: {n} px' for k, n in counts.items())}) that "
                f"the value map '{self.name}' does not name ({self.describe()}). Map them explicitly, e.g. "
                f"{option} {self.name},{unknown[0]}=0 to count them as background."
            )
        lut = np.zeros(int(present.max()) + 1 if present.size else 1, np.uint8)
        for src, dst in table.items():
            if src < lut.size:
                lut[src] = dst
        return lut[v.astype(np.int64)]

    def describe(self) -> str:
        return ", ".join(f"{s}->{LABEL_NAMES[d]}" for s, d in self.pairs)


@dataclass(frozen=True)
class PatientInfo:
    """Patient data given with an imported case (manifest columns); every field may be unknown."""

    height_m: float | None = None
    weight_kg: float | None = None
    sex: str | None = None  # "F" | "M" | None


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class ImportedMask:
    """An expert mask on one CT slice, in our labels and the canonical grid of that slice (read-only).

    ``slice_index`` is the canonical index (0 = most inferior) in the CT as loaded from ``image_path``.
    """

    case_id: str
    format: MaskFormat
    mask_path: str
    image_path: str
    slice_index: int
    z_mm: float
    labels: np.ndarray  # (rows, cols) uint8: 0 background, 1 muscle compartment, 2 SAT, 3 VAT
    spacing_mm: Spacing
    value_map: ValueMap | None  # the map that turned file values into labels (None: the file held our labels)
    sha256: str
    warnings: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        *,
        case_id: str,
        format: MaskFormat,
        mask_path: str,
        image_path: str,
        volume: Volume,
        slice_index: int,
        labels: np.ndarray,
        value_map: ValueMap | None,
        warnings: tuple[str, ...] | list[str] = (),
    ) -> ImportedMask:
        lab = np.asarray(labels)
        if lab.shape != volume.shape[1:]:
            raise InvalidMaskError(f"Internal shape check: mask {lab.shape} vs slice {volume.shape[1:]}.")
        lab = lab.astype(np.uint8)
        return cls(
            case_id=str(case_id),
            format=format,
            mask_path=str(mask_path),
            image_path=str(image_path),
            slice_index=int(slice_index),
            z_mm=float(volume.z_mm[slice_index]),
            labels=_readonly(lab),
            spacing_mm=volume.spacing_mm,
            value_map=value_map,
            sha256=hashlib.sha256(lab.tobytes()).hexdigest(),
            warnings=tuple(warnings),
        )

    @property
    def source(self) -> str:
        return self.format.source

    def to_dict(self) -> dict[str, Any]:
        """Everything but the pixels (JSON-ready)."""
        return {
            "case_id": self.case_id,
            "format": self.format.value,
            "source": self.source,
            "mask_path": self.mask_path,
            "image_path": self.image_path,
            "slice_index": self.slice_index,
            "z_mm": self.z_mm,
            "shape": list(self.labels.shape),
            "spacing_mm": self.spacing_mm.to_dict(),
            "value_map": None
            if self.value_map is None
            else {"name": self.value_map.name, "pairs": [list(p) for p in self.value_map.pairs]},
            "label_pixels": {LABEL_NAMES[k]: int((self.labels == k).sum()) for k in (MUSCLE, SAT, VAT)},
            "sha256": self.sha256,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, eq=False)
class ImportedCase:
    """An imported mask with its CT: ``volume`` holds only the traced slice (so a cohort stays small in memory)."""

    mask: ImportedMask
    volume: Volume  # one slice: volume.hu[0] is the slice the mask lies on
    patient: PatientInfo = field(default_factory=PatientInfo)

    @property
    def case_id(self) -> str:
        return self.mask.case_id


class RowStatus(enum.Enum):
    OK = "ok"
    ERROR = "error"


@dataclass(frozen=True, eq=False)
class ImportOutcome:
    """One manifest row: ok with its case, or error with the reason (one bad row never stops the others)."""

    row: int  # 1-based data row of the manifest (header excluded)
    case_id: str
    status: RowStatus
    reason: str = ""
    case: ImportedCase | None = None
    format: MaskFormat | None = None
    store_case_id: int | None = None  # the case in the case store, when the import was kept there

    def to_dict(self) -> dict[str, Any]:
        m = self.case.mask if self.case is not None else None
        return {
            "row": self.row,
            "case_id": self.case_id,
            "status": self.status.value,
            "format": self.format.value if self.format else "",
            "slice_index": "" if m is None else m.slice_index,
            "z_mm": "" if m is None else round(m.z_mm, 2),
            "reason": self.reason,
            "warnings": "" if m is None else "; ".join(m.warnings),
            "store_case_id": "" if self.store_case_id is None else self.store_case_id,
        }


@dataclass(frozen=True, eq=False)
class ImportReport:
    """All rows of one bulk import, in manifest order."""

    outcomes: tuple[ImportOutcome, ...]

    @property
    def cases(self) -> tuple[ImportedCase, ...]:
        return tuple(o.case for o in self.outcomes if o.case is not None)

    @property
    def n_ok(self) -> int:
        return sum(o.status is RowStatus.OK for o in self.outcomes)

    @property
    def n_error(self) -> int:
        return sum(o.status is RowStatus.ERROR for o in self.outcomes)
