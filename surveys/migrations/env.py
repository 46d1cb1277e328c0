"""Alembic environment: heard passes the connection in (see surveys.database.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from surveys.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` CLI use: DATABASE_URL from heard's settings
    from surveys.settings import get_settings

    connection = create_engine(get_settings().resolved_database_url()).connect()

context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
