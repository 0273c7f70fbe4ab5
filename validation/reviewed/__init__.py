"""The reviewed real-CT muscle reference (see ``validation/reviewed/README.md``).

Masks are 1-bit PNGs on the CT slice's native canonical grid (``sarco_core.io.load``); the CT itself lives in the
shared data folder (``$SARCO_SHARED_DATA`` or ``../shared/data``) and is not copied here. Reading a mask back needs
only Pillow and numpy, never the teacher or the model::

    from validation.reviewed import NAMES, load_reviewed
    ct_path, k, mask = load_reviewed("covid_A027284_19000925-116")
    hu = sarco_core.io.load(ct_path).hu[k]          # mask.shape == hu.shape
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MASKS = HERE / "masks"

# name -> (path of the CT relative to the shared data folder, canonical slice index)
SLICES: dict[str, tuple[str, int]] = {
    "covid_A027284_19000925-116": ("tcia_covid19_ny_sbu/A027284/axial/19000925-116.dcm", 0),
    "covid_A027284_19001231-131": ("tcia_covid19_ny_sbu/A027284/axial/19001231-131.dcm", 0),
    "covid_A058062_19001231-084": ("tcia_covid19_ny_sbu/A058062/axial/19001231-084.dcm", 0),
    "covid_A058062_19010108-078": ("tcia_covid19_ny_sbu/A058062/axial/19010108-078.dcm", 0),
    "covid_A062055_19001127-136": ("tcia_covid19_ny_sbu/A062055/axial/19001127-136.dcm", 0),
    "covid_A062055_19001228-131": ("tcia_covid19_ny_sbu/A062055/axial/19001228-131.dcm", 0),
    "pancreas_0001_slice122": ("pydicom/pancreas_ct_0001_slice122_j2k.dcm", 0),
    "lungdx_A0001_k0": ("tcia_lung_pet_ct_dx/Lung_Dx-A0001", 0),
    "lungdx_A0001_k2": ("tcia_lung_pet_ct_dx/Lung_Dx-A0001", 2),
}


def data_dir() -> Path:
    """The shared data folder: ``$SARCO_SHARED_DATA`` or ``../shared/data`` next to the repository."""
    from sarco_core import settings

    return settings.shared_data()


def mask_path(name: str) -> Path:
    return MASKS / f"{name}.png"


def names() -> list[str]:
    """Slices with a finished (committed) mask, in registry order."""
    return [n for n in SLICES if mask_path(n).is_file()]


def read_mask(path: Path) -> np.ndarray:
    """A 1-bit PNG -> bool array (row, col)."""
    from PIL import Image

    with Image.open(path) as im:
        return np.array(im.convert("1"), dtype=bool)


def write_mask(path: Path, mask: np.ndarray) -> None:
    """bool (row, col) -> 1-bit PNG (lossless, a few kB)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(mask, dtype=bool)).convert("1").save(path, optimize=True)


def load_reviewed(name: str, data: Path | None = None) -> tuple[Path, int, np.ndarray]:
    """(path of the CT, canonical slice index, bool muscle mask on that slice's native grid)."""
    rel, k = SLICES[name]
    if "totalsegmentator" in rel:  # pragma: no cover - guard: the validation patient is never part of this set
        raise ValueError("the reviewed set never uses totalsegmentator/")
    return (data or data_dir()) / rel, k, read_mask(mask_path(name))


NAMES = list(SLICES)
