"""Every table of the gateway database, on the one metadata of ``gateway.base``.

Alembic (migrations/gateway/env.py) and the migration tests import ``Base`` from here:
importing this module registers every room's tables, so autogenerate sees them all.
"""

from __future__ import annotations

from gateway.base import Base
from gateway.events import models as events_models
from gateway.identity import models as identity_models

__all__ = ["Base", "events_models", "identity_models"]
