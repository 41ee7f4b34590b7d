"""Alembic environment: runs migrations on the connection Roost hands over."""

from alembic import context

from roost.store import models  # noqa: F401  (registers every table)
from roost.store.base import Base

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
