"""Understanding in one place (issue 14, item 3): dialogs/nlu.py reads messages, dialogs/manager.py
decides. What the readings are for, and what keeps them in one place."""
from __future__ import annotations

import ast
from pathlib import Path

from dialogs import nlu

DIALOGS = Path(__file__).resolve().parents[1] / "dialogs"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(("." * node.level) + node.module)
    return found


def test_the_manager_and_the_handoff_read_no_text_themselves():
    """No regular expressions and no normaliser in manager.py or handoff.py: their readings are nlu's."""
    for module in ("manager.py", "handoff.py"):
        imported = _imports(DIALOGS / module)
        assert "re" not in imported and "knowledge.text" not in imported, module


def test_only_nlu_uses_the_knowledge_bases_normal_form():
    users = sorted(str(p.relative_to(DIALOGS)) for p in DIALOGS.rglob("*.py") if "knowledge.text" in _imports(p))
    assert users == ["nlu.py"]


def test_the_two_normal_forms_differ_only_in_symbols():
    """clean keeps emoji and symbols (the rules and the intent model read them), kb_form keeps
    letters and digits only (how the knowledge base compares): the same text otherwise."""
    for text in ("妥了👌", "有的地方说代办是1+1+N 是啥意思", "Our R&D center", "施工许可证要准备哪些材料？", "受理 BD-2026-000737 👌"):
        assert nlu.kb_form(nlu.clean(text)) == nlu.kb_form(text)
    assert nlu.clean("妥了👌") == "妥了👌" and nlu.kb_form("妥了👌") == "妥了"
    assert nlu.clean("1+1+N 是啥") == "1+1+n是啥" and nlu.kb_form("1+1+N 是啥") == "11n是啥"


def test_each_question_shape_reads_for_its_place():
    # In a form field 「哪个好」 is no question nlu is sure of, but no rating level either.
    assert nlu.is_question("哪个好") is None and nlu.question_word_in("哪个好")
    assert nlu.is_question("代办要交钱不") == "maybe" and not nlu.question_word_in("代办要交钱不")
    assert nlu.is_question("3天能办完吗") == "sure" and nlu.question_word_in("3天能办完吗")
    assert nlu.is_question("标准件厂") is None and not nlu.question_word_in("标准件厂")


def test_place_readings():
    names = ["武汉东湖新技术开发区", "东湖高新区", "东湖", "江北区", "江北"]
    assert nlu.says_only_where("我们公司的项目在江北那边", names)
    assert not nlu.says_only_where("江北代办要钱吗", names)
    assert nlu.is_only_a_name("江北区的", names) and not nlu.is_only_a_name("江北的代办", names)
    assert nlu.without_names("东湖代办要签什么", names) == "代办要签什么"
    assert nlu.says_where_a_company_is_from("公司注册在外省", "外省")


def test_an_answers_steps():
    assert nlu.flow_lines("流程：\n1. 申请\n2. 受理\n3. 送达") == ["1. 申请", "2. 受理", "3. 送达"]
    assert nlu.flow_lines("办理流程：申请 → 受理 → 送达。") == ["1. 申请", "2. 受理", "3. 送达"]


def test_a_handoff_message_and_a_rasa_message():
    assert nlu.handoff_question("转人工：代办收费吗") == "代办收费吗" and nlu.handoff_question("转人工") == ""
    message = {"entities": [{"entity": "case_number", "value": "BD-2026-000123"}]}
    assert nlu.entity_in(message, "case_number") == "BD-2026-000123" and nlu.entity_in({}, "case_number") is None


def test_a_reply_to_the_region_question(kb):
    assert nlu.read_region(kb, "2").kind == "region"
    assert nlu.read_region(kb, "都不是").kind == "other"
    assert nlu.read_region(kb, "东湖高薪区") == nlu.RegionReading("region", "donghu")
    assert nlu.read_region(kb, "冬湖").kind == "guess"
    assert nlu.read_region(kb, "随便").kind == "none"
