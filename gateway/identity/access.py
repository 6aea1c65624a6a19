"""Object-level checks on the gateway's own data, beside the route policy of the edge.

The front door already refuses a role a route does not allow; the use cases check again
because they are also called from the command line, where no front door stands in front.
"""

from __future__ import annotations

from shared.errors import Forbidden
from shared.identity import Identity


def require_admin(identity: Identity) -> None:
    if not identity.is_admin:
        raise Forbidden()
