"""The test suite's own layout: shared helpers live in plain modules (tests/factories.py,
tests/support.py, tests/review_dataset.py, conftest.py), never in a test module another imports."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _is_test_module(dotted: str) -> bool:
    return dotted.rsplit(".", 1)[-1].startswith("test_")


def _imported_test_modules(source: str) -> list[str]:
    """The test modules (``test_*``) that this source imports, however spelled."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _is_test_module(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            if node.module and _is_test_module(node.module):
                found.append(node.module)
            else:  # a test module named after "from tests" or "from ."
                found += [alias.name for alias in node.names if _is_test_module(alias.name)]
    return found


def test_no_test_module_imports_another_test_module():
    problems = [
        f"{path.relative_to(TESTS.parent)} imports {name}"
        for path in sorted(TESTS.rglob("*.py"))
        if "vendor" not in path.parts
        for name in _imported_test_modules(path.read_text(encoding="utf-8"))
    ]
    assert not problems, "put shared helpers in tests/factories.py or tests/support.py:\n" + "\n".join(problems)
