"""Fail the build when a module or a function grows past what a newcomer can hold in mind.

Issue 14's limits, checked by ``make lint`` on the application code (gateway/, services/,
shared/, ruta/): no module over 600 lines, no function or method over 80 lines. A room that
grows past them is split by aggregate or use case (docs/decisions/0005).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOTS = ("gateway", "services", "shared", "ruta")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def oversized(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    found = []
    lines = len(source.splitlines())
    if lines > MAX_MODULE_LINES:
        found.append(f"{path}: module of {lines} lines (limit {MAX_MODULE_LINES})")
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{path}:{node.lineno}: function {node.name} of {length} lines "
                             f"(limit {MAX_FUNCTION_LINES})")
    return found


def main(roots: list[str]) -> int:
    problems = [p for root in roots for f in sorted(Path(root).rglob("*.py"))
                for p in oversized(f)]
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} size limit(s) exceeded", file=sys.stderr)
        return 1
    print(f"sizes: every module <= {MAX_MODULE_LINES} lines, every function <= "
          f"{MAX_FUNCTION_LINES} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or list(ROOTS)))
