"""Every string a caller can send to the public API is guarded against control characters,
NUL and unpaired surrogates (issue 16, item 2): it carries one of shared.text's guards, or it
can only be one of a closed set of values (a pattern made of listed characters, a set of
codes, an enumeration). Walks every route of the gateway and of each service, their query,
path and body parameters, down to each string in nested models, lists and dicts. Headers are
left out: they are parsed (If-Match) or bounded to printable ASCII (Idempotency-Key), and
the HTTP server refuses control characters in them."""

from __future__ import annotations

import enum
import re
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import AfterValidator, BaseModel

from gateway.app import create_app as create_gateway
from gateway.edge.upstreams import ASGIUpstream, Upstream
from ruta.embedded import SERVICE_FACTORIES
from shared.settings import Settings
from shared.text import TEXT_GUARDS

HOSTILE = ("\x00", "\x07", "\x1b", "\x85", "\ud800", "\n")
# Not part of the public API: static documentation assets, and the internal routes the
# services call each other on (authenticated by the internal assertion, fed by peers).
SKIPPED = re.compile(r"^/(docs|internal)/")
# Strings checked after the schema, by another model: the bulk items are validated one by one
# as ProfileCreate / VacancyCreate (same guards) so that one bad item does not fail the batch.
CHECKED_LATER = {"POST /v1/profiles/bulk data.items[]", "POST /v1/vacancies/bulk data.items[]"}


def _admits(pattern: str, char: str) -> bool:
    """Whether a string matching ``pattern`` may contain ``char``: some atom of the pattern
    (a literal, a class, a dot) matches it. Conservative on what it does not know."""
    from re import _parser  # type: ignore[attr-defined]

    def atom(op: Any, av: Any) -> bool:
        name = str(op)
        if name == "LITERAL":
            return chr(av) == char
        if name == "NOT_LITERAL":
            return chr(av) != char
        if name == "ANY":
            return char != "\n"
        if name == "IN":
            return re.fullmatch(_class(av), char) is not None
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            return any(atom(o, a) for o, a in av[2])
        if name == "SUBPATTERN":
            return any(atom(o, a) for o, a in av[3])
        if name == "BRANCH":
            return any(atom(o, a) for branch in av[1] for o, a in branch)
        return name != "AT"  # an anchor consumes nothing; anything unknown: assume it may

    return any(atom(o, a) for o, a in _parser.parse(pattern))


def _class(items: list[tuple[Any, Any]]) -> str:
    out, negate = [], False
    categories = {"CATEGORY_DIGIT": r"\d", "CATEGORY_NOT_DIGIT": r"\D",
                  "CATEGORY_SPACE": r"\s", "CATEGORY_NOT_SPACE": r"\S",
                  "CATEGORY_WORD": r"\w", "CATEGORY_NOT_WORD": r"\W"}
    for op, av in items:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            out.append(re.escape(chr(av)))
        elif name == "RANGE":
            out.append(f"{re.escape(chr(av[0]))}-{re.escape(chr(av[1]))}")
        elif name == "CATEGORY":
            out.append(categories[str(av)])
        else:
            return r"[\s\S]"
    return "[" + "^" * negate + "".join(out) + "]"


def _guarded(meta: list[Any]) -> bool:
    for m in meta:
        if isinstance(m, AfterValidator):
            if m.func in TEXT_GUARDS:
                return True
            if _refuses_all(m.func):  # a closed set of codes (shared.refdata.member_of)
                return True
        pattern = getattr(m, "pattern", None)
        if isinstance(pattern, str) and not any(_admits(pattern, h) for h in HOSTILE):
            return True
    return False


def _refuses_all(func: Any) -> bool:
    for h in HOSTILE:
        try:
            func("VEN" + h)
        except ValueError:
            continue
        return False
    return True


def _strings(ann: Any, meta: list[Any], where: str, seen: frozenset[type]
             ) -> Iterator[tuple[str, list[Any]]]:
    """(where, metadata) of each string an annotation holds."""
    origin = get_origin(ann)
    if origin is Annotated:
        base, *extra = get_args(ann)
        yield from _strings(base, [*meta, *extra], where, seen)
    elif origin in (Union, types.UnionType):
        for arg in get_args(ann):
            yield from _strings(arg, meta, where, seen)
    elif origin in (list, set, frozenset, tuple):
        for arg in get_args(ann):
            if arg is not Ellipsis:
                yield from _strings(arg, [], where + "[]", seen)
    elif origin is dict:
        key, value = get_args(ann)
        yield from _strings(key, [], where + "{key}", seen)
        yield from _strings(value, [], where + "{value}", seen)
    elif origin is Literal or ann is type(None):
        return
    elif ann is Any or ann is str:
        yield where, meta
    elif isinstance(ann, type) and issubclass(ann, BaseModel):
        if ann not in seen:
            for name, f in ann.model_fields.items():
                yield from _strings(f.annotation, list(f.metadata),
                                    f"{where}.{f.alias or name}", seen | {ann})
    elif isinstance(ann, type) and issubclass(ann, enum.Enum | int | float | bool):
        return


def _params(dependant: Dependant) -> Iterator[Any]:
    stack = [dependant]
    while stack:
        d = stack.pop()
        stack.extend(d.dependencies)
        yield from (*d.path_params, *d.query_params, *d.body_params)


def _apps(tmp: Path) -> dict[str, FastAPI]:
    settings = Settings(data_dir=tmp)
    apps = {name: factory(settings, None) for name, factory in SERVICE_FACTORIES.items()}
    upstreams: dict[str, Upstream] = {name: ASGIUpstream(name, a) for name, a in apps.items()}
    return {**apps, "gateway": create_gateway(settings, None, upstreams)}


def unguarded_strings(apps: dict[str, FastAPI]) -> list[str]:
    found = []
    for name, app in apps.items():
        for ctx in iter_route_contexts(app.routes):
            route = ctx.original_route
            path = ctx.path or ""
            if not isinstance(route, APIRoute) or SKIPPED.match(path):
                continue
            operation = f"{sorted(route.methods or ())[0]} {path}"
            for p in _params(route.dependant):
                for where, meta in _strings(p.field_info.annotation,
                                            list(p.field_info.metadata), p.alias, frozenset()):
                    if f"{operation} {where}".startswith(tuple(CHECKED_LATER)):
                        continue
                    if not _guarded(meta):
                        found.append(f"{name}: {operation} {where}")
    return sorted(set(found))


def test_the_pattern_check_knows_open_from_closed_patterns() -> None:
    assert not _admits(r"^[A-Za-z0-9._:-]+$", "\x00")
    assert not _admits(r"^\d{4}(\d{2})?$", "\x85")
    assert not _admits(r"^(active|suspended)$", "\ud800")
    assert _admits(r"^[^\x00-\x1f\x7f]*$", "\x85")  # the old one-line pattern: C1 let in
    assert _admits(r"^[^\x00-\x1f\x7f]*$", "\ud800")
    assert _admits(r"^.*$", "\x00")


def test_every_string_of_the_public_api_is_guarded(tmp_path: Path) -> None:
    found = unguarded_strings(_apps(tmp_path))
    assert found == [], "string fields without a shared.text guard:\n" + "\n".join(found)


@pytest.mark.parametrize("kind", ["app"])
def test_the_walk_sees_the_api(tmp_path: Path, kind: str) -> None:
    """The walk reaches nested models and query parameters (a walk that found nothing
    would pass the test above)."""
    apps = _apps(tmp_path)
    seen = []
    for ctx in iter_route_contexts(apps["registry"].routes):
        route = ctx.original_route
        if isinstance(route, APIRoute) and ctx.path == "/v1/profiles":
            for p in _params(route.dependant):
                seen += [w for w, _ in _strings(p.field_info.annotation,
                                                list(p.field_info.metadata), p.alias,
                                                frozenset())]
    assert "data.sensitive.notes" in seen and "q" in seen
