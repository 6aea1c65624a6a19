"""RUTA_OIDC_ISSUERS: every trusted identity provider is bounded (issue 16, item 8).

Production refuses an entry without ``organisations`` and ``roles``; development accepts it
(the gateway logs a warning) but even then only ``operator: true`` may grant ``admin``. A
contradictory entry is refused in both, naming the entry by its index, never its values.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shared.identity import Role
from shared.oidc_issuers import parse_issuers
from shared.settings import Settings

SECRETS = {"internal_secret": "i" * 40, "cursor_secret": "c" * 40,
           "data_keys": '{"k1": "' + "A" * 43 + '="}', "data_active_key": "k1",
           "public_base_url": "https://ruta.example.org"}
AUDIENCE = "aud-3f9c2e7d"  # a value no message may echo


def entry(**fields: Any) -> dict[str, Any]:
    return {"issuer": "https://idp.example/realms/ministerio", "jwks_url":
            "https://idp.example/certs", "audience": AUDIENCE, **fields}


def problems(*entries: dict[str, Any] | str, env: str = "production") -> str:
    raw = json.dumps(list(entries)) if not entries or not isinstance(entries[0], str) \
        else str(entries[0])
    with pytest.raises(ValidationError) as caught:
        Settings(env=env, oidc_issuers=raw, **SECRETS)  # type: ignore[arg-type]
    text = "\n".join(str(e["msg"]) for e in caught.value.errors(include_input=False))
    assert AUDIENCE not in text
    return text


def test_production_refuses_an_entry_without_bounds_naming_it() -> None:
    bounded = entry(issuer="https://ops.example", organisations="*", roles=["admin"],
                    operator=True)
    text = problems(bounded, entry(roles=["caseworker"]), entry())
    assert "RUTA_OIDC_ISSUERS[1]: organisations must be set" in text
    assert "RUTA_OIDC_ISSUERS[2]: organisations must be set" in text
    assert "RUTA_OIDC_ISSUERS[2]: roles must be set" in text
    assert "RUTA_OIDC_ISSUERS[0]" not in text


def test_production_accepts_bounded_entries() -> None:
    settings = Settings(env="production", oidc_issuers=json.dumps([
        entry(organisations=["ong-lima"], roles=["caseworker", "coordinator"]),
        entry(issuer="https://ops.example", organisations="*", roles=["admin"],
              operator=True)]), **SECRETS)  # type: ignore[arg-type]
    ministry, ops = parse_issuers(settings.oidc_issuers, production=True)
    assert ministry.organisations == frozenset({"ong-lima"}) and not ministry.operator
    assert ministry.roles == frozenset({Role.CASEWORKER, Role.COORDINATOR}) and ministry.bounded
    assert ops.organisations is None and ops.operator and ops.roles == frozenset({Role.ADMIN})


@pytest.mark.parametrize("env", ["production", "development"])
@pytest.mark.parametrize(("bad", "message"), [
    (entry(organisations=["o"], roles=["admin", "caseworker"]),
     "RUTA_OIDC_ISSUERS[0]: roles may include admin only with operator: true"),
    (entry(organisations="*", roles=["caseworker"]),
     'RUTA_OIDC_ISSUERS[0]: organisations "*" is allowed only with operator: true'),
    (entry(organisations=[], roles=["caseworker"]),
     "RUTA_OIDC_ISSUERS[0]: organisations must be a non-empty list"),
    (entry(organisations=["o"], roles=["system"]),
     "RUTA_OIDC_ISSUERS[0]: roles must be a non-empty list of admin, caseworker"),
    (entry(organisations=["o"], roles=["caseworker"], operator="yes"),
     "RUTA_OIDC_ISSUERS[0]: operator must be true or false"),
    ({"issuer": "https://idp.example", "organisations": ["o"], "roles": ["caseworker"]},
     "RUTA_OIDC_ISSUERS[0]: issuer, jwks_url and audience are required"),
    ("not json", "RUTA_OIDC_ISSUERS must be a JSON list of objects"),
    ('{"issuer": "x"}', "RUTA_OIDC_ISSUERS must be a JSON list of objects"),
])
def test_a_contradictory_entry_is_refused_everywhere(env: str, bad: Any, message: str) -> None:
    assert message in problems(bad, env=env)


def test_the_same_issuer_twice_is_refused() -> None:
    one = entry(organisations=["o"], roles=["caseworker"])
    assert "RUTA_OIDC_ISSUERS[1]: issuer already listed" in problems(one, one)


def test_development_bounds_an_unbounded_entry_below_admin() -> None:
    settings = Settings(oidc_issuers=json.dumps([entry(), entry(issuer="https://ops.example",
                                                                  operator=True)]))
    plain, ops = parse_issuers(settings.oidc_issuers, production=False)
    assert not plain.bounded and plain.organisations is None
    assert Role.ADMIN not in plain.roles and Role.SYSTEM not in plain.roles
    assert Role.CASEWORKER in plain.roles
    assert Role.ADMIN in ops.roles and not ops.bounded


def test_the_readme_example_starts_in_production() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    (example,) = [b for b in re.findall(r"```json\n(.*?)```", readme, re.S) if "operator" in b]
    Settings(env="production", oidc_issuers=example, **SECRETS)  # type: ignore[arg-type]
    ministry, ops = parse_issuers(example, production=True)
    assert ministry.bounded and not ministry.operator and Role.ADMIN not in ministry.roles
    assert ops.operator and ops.organisations is None
