"""The caller as the front door authenticated it, for the gateway's own routes.

The front door verifies the bearer token once and leaves the identity in the ASGI scope;
the gateway's routes read it from there instead of verifying the token a second time.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.types import Scope

from shared.errors import Unauthenticated
from shared.identity import IDENTITY_SCOPE_KEY, Identity


def identity_of(scope: Scope) -> Identity | None:
    return scope.get(IDENTITY_SCOPE_KEY)


async def gateway_identity(request: Request) -> Identity:
    identity = identity_of(request.scope)
    if identity is None:
        raise Unauthenticated()
    return identity


GatewayIdentity = Annotated[Identity, Depends(gateway_identity)]
