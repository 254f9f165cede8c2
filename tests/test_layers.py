"""The layering README's Architecture section states, kept true mechanically (issue 14, item 7):
dependencies point down only, `webhook → dialogs → (knowledge, bot)`. `knowledge` imports none
of the others, `bot` never imports `dialogs` or `webhook`, `dialogs` never imports `webhook`.
Imports inside functions count too: a lazy import is still a dependency."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("knowledge", "bot", "dialogs", "webhook")
FORBIDDEN = {
    "knowledge": {"bot", "dialogs", "webhook"},
    "bot": {"dialogs", "webhook"},
    "dialogs": {"webhook"},
    "webhook": set(),
}


def imported_packages(path: Path) -> set[tuple[str, int]]:
    """(top-level package, line) of every absolute import in the module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {(alias.name.split(".")[0], node.lineno) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add((node.module.split(".")[0], node.lineno))
    return found


def modules_of(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_no_package_imports_against_the_stated_direction(package):
    against = [f"{path.relative_to(ROOT)}:{line} imports {imported}"
               for path in modules_of(package)
               for imported, line in imported_packages(path) if imported in FORBIDDEN[package]]
    assert not against, "\n".join(against)


def test_the_rule_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from dialogs import texts\n    import webhook.cli\n", encoding="utf-8")
    assert imported_packages(bad) == {("dialogs", 2), ("webhook", 3)}


def test_every_package_is_checked():
    assert {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists() and p.name in PACKAGES} == set(PACKAGES)
