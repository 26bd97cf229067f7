"""The import rule of docs/architecture.md, checked on the source: calls only go down.

Reads every import in webinar_mgr/ (at the top of a file and inside functions) and fails on an
import that goes up or sideways between modules (the order is webinar_mgr/layers.py), on a view
importing another module's views, and on an import inside a function with no comment beside it
(the line itself or the line above) saying why it is there.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

from webinar_mgr import layers

PACKAGE = Path(__file__).resolve().parent.parent / "webinar_mgr"


@dataclass(frozen=True)
class Import:
    path: Path
    line: int
    target: str  # dotted, relative to webinar_mgr ("events.services")
    in_function: bool

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(PACKAGE.parent)}:{self.line}"


def _module_parts(path: Path) -> list[str]:
    rel = path.relative_to(PACKAGE).with_suffix("")
    return list(rel.parts)


def _owner(path: Path) -> str:
    """The module a file belongs to: its package, or the file's name for top-level files."""
    return _module_parts(path)[0]


def _targets(path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    parts = _module_parts(path)
    package = parts[:-1] if path.name != "__init__.py" else parts[:-1]
    if isinstance(node, ast.Import):
        return [a.name.removeprefix("webinar_mgr.") for a in node.names if a.name.startswith("webinar_mgr.")]
    if node.level:
        base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
        if node.module:
            return [".".join([*base, node.module])]
        return [".".join([*base, a.name]) for a in node.names]
    if node.module == "webinar_mgr":
        return [a.name for a in node.names]
    if node.module and node.module.startswith("webinar_mgr."):
        return [node.module.removeprefix("webinar_mgr.")]
    return []


def _imports(path: Path) -> tuple[list[Import], list[ast.AST]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[Import] = []
    inner: list[ast.AST] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.extend(Import(path, child.lineno, t, in_function) for t in _targets(path, child))
                if in_function:
                    inner.append(child)
            visit(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef))

    visit(tree, False)
    return found, inner


def _all_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "translations" not in p.parts)


def test_every_module_is_in_a_layer():
    owners = {_owner(p) for p in _all_files()}
    missing = []
    for owner in owners:
        try:
            layers.layer_of(owner)
        except KeyError:
            missing.append(owner)
    assert not missing, f"modules in no layer of webinar_mgr/layers.py: {missing}"


def test_calls_only_go_down():
    wrong = []
    for path in _all_files():
        importer = _owner(path)
        for imp in _imports(path)[0]:
            imported = imp.target.split(".")[0]
            if not layers.may_import(importer, imported):
                wrong.append(f"{imp.where}: {importer} imports {imp.target}")
    assert not wrong, "imports that go up or sideways:\n" + "\n".join(wrong)


def test_no_view_imports_another_modules_views():
    wrong = []
    for path in _all_files():
        importer = _owner(path)
        for imp in _imports(path)[0]:
            parts = imp.target.split(".")
            if parts[0] != importer and "views" in parts[1:]:
                wrong.append(f"{imp.where}: imports {imp.target}")
    assert not wrong, "\n".join(wrong)


def test_imports_inside_functions_say_why():
    unexplained = []
    for path in _all_files():
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in _imports(path)[1]:
            same = lines[node.lineno - 1]
            above = lines[node.lineno - 2].strip() if node.lineno >= 2 else ""
            if "#" not in same and not above.startswith("#"):
                unexplained.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {same.strip()}")
    assert not unexplained, "imports inside functions need a comment saying why:\n" + "\n".join(unexplained)


@pytest.mark.parametrize(
    ("importer", "imported", "allowed"),
    [
        ("registrations", "events", True),
        ("events", "registrations", False),  # up
        ("commitments", "attendance", False),  # sideways
        ("invitations", "registrations", False),
        ("extensions", "events", False),  # the kernel imports no domain module
        ("reports", "security", True),
        ("__init__", "reports", True),
    ],
)
def test_the_rule_itself(importer, imported, allowed):
    """The check can fail: the rule refuses what it should."""
    assert layers.may_import(importer, imported) is allowed
