"""Name normalisation and fuzzy ranking, the same on SQLite and PostgreSQL.

People write names as they can: with or without accents and ñ, with the surnames in either
order, with typos, with a compound given name split or joined. Every profile keeps a
``search_key`` — its full name normalised by :func:`normalise` — maintained on every write.

The key also sees through what makes two names look alike on screen but differ in bytes:
Cyrillic and Greek letters that look Latin (a Cyrillic "а" typed for "a", by a keyboard
layout or to slip past duplicate detection) fold to the Latin letter Unicode TR39's
confusables give as their skeleton, and invisible format characters (zero-width,
bidirectional controls, soft hyphen) are dropped. Names with them are still accepted as
typed (identity fields refuse only the invisible ones, shared.text): the fold only decides
what counts as the same name. Latin letters fold exactly as before, so no stored key moves
but those of names with such characters (``ruta text-audit`` lists them).

* PostgreSQL finds the candidates of a name of two tokens or more by its tokens: each typed
  token corrected against the dictionary of tokens people carry (``name_tokens``, trigrams),
  then the profiles whose key tokens overlap every token's spellings (a GIN index over
  ``string_to_array(search_key, ' ')``, driven by the rarest token; docs/decisions/0012).
  What that cannot answer (one token, two slips) goes to pg_trgm on the whole key (a GIN
  trigram index: similarity for whole names, word similarity for a part of one); SQLite
  scans the caller's visible caseload keys with rapidfuzz (the embedded shape holds one
  organisation's people, not a country's);
* both then rank the bounded candidate set with :func:`score`, in Python, so the order and the
  cut-off are identical on both databases.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from rapidfuzz import fuzz

# How many candidates the database hands to the ranking, at most.
CANDIDATE_LIMIT = 500
# How many close spellings of a typed token (itself included) a token search tries.
SPELLINGS_PER_TOKEN = 20
# Below this score a candidate is not a match: an unrelated name finds nothing.
MATCH_CUTOFF = 78.0

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
# Particles of Spanish surnames ("de la Cruz", "del Valle") carry no identity on their own.
_PARTICLES = frozenset({"de", "del", "la", "las", "los", "y", "e", "da", "do", "dos", "van",
                        "von"})


# Cyrillic and Greek letters whose TR39 skeleton (confusables.txt) is one Latin letter, by
# case: folded before lower-casing, since a capital can look Latin where its small letter
# does not (Cyrillic В is B, в is not b).
LOOK_ALIKES: dict[str, str] = {
    # Greek
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C", "Ϳ": "J",
    "α": "a", "γ": "y", "ι": "i", "ν": "v", "ο": "o", "ρ": "p", "σ": "o", "υ": "u",
    "ϱ": "p", "ϲ": "c", "ϳ": "j",
    # Cyrillic
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
    "С": "C", "Т": "T", "У": "Y", "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J", "Ӏ": "I",
    "Ү": "Y", "Ѵ": "V", "Ԝ": "W", "Ԍ": "G", "Ь": "b",
    "а": "a", "г": "r", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x",
    "ѕ": "s", "і": "i", "ј": "j", "ӏ": "i", "ү": "y", "ѵ": "v", "һ": "h", "ԁ": "d",
    "ԛ": "q", "ԝ": "w", "ѡ": "w",
}
_SKELETON = str.maketrans(LOOK_ALIKES)


def fold(text: str) -> str:
    """Lower case, accents and ñ folded, look-alike letters to the Latin ones, invisible
    format characters dropped, anything but letters and digits → one space."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if c < "\x80" or (
        not unicodedata.combining(c) and unicodedata.category(c) != "Cf"))
    return _NON_ALNUM.sub(" ", stripped.translate(_SKELETON).lower()).strip()


def tokens(text: str) -> list[str]:
    return [t for t in fold(text).split() if t not in _PARTICLES]


def normalise(*parts: str | None) -> str | None:
    """The search key of a name made of ``parts`` (None when there is no name left)."""
    out = " ".join(t for p in parts if p for t in tokens(p))
    return out or None


def _best(token: str, candidates: Sequence[str]) -> float:
    best = 0.0
    for c in candidates:
        if c == token:
            return 100.0
        r = fuzz.ratio(token, c)
        if len(token) >= 3 and len(c) > len(token) and c.startswith(token):
            r = max(r, 90.0)  # "jose" typed, "josefina" stored: a prefix is a good sign
        best = max(best, r)
    return best


def score(query_key: str, key: str) -> float:
    """0-100: how well ``key`` (a stored name) answers ``query_key`` (what was typed).

    Order-free: every typed token is matched to its closest stored token, so surnames in
    either order score the same, and a typo costs only what it changes in that token. A
    small bonus for stored tokens the query also covers separates a namesake (same given
    names and first surname) from the person (who also has the typed second surname).
    """
    q = query_key.split()
    k = key.split()
    if not q or not k:
        return 0.0
    coverage = sum(_best(t, k) for t in q) / len(q)
    if len(q) == 1:
        return coverage
    reverse = sum(_best(t, q) for t in k) / len(k)
    return 0.85 * coverage + 0.15 * reverse


def rank(query_key: str, candidates: Iterable[tuple[str, str]],
         cutoff: float = MATCH_CUTOFF) -> list[tuple[float, str]]:
    """``(score, id)`` of candidates ``(id, key)`` scoring at least ``cutoff``, best first
    (ties by id, so pages are stable)."""
    out = []
    for pid, key in candidates:
        if not key:
            continue
        s = round(score(query_key, key), 3)
        if s >= cutoff:
            out.append((s, pid))
    out.sort(key=lambda x: (-x[0], x[1]))
    return out


def prefilter(query_key: str, candidates: Sequence[tuple[str, str]],
              limit: int = CANDIDATE_LIMIT) -> list[tuple[str, str]]:
    """SQLite: a fast C-level pass (rapidfuzz) over many keys down to ``limit`` candidates."""
    from rapidfuzz import process

    keys = [c[1] for c in candidates]
    hits = process.extract(query_key, keys, scorer=fuzz.token_set_ratio, limit=limit,
                           score_cutoff=50)
    return [candidates[i] for _, _, i in hits]
