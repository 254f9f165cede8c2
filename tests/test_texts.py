"""The chat's texts live in dialogs/texts/, one module per conversation (issue 14, item 4)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from dialogs import texts

DIALOGS = Path(__file__).resolve().parents[1] / "dialogs"
# Where sentences are still written inline, and why (none now: dialogs/actions/service.py's replies
# moved to dialogs/texts/service.py).
NOT_YET: set[str] = set()
SENTENCE = re.compile(r"[。？！；「」]")  # what ends a sentence or quotes what to reply


def _names(module) -> set[str]:
    return {k for k in vars(module) if k.isupper()}


def test_the_flat_names_are_unambiguous():
    """`texts.X` reaches chat, form and service alike, so no name may be defined in two of them."""
    chat, form, service = _names(texts.chat), _names(texts.form), _names(texts.service)
    assert not chat & form and not chat & service and not form & service
    for name in chat | form | service:
        assert getattr(texts, name) is next(getattr(m, name) for m in (texts.chat, texts.form, texts.service)
                                            if name in vars(m))


def test_ratings_own_names_stay_in_their_module():
    assert texts.rating.THANKS != texts.THANKS  # 「感谢您的评价」 is not the chat's 「不客气」


def test_the_form_asks_every_slot_from_its_table():
    """The form's questions and its messages for a wrong answer are data, one entry a slot."""
    from dialogs.actions.application import SLOTS

    assert set(texts.QUESTIONS) == set(SLOTS) == set(texts.INVALID)
    assert all(texts.QUESTIONS[s] and texts.INVALID[s] for s in SLOTS)


def _sentences(path: Path, root: Path = DIALOGS) -> list[str]:
    """String literals of a module that read as a sentence (docstrings and regular expressions aside)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("compile", "sub", "search", "match"):
            skip |= {id(n) for n in ast.walk(node)}
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            skip.add(id(body[0].value))
    return [f"{path.relative_to(root)}:{n.lineno}: {n.value}" for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in skip
            and re.search(r"[\u4e00-\u9fff]", n.value) and SENTENCE.search(n.value)]


def test_the_chats_sentences_are_in_dialogs_texts():
    found = [s for p in sorted(DIALOGS.rglob("*.py"))
             if p.parent.name != "texts" and str(p.relative_to(DIALOGS)) not in NOT_YET for s in _sentences(p)]
    assert not found, "\n".join(found)


def test_the_check_sees_an_inline_sentence(tmp_path):
    inline = tmp_path / "inline.py"  # a reply written as dialogs/actions/service.py once wrote it
    inline.write_text('def reply(number):\n    return f"{number}的事项都已办结，不需要再准备材料了。"\n',
                      encoding="utf-8")
    assert _sentences(inline, tmp_path) == ["inline.py:2: 的事项都已办结，不需要再准备材料了。"]
