"""The event catalogue names every type the code can emit, and nothing else; its schemas are
what an integrator can build on."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema

from shared.event_types import BY_NAME, CATALOGUE, FEED_TYPES, describe
from tests.support.events import delivery_problems, feed_item_problems, finish

ROOT = Path(__file__).resolve().parents[2]


def _emitted_in(tree: ast.AST) -> set[str]:
    """Event types in the code: ``Event(type=...)``/``EventEnvelope(type=...)``, the first
    argument of an ``*_event(...)`` helper, and a delivery payload's ``{"type": ...,
    "timestamp": ...}``."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in {"Event", "EventEnvelope"}:
                found |= {str(k.value.value) for k in node.keywords if k.arg == "type"
                          and isinstance(k.value, ast.Constant)}
            elif name.endswith("_event") and node.args \
                    and isinstance(node.args[0], ast.Constant):
                found.add(str(node.args[0].value))
        elif isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
            if {"type", "timestamp"} <= keys:
                found |= {str(v.value) for k, v in zip(node.keys, node.values, strict=True)
                          if isinstance(k, ast.Constant) and k.value == "type"
                          and isinstance(v, ast.Constant)}
    return found


def test_every_type_the_code_emits_is_in_the_catalogue_and_no_other() -> None:
    emitted: dict[str, set[str]] = {}
    for folder in ("services", "gateway", "shared"):
        for path in (ROOT / folder).rglob("*.py"):
            for kind in _emitted_in(ast.parse(path.read_text(), str(path))):
                emitted.setdefault(kind, set()).add(str(path.relative_to(ROOT)))
    assert set(emitted) - set(BY_NAME) == set(), \
        {k: v for k, v in emitted.items() if k not in BY_NAME}
    assert set(BY_NAME) - set(emitted) == set(), "catalogued, but no code emits them"


def test_each_type_is_versioned_described_and_its_schemas_are_valid_json_schema() -> None:
    assert len(CATALOGUE) == len(BY_NAME)  # one entry per name
    for t in CATALOGUE:
        entry = describe(t)
        assert entry["version"] >= 1 and entry["description"]
        for key in ("schema", "webhook_schema"):
            jsonschema.Draft202012Validator.check_schema(entry[key])
            assert "$ref" not in str(entry[key])  # stands alone wherever it is published
    assert "webhook.test" in BY_NAME and "webhook.test" not in FEED_TYPES


def test_a_feed_item_or_delivery_off_its_schema_is_named_with_its_path() -> None:
    item: dict[str, Any] = {"position": 3, "event_id": "e1", "type": "referral.status_changed",
            "occurred_at": "2026-11-20T10:00:00Z", "subject_type": "referral",
            "subject_id": "r1", "subject_version": 2, "organisation_id": "ong-lima",
            "regions": ["PE-LMA"], "data": {
                "profile_id": "p1", "programme_id": "g1", "provider_id": "v1",
                "provider_organisation_id": "prov", "referring_organisation_id": "ong-lima",
                "pathway_id": None, "from": "requested", "to": "accepted",
                "action": "accept", "reason_code": None, "changed_fields": ["status"]}}
    assert feed_item_problems(item) == []
    item["data"] = {**item["data"], "to": "teleported", "given_names": "María"}
    problems = "\n".join(feed_item_problems(item))
    assert "data/to" in problems and "data/given_names: not declared" in problems
    assert feed_item_problems({**item, "type": "profile.hacked"}) == [
        "feed item: type 'profile.hacked' is not in the event catalogue"]
    ping = {"type": "webhook.test", "timestamp": "2026-11-20T10:00:00Z",
            "data": {"subscription_id": "s1"}}
    assert delivery_problems(ping) == []
    assert "data: 'subscription_id' is a required property" in "\n".join(
        delivery_problems({**ping, "data": {}}))


class _Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write_line(self, line: str) -> None:
        self.lines.append(line)


def _session(args: list[str], reporter: _Lines) -> SimpleNamespace:
    return SimpleNamespace(
        config=SimpleNamespace(args=args, option=SimpleNamespace(keyword="", markexpr=""),
                               pluginmanager=SimpleNamespace(get_plugin=lambda _: reporter)),
        testsfailed=0, shouldstop=False, exitstatus=0)


def test_the_run_fails_when_emitted_and_catalogued_types_differ() -> None:
    all_but_one = set(BY_NAME) - {"referral.overdue"}
    reporter = _Lines()
    whole = _session([str(ROOT / "tests")], reporter)
    finish(whole, all_but_one)
    assert whole.exitstatus == 1
    assert "catalogued but never emitted by the suite: referral.overdue" in reporter.lines
    part = _session([str(ROOT / "tests" / "gateway")], _Lines())
    finish(part, all_but_one)
    assert part.exitstatus == 0  # a partial run cannot tell
    finish(part, set(BY_NAME) | {"vacancy.teleported"})
    assert part.exitstatus == 1  # emitted but not catalogued: always
    complete = _session([str(ROOT / "tests")], _Lines())
    finish(complete, set(BY_NAME))
    assert complete.exitstatus == 0
