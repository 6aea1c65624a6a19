"""Statistical disclosure control: count cells below the threshold are hidden (primary), and
a second cell wherever one hidden cell could be recovered by subtraction from a published
total (secondary)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from services.referrals.reports.queries import DIMENSIONS, FAMILIES, Key


@dataclass
class Table:
    """Count cells of every count indicator and the equations that tie them together."""

    cells: dict[Key, float]
    threshold: int
    hidden: set[Key] = field(default_factory=set)

    def primary(self, counts: Iterable[str]) -> None:
        names = set(counts)
        self.hidden = {k for k, v in self.cells.items()
                       if k[0] in names and 0 < v < self.threshold}

    def secondary(self, equations: list[tuple[Key, list[Key]]]) -> None:
        """Each equation ``total = Σ members`` must hide none or at least two of its cells:
        with exactly one hidden it could be recovered by subtraction, so the smallest visible
        non-zero member (else the total) is hidden too. Repeated until nothing changes."""
        changed = True
        while changed:
            changed = False
            for total, members in equations:
                present = [k for k in [total, *members] if self.cells.get(k, 0) > 0]
                unknown = [k for k in present if k in self.hidden]
                if len(unknown) != 1:
                    continue
                candidates = sorted((self.cells[k], str(k), k) for k in present
                                    if k not in self.hidden and k != total)
                pick = candidates[0][2] if candidates else (
                    total if total not in self.hidden and self.cells.get(total, 0) > 0
                    else None)
                if pick is not None:
                    self.hidden.add(pick)
                    changed = True


def equations(cells: dict[Key, float], counts: Sequence[str]) -> list[tuple[Key, list[Key]]]:
    values: dict[tuple[str, str], set[str]] = defaultdict(set)
    for name, dim, value in cells:
        if dim is not None and value is not None:
            values[(name, dim)].add(value)
    eqs: list[tuple[Key, list[Key]]] = []
    for name in counts:
        for dim in DIMENSIONS:
            eqs.append(((name, None, None),
                        [(name, dim, v) for v in sorted(values.get((name, dim), ()))]))
    for parent, prefix in FAMILIES:
        kids = [n for n in counts if n.startswith(prefix)]
        eqs.append(((parent, None, None), [(k, None, None) for k in kids]))
        for dim in DIMENSIONS:
            for v in sorted(values.get((parent, dim), ())):
                eqs.append(((parent, dim, v), [(k, dim, v) for k in kids]))
    return eqs
