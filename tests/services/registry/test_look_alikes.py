"""Duplicate detection sees through look-alike letters and invisible characters (issue 16,
item 2): a Cyrillic "а" typed for a Latin "a" — by a keyboard layout or on purpose — folds to
the same search key, so the same person is flagged at registration and found by name."""

from __future__ import annotations

import re
import unicodedata

import httpx

from services.registry.search import LOOK_ALIKES, fold, normalise
from tests.support.payloads import profile_payload
from tests.support.tokens import TokenFactory

# "Аnа Реrеz": Cyrillic А, а, Р, е, е among Latin letters; looks the same on screen.
CYRILLIC_ANA = "\u0410n\u0430"
CYRILLIC_PEREZ = "\u0420\u0435r\u0435z"


def _fold_before(text: str) -> str:
    """fold() as it was: the key every stored profile has today."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", " ", stripped.lower()).strip()


def test_look_alike_letters_fold_to_their_latin_skeleton() -> None:
    assert fold("Аna Pérez") == fold("Ana Pérez") == "ana perez"  # Cyrillic А
    assert normalise(CYRILLIC_ANA, CYRILLIC_PEREZ) == "ana perez"
    assert fold("ΜΑΡΙΑ") == "mapia"  # Greek capitals: the Latin letters they look like
    assert fold("Ма\u200bría\u202e") == "maria"  # zero-width space, RTL override: seen through


def test_latin_keys_are_unchanged_so_no_stored_key_moves() -> None:
    """Every Latin letter (ASCII, Latin-1, Latin Extended-A and B) folds as before: only keys
    with Cyrillic, Greek or invisible characters change (``ruta text-audit`` lists them)."""
    latin = "".join(chr(c) for c in range(0x20, 0x250)
                    if unicodedata.category(chr(c)) not in ("Cc", "Cf"))
    assert fold(latin) == _fold_before(latin)
    for word in ("María José Pérez Rodríguez", "Núñez", "D'Ángelo", "Yıldız", "Łukasz"):
        assert fold(word) == _fold_before(word)


def test_the_table_maps_only_cyrillic_and_greek_letters_to_latin_ones() -> None:
    for source, target in LOOK_ALIKES.items():
        assert unicodedata.name(source).startswith(("CYRILLIC", "GREEK")), source
        assert re.fullmatch("[A-Za-z]", target), (source, target)


async def test_a_look_alike_name_is_a_duplicate_candidate_and_found_by_name(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    first = await client.post("/v1/profiles", headers=auth(), json=profile_payload(
        given_names="Ana", first_surname="Pérez", second_surname=None,
        birth_date="1991-03-25"))
    assert first.status_code == 201, first.text
    again = await client.post("/v1/profiles", headers=auth(), json=profile_payload(
        given_names=CYRILLIC_ANA, first_surname=CYRILLIC_PEREZ, second_surname=None,
        birth_date="1991-03-25"))
    assert again.status_code == 201, again.text  # accepted: it may be a real spelling
    candidates = again.json()["duplicate_candidates"]
    assert [c["id"] for c in candidates] == [first.json()["id"]]
    found = await client.get("/v1/profiles", params={"q": "Ana Perez"}, headers=auth())
    ids = {p["id"] for p in found.json()["items"]}
    assert {first.json()["id"], again.json()["id"]} <= ids
