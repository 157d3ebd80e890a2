"""The package's shape, held: small modules, small classes, each subpackage in its room.

The import arrows themselves are checked by import-linter (`lint-imports`, contracts in pyproject.toml);
these are the limits it does not check.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import erflow

PACKAGE = Path(erflow.__file__).parent
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "defaults" not in p.parts)
ROOMS = ("core", "store", "mail", "trust", "reports", "app", "cli")
MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 300


def _rel(path: Path) -> str:
    return path.relative_to(PACKAGE.parent).as_posix()


def test_every_module_lives_in_a_room() -> None:
    outside = [
        _rel(p)
        for p in MODULES
        if p.relative_to(PACKAGE).parts[0] not in {*ROOMS, "__init__.py", "__main__.py"}
    ]
    assert outside == [], f"modules outside the rooms {ROOMS}"


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_module_and_classes_stay_small(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") <= MAX_MODULE_LINES, f"{_rel(path)} has over {MAX_MODULE_LINES} lines"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            assert length <= MAX_CLASS_LINES, f"{_rel(path)}: class {node.name} has {length} lines"


def test_no_module_imports_click_which_is_not_a_dependency() -> None:
    """typer bundles its own click; the real one is only installed with the test extras (through
    import-linter), so an `import click` breaks `erflow --help` on a user's machine."""
    package = Path(__file__).resolve().parent.parent / "erflow"
    found = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name == "click" or name.startswith("click.") for name in names):
                found.append(f"{path.relative_to(package)}:{node.lineno}")
    assert found == []
