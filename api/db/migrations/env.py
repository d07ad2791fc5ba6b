"""Alembic environment: run against the connection the service hands over (api.db.session.migrate),
or the URL in the config when run from the alembic command line."""

from alembic import context
from sqlalchemy import create_engine

from api.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    connection = create_engine(context.config.get_main_option("sqlalchemy.url")).connect()
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
