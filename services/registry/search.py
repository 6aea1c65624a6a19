"""Name normalisation and fuzzy ranking, the same on SQLite and PostgreSQL.

People write names as they can: with or without accents and ñ, with the surnames in either
order, with typos, with a compound given name split or joined. Every profile keeps a
``search_key`` — its full name normalised by :func:`normalise` — maintained on every write.

* PostgreSQL finds candidates with pg_trgm on that key (a GIN trigram index: similarity for
  whole names, word similarity for a part of one); SQLite scans the caller's visible caseload
  keys with rapidfuzz (the embedded shape holds one organisation's people, not a country's);
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
# Below this score a candidate is not a match: an unrelated name finds nothing.
MATCH_CUTOFF = 78.0

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
# Particles of Spanish surnames ("de la Cruz", "del Valle") carry no identity on their own.
_PARTICLES = frozenset({"de", "del", "la", "las", "los", "y", "e", "da", "do", "dos", "van",
                        "von"})


def fold(text: str) -> str:
    """Lower case, accents and ñ folded, anything but letters and digits → one space."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NON_ALNUM.sub(" ", stripped.lower()).strip()


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
