"""Reading one sample of this process's registry, for tests that watch a metric move."""

from __future__ import annotations

from prometheus_client import REGISTRY


def sample(name: str, **labels: str) -> float:
    """The current value (0 when the series does not exist yet)."""
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value
