"""How an exported verifiable credential names its holder: by a salted hash unless the person
asks for their name (issue 16, item 10).

A VC travels: a verifier keeps it, forwards it, a breach leaks it. By default it carries no
clear name, only an Open Badges 3.0 ``IdentityObject`` whose ``identityHash`` is

    "sha256$" + lowercase hex of SHA-256( UTF-8( identity + salt ) )
    identity = NAME + "|" + BIRTH_DATE

- ``NAME``: the full name as registered (given names, first surname, second surname joined
  by one space), Unicode NFKD with the combining marks (accents) removed, upper-cased,
  whitespace runs collapsed to one space, trimmed — so ``María José  Pérez Rodríguez``
  becomes ``MARIA JOSE PEREZ RODRIGUEZ``, as a verifier reads it off an identity document;
- ``BIRTH_DATE``: ``YYYY-MM-DD`` (empty when the registry has none);
- ``salt``: 32 lowercase hex characters (128 random bits), new for every export.

The salt is never inside the signed VC: it is returned to the holder beside it (response
header ``Ruta-Subject-Salt``). A verifier who meets the person and is shown the salt recomputes
the hash from the identity document; without the salt the hash says nothing (128 bits stop
any guessing of names and dates). ``identityType`` is ``ext:nameAndBirthDate`` (an Open
Badges extension value: the standard list has no combined type).

When the person asks (``?subject=name``), the VC carries the clear name instead
(``identityType: name``, ``hashed: false``) and no salt is made.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from datetime import date
from enum import StrEnum
from typing import Any

HASHED_IDENTITY_TYPE = "ext:nameAndBirthDate"
SALT_HEADER = "Ruta-Subject-Salt"


class SubjectDisclosure(StrEnum):
    HASH = "hash"  # the default: a salted hash of name and birth date
    NAME = "name"  # the clear name, only when the person asks


def normalised_name(full_name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", full_name)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.upper().split())


def identity_of(full_name: str, birth_date: date | None) -> str:
    return f"{normalised_name(full_name)}|{birth_date.isoformat() if birth_date else ''}"


def new_salt() -> str:
    return secrets.token_hex(16)


def identity_hash(full_name: str, birth_date: date | None, salt: str) -> str:
    digest = hashlib.sha256((identity_of(full_name, birth_date) + salt).encode("utf-8"))
    return f"sha256${digest.hexdigest()}"


def identity_object(full_name: str, birth_date: date | None, salt: str | None
                    ) -> dict[str, Any]:
    """The holder as an Open Badges ``IdentityObject``: hashed with ``salt``, or the clear
    name when ``salt`` is None (the person asked for it)."""
    if salt is None:
        return {"type": "IdentityObject", "identityType": "name", "hashed": False,
                "identityHash": full_name}
    return {"type": "IdentityObject", "identityType": HASHED_IDENTITY_TYPE, "hashed": True,
            "identityHash": identity_hash(full_name, birth_date, salt)}
