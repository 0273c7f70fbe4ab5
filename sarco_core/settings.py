"""Every run-time setting of sarco in one typed place: the environment variable, its default and what it does.

Read a setting through its function here (never ``os.environ`` elsewhere), so the list below is complete:

=========================  ==============================================  =======================================
variable                   default                                         what it sets
=========================  ==============================================  =======================================
SARCO_MODEL_DIR            ``models/<first>/`` of the checkout             the model folder (config.json, weights)
SARCO_MODELS_HOME          ``$SARCO_HOME/models``                          the model registry (registry.json + models)
SARCO_BACKEND              ``auto`` (ONNX Runtime on the CPU if exported)  inference backend: auto, onnx or torch
SARCO_THREADS              the cores this process may use                  torch / ONNX Runtime threads
SARCO_HOME                 the platform's user data folder for "sarco"     database, salt, caches
SARCO_DB_URL               SQLite at ``$SARCO_HOME/sarco.db``              the store's database URL
SARCO_ID_SALT              a random salt kept in ``$SARCO_HOME/id_salt``   salt of the patient-ID hash
SARCO_MAX_ARCHIVE_BYTES    4 GiB                                           uncompressed-size limit for zip input
SARCO_MAX_MEMBER_BYTES     2 GiB                                           uncompressed size of one zip member
SARCO_MAX_ZIP_RATIO        100                                             largest compression ratio accepted
SARCO_MAX_VOXELS           2^30                                            largest image a loader allocates
SARCO_LOAD_TIME_LIMIT_S    120                                             wall-clock budget of loading one input
SARCO_CASE_TIME_LIMIT_S    300 (0 = none)                                  batch: wall-clock limit of one case
SARCO_PRELOAD_MODEL        1                                               app: load the model at start (0: later)
SARCO_DEBUG                unset                                           CLI: show tracebacks of internal errors
SARCO_AUTHOR               ``$USER``, else "anonymous"                     app: author recorded on mask versions
SARCO_SHARED_DATA          ``../shared/data`` beside the checkout          real data for tests and validation
=========================  ==============================================  =======================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sarco_core.enums import Backend

REPO_ROOT = Path(__file__).resolve().parents[1]  # the checkout (an installed wheel has no models/ here)


@dataclass(frozen=True)
class Setting:
    env: str
    default: str
    doc: str

    def raw(self) -> str | None:
        """The variable's value, None when unset or empty."""
        return os.environ.get(self.env) or None


MODEL_DIR = Setting("SARCO_MODEL_DIR", "models/<first>/ of the checkout", "the model folder")
MODELS_HOME = Setting("SARCO_MODELS_HOME", "$SARCO_HOME/models", "the model registry (sarco models ...)")
BACKEND = Setting("SARCO_BACKEND", "auto", "inference backend: auto, onnx or torch")
THREADS = Setting("SARCO_THREADS", "cores available", "torch / ONNX Runtime threads")
HOME = Setting("SARCO_HOME", "platform user data folder", "database, salt, caches")
DB_URL = Setting("SARCO_DB_URL", "sqlite:///$SARCO_HOME/sarco.db", "the store's database URL")
ID_SALT = Setting("SARCO_ID_SALT", "random, kept in $SARCO_HOME/id_salt", "salt of the patient-ID hash")
MAX_ARCHIVE_BYTES = Setting("SARCO_MAX_ARCHIVE_BYTES", "4 GiB", "zip size limit")
PRELOAD_MODEL = Setting("SARCO_PRELOAD_MODEL", "1", "app: load the model at start (0 = on first use)")
DEBUG = Setting("SARCO_DEBUG", "", "CLI: show tracebacks of internal errors")
AUTHOR = Setting("SARCO_AUTHOR", "$USER or anonymous", "author recorded on mask versions")
SHARED_DATA = Setting("SARCO_SHARED_DATA", "../shared/data beside the checkout", "real data for tests")
# loader and batch limits: defaults and their reasons live in sarco_core/io/limits.py and batch/runner.py
MAX_MEMBER_BYTES = Setting("SARCO_MAX_MEMBER_BYTES", "2 GiB", "uncompressed size of one zip member")
MAX_ZIP_RATIO = Setting("SARCO_MAX_ZIP_RATIO", "100", "largest compression ratio accepted")
MAX_VOXELS = Setting("SARCO_MAX_VOXELS", "2^30", "largest image a loader allocates")
LOAD_TIME_LIMIT_S = Setting("SARCO_LOAD_TIME_LIMIT_S", "120", "wall-clock budget of loading one input")
CASE_TIME_LIMIT_S = Setting("SARCO_CASE_TIME_LIMIT_S", "300", "batch: wall-clock limit of one case (0 = none)")
ALL: tuple[Setting, ...] = (
    MODEL_DIR,
    MODELS_HOME,
    BACKEND,
    THREADS,
    HOME,
    DB_URL,
    ID_SALT,
    MAX_ARCHIVE_BYTES,
    PRELOAD_MODEL,
    DEBUG,
    AUTHOR,
    SHARED_DATA,
    MAX_MEMBER_BYTES,
    MAX_ZIP_RATIO,
    MAX_VOXELS,
    LOAD_TIME_LIMIT_S,
    CASE_TIME_LIMIT_S,
)


def by_env(name: str) -> Setting:
    """The setting of environment variable ``name`` (KeyError for one that is not a sarco setting)."""
    for s in ALL:
        if s.env == name:
            return s
    raise KeyError(name)


def model_dir() -> Path | None:
    """``$SARCO_MODEL_DIR``, else the first ``models/*/config.json`` of the checkout, else of the current folder
    (an installed wheel ships no model: set SARCO_MODEL_DIR or run from the folder holding ``models/``)."""
    env = MODEL_DIR.raw()
    if env:
        return Path(env)
    for root in (REPO_ROOT / "models", Path.cwd() / "models"):
        found = sorted(p.parent for p in root.glob("*/config.json"))
        if found:
            return found[0]
    return None


def backend() -> Backend:
    """``$SARCO_BACKEND`` as a :class:`Backend`; an unknown value raises ModelError naming the choices."""
    from sarco_core.errors import ModelError

    value = (BACKEND.raw() or Backend.AUTO.value).lower()
    try:
        return Backend(value)
    except ValueError:
        raise ModelError(
            f"Unknown backend {value!r} in SARCO_BACKEND; choose {', '.join(b.value for b in Backend)}."
        ) from None


def threads() -> int:
    """``$SARCO_THREADS``, else the cores this process may run on."""
    env = THREADS.raw()
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def home() -> Path:
    """``$SARCO_HOME`` or the platform's user data folder for "sarco"."""
    env = HOME.raw()
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("sarco", appauthor=False))


def db_url() -> str:
    """``$SARCO_DB_URL`` if set, else SQLite at ``<home>/sarco.db``."""
    return DB_URL.raw() or f"sqlite:///{home() / 'sarco.db'}"


def id_salt() -> str | None:
    """``$SARCO_ID_SALT`` (None: use the salt kept in the home folder)."""
    return ID_SALT.raw()


def debug() -> bool:
    return DEBUG.raw() is not None


def author() -> str:
    return AUTHOR.raw() or os.environ.get("USER") or "anonymous"


def shared_data() -> Path:
    """``$SARCO_SHARED_DATA`` or ``../shared/data`` beside the checkout."""
    return Path(SHARED_DATA.raw() or REPO_ROOT.parent / "shared" / "data")


def preload_model() -> bool:
    """``$SARCO_PRELOAD_MODEL``: load the model in the background when the app starts (default); 0 turns it off."""
    return (PRELOAD_MODEL.raw() or "1").strip() != "0"
