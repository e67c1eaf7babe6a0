"""Alembic's environment: migrations run on the connection core/database.py's upgrade() hands over
(under its lock); batch mode, so that SQLite can alter tables too."""
from alembic import context

from core.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
