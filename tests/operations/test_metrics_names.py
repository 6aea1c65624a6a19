"""issue 18: every metric the alerting rules and the Grafana dashboard name is one the code
exports, under Prometheus naming, and no label could carry an id or personal data."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

import gateway.events.metrics  # noqa: F401  (registers what the event pipeline records)
import shared.metrics as metrics
import shared.observability as observability

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy/prometheus/ruta-alerts.yml"
DASHBOARD = ROOT / "deploy/grafana/ruta-dashboard.json"
RUNBOOK = ROOT / "deploy/prometheus/RUNBOOK.md"
NAME = re.compile(r"\bruta_[a-z0-9_]+")
FORBIDDEN_LABELS = {"id", "profile_id", "client_id", "subject", "organisation_id", "path",
                    "url", "email", "name", "document", "ip", "user"}


def exported() -> set[str]:
    names: set[str] = set()
    for family in REGISTRY.collect():
        if not family.name.startswith("ruta_"):
            continue
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"),
                    "gauge": ("",)}.get(family.type, ("",))
        names.update(family.name + s for s in suffixes)
    return names


def named_in(text: str) -> set[str]:
    return set(NAME.findall(text))


def test_rules_and_dashboard_name_only_exported_metrics() -> None:
    rules = named_in(RULES.read_text())
    panels = json.loads(DASHBOARD.read_text())["panels"]
    dashboard = named_in(" ".join(t["expr"] for p in panels for t in p["targets"]))
    assert rules and dashboard
    have = exported()
    assert rules - have == set(), "rules name metrics nobody exports"
    assert dashboard - have == set(), "the dashboard names metrics nobody exports"


def test_every_alert_has_a_runbook_section() -> None:
    alerts = re.findall(r"alert: (\w+)", RULES.read_text())
    runbook = RUNBOOK.read_text()
    for alert in alerts:
        assert f"## {alert}\n" in runbook, alert
        assert f"RUNBOOK.md#{alert.lower()}" in RULES.read_text(), alert


def test_names_follow_prometheus_conventions_and_labels_hold_no_ids() -> None:
    wrappers = [v for m in (metrics, observability) for v in vars(m).values()
                if isinstance(v, MetricWrapperBase)]
    assert len(wrappers) >= 15
    for metric in wrappers:
        name = metric._name
        assert re.fullmatch(r"ruta_[a-z][a-z0-9_]*", name), name
        if metric._type == "counter":
            assert not name.endswith("_total"), name  # the client adds it
        labels = set(metric._labelnames)
        assert not labels & FORBIDDEN_LABELS, (name, labels & FORBIDDEN_LABELS)
        assert "job" not in labels and "instance" not in labels, name  # Prometheus's own
