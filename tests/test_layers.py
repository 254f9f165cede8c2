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


# Inside bot/, the rooms stack the same way: each may use its own ring and the rings below it.
# Records are written in the words of the bottom ring; pushes are sent for cases, never the other
# way round; supervision watches cases; the scheduler (and the emulator, and the migrations)
# drive everything. A type named only for a hint (`if TYPE_CHECKING:`) is not a dependency at run time.
BOT_RINGS = (
    {"platform", "identifiers", "vocabulary"},
    {"models"},
    {"people"},
    {"push"},
    {"casework"},
    {"supervision"},
    {"scheduler", "emulator", "migrations"},
)
RING_OF = {room: n for n, rooms in enumerate(BOT_RINGS) for room in rooms}


def bot_room(dotted: str) -> str | None:
    parts = dotted.split(".")
    return parts[1] if parts[0] == "bot" and len(parts) > 1 else None


def bot_imports(path: Path) -> set[tuple[str, int]]:
    """(room, line) of every bot import in the module, leaving out what `if TYPE_CHECKING:` guards."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    hinted = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
              and getattr(block.test, "id", getattr(block.test, "attr", None)) == "TYPE_CHECKING"
              for stmt in block.body for n in ast.walk(stmt)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in hinted:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{alias.name}" if node.module == "bot" else node.module for alias in node.names]
        else:
            continue
        found |= {(room, node.lineno) for room in map(bot_room, names) if room}
    return found


def room_of_file(path: Path) -> str:
    return path.relative_to(ROOT / "bot").parts[0].removesuffix(".py")


def test_every_room_of_bot_has_a_ring():
    rooms = {room_of_file(p) for p in modules_of("bot")} - {"__init__"}
    assert rooms == set(RING_OF), "a new room of bot/ needs its place in BOT_RINGS"


def test_bot_rooms_import_only_their_ring_and_below():
    against = [f"{path.relative_to(ROOT)}:{line} imports bot.{room}"
               for path in modules_of("bot") if room_of_file(path) in RING_OF
               for room, line in bot_imports(path) if RING_OF[room] > RING_OF[room_of_file(path)]]
    assert not against, "\n".join(against)


def test_the_ring_rule_sees_an_upward_import_and_skips_a_type_hint(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from typing import TYPE_CHECKING\nfrom bot.casework import cases\n"
                   "if TYPE_CHECKING:\n    from bot.supervision.digest import RegionFigures\n"
                   "def f():\n    from bot import scheduler\n", encoding="utf-8")
    assert bot_imports(bad) == {("casework", 2), ("scheduler", 6)}
