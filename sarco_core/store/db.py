"""Database location, engine creation and Alembic migrations (run programmatically; no alembic.ini)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url

from sarco_core import settings
from sarco_core.errors import StoreError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def data_dir() -> Path:
    """``$SARCO_HOME`` if set, else the platform's user data directory for "sarco"."""
    return settings.home()


def default_db_url() -> str:
    """``$SARCO_DB_URL`` if set, else SQLite at ``<data dir>/sarco.db``."""
    return settings.db_url()


def redact_url(url: str) -> str:
    """The URL with any password hidden (safe to print or log)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; for a file SQLite URL the parent folder is created."""
    try:
        u = make_url(url)
    except Exception as exc:
        raise StoreError(
            f"The database URL {url!r} is not valid ({exc}). Set SARCO_DB_URL to e.g. "
            "sqlite:////path/to/sarco.db or postgresql+psycopg://user@host/dbname."
        ) from None
    try:
        if u.get_backend_name() == "sqlite":
            db = u.database
            if db and db != ":memory:" and not db.startswith("file:"):
                Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(u, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        if u.drivername == "postgresql":
            u = u.set(drivername="postgresql+psycopg")  # the installed driver (psycopg 3), not psycopg2
        return create_engine(u, pool_pre_ping=True)
    except ModuleNotFoundError as exc:
        raise StoreError(
            f"The database driver for {redact_url(url)} is not installed ({exc.name}). "
            "Install it (for PostgreSQL: pip install -r requirements-pg.txt, or pip install -e .[pg]) or use a "
            "sqlite:/// URL."
        ) from None
    except OSError as exc:
        raise StoreError(f"Cannot create the database folder for {redact_url(url)}: {exc}.") from None


def alembic_config(engine: Engine | None = None):  # type: ignore[no-untyped-def]
    """An Alembic Config pointing at the packaged migrations."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` (default head)."""
    from alembic import command

    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    """The schema revision stored in the database (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def table_names(engine: Engine) -> list[str]:
    return sorted(inspect(engine).get_table_names())
