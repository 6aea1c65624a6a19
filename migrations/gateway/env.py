"""Alembic environment of the gateway database (see shared/migrate.py)."""

from alembic import context

from gateway.models import Base
from shared.migrate import run_env
from shared.tables import shared_metadata

run_env(context, [Base.metadata, shared_metadata])
