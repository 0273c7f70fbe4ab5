"""Alembic environment for the sarco case store (run programmatically by ``sarco_core.store.db.migrate``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from sarco_core.store.schema import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    conn = config.attributes.get("connection")
    if conn is not None:
        _run(conn)
    else:
        engine = create_engine(str(config.get_main_option("sqlalchemy.url")))
        with engine.begin() as c:
            _run(c)
        engine.dispose()
