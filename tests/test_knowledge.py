"""The curated knowledge base: the checks a curator relies on, and answers a user relies on."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from knowledge import check
from knowledge.schema import GENERAL_GUIDANCE_NOTE

FIXTURE = Path(__file__).with_name("kb_fixture")


def test_shipped_knowledge_base_passes_its_checks():
    assert check().lines == []


def test_every_entry_cites_a_source_and_stays_phone_sized(kb):
    for e in kb.entries:
        assert e.sources, e.id
        assert len(e.answer) <= 450, e.id
        assert e.cited_answer().splitlines()[-1].startswith("来源：")


def test_every_region_variant_topic_has_a_general_fallback(kb):
    for topic, variants in kb.topics.items():
        if len(variants) > 1:
            assert any(v.region == "all" for v in variants), topic


def test_five_seed_regions_with_their_documents(kb):
    assert set(kb.regions) == {"jiangbei", "yanjin", "yueyang", "county_city", "donghu"}
    assert {r.source.doc for r in kb.regions.values()} == {"000", "001", "002", "003", "004"}
    assert "经营性房地产开发" in " ".join(kb.regions["donghu"].excluded_project_kinds)


@pytest.mark.parametrize("question,topic", [
    ("施工许可证需要准备哪些材料", "materials.construction_permit"),
    ("帮办和代办有什么区别", "service.bangban_vs_daiban"),
    ("代办收费吗", "service.fee"),
])
def test_plain_questions_are_answered_confidently(retriever, question, topic):
    r = retriever.search(question)
    assert (r.kind, r.topic) == ("answer", topic)


# 万海燕 (a name) shares one word with one topic: a lone weak match, not a clear winner.
@pytest.mark.parametrize("question", ["明天天气怎么样", "个人所得税怎么申报", "推荐一家火锅店", "万海燕"])
def test_off_topic_questions_are_not_answered(retriever, question):
    # Not from a substantive topic: "not sure", or an honest topic saying nobody here publishes it.
    r = retriever.search(question)
    assert r.kind != "answer" or any("无公开答案" in e.tags for e in retriever.kb.topics[r.topic]), r.topic


def test_national_guidance_says_local_rules_may_differ(kb):
    permit = kb.variant("materials.construction_permit", None)
    assert permit.general_guidance and GENERAL_GUIDANCE_NOTE in permit.cited_answer()


def _broken_copy(tmp_path, mutate) -> Path:
    target = tmp_path / "kb"
    shutil.copytree(FIXTURE, target)
    path = target / "entries" / "service.yaml"
    path.write_text(mutate(path.read_text(encoding="utf-8")), encoding="utf-8")
    return target


@pytest.mark.parametrize("mutate,expected", [
    (lambda s: s.replace("- id: service.free", "- id: Service Free"), "id must be lowercase"),
    (lambda s: s.replace("materials.construction_permit_time", "materials.construction_permit"), "duplicate id"),
    (lambda s: s.replace("  source: [{doc: \"000\", title: \"《重庆市江北区社会投资建设项目帮代办工作实施方案》\", section: \"三、（二）\"}]\n", ""), "missing source"),
    (lambda s: s.replace("paraphrases: [施工证要啥材料", "paraphrases: [代办要钱吗").replace("施工许可证要什么材料", "代办要钱吗"), "also belongs to topic"),
    (lambda s: s.replace("一律免费。", "一律免费，电话13800138000。"), "phone number"),
    (lambda s: s.replace("region: donghu", "region: mars"), "unknown region"),
    (lambda s: s + "\n- {id: broken: [\n", "not valid YAML"),
])
def test_check_reports_each_kind_of_problem(tmp_path, mutate, expected):
    problems = check(_broken_copy(tmp_path, mutate))
    assert any(expected in line for line in problems.lines), problems.lines


def test_latin_synonyms_match_whole_words_only():
    """English and pinyin variants count as words of what the user typed: 「rate」 is 评价 but the
    end of 「separate」 is not; 「construction permit」 matches with its space, and pinyin next to
    Chinese still does."""
    from knowledge.text import Analyzer

    a = Analyzer(synonyms=[["评价", "rate"], ["施工许可证", "constructionpermit", "shigongzheng"], ["收费", "fee"]])
    assert "评价" in a.terms("rate the service").words
    assert "评价" not in a.terms("please separate the items").words + a.terms("separate").grams
    assert "施工许可证" in a.terms("Construction Permit materials?").words
    assert "施工许可证" in a.terms("shigongzheng要啥材料").words
    assert "收费" not in a.terms("coffee").words
    assert "收费" in a.terms("代办的fee多少").words


def test_a_remembered_result_is_the_one_scoring_gives_and_follows_the_thresholds(retriever):
    """search() remembers results per text; it must return exactly what scoring would, and a
    change of thresholds (calibration) must not serve results decided under the old ones."""
    from dataclasses import replace

    from conftest import own_retriever

    r = own_retriever(retriever)  # the shipped KB's, as Retriever(kb) builds it, with its own memo
    question = "施工许可证需要准备哪些材料"
    first = r.search(question)
    assert r.search(question) is first  # remembered, not recomputed
    assert r.search(question) == r.search_uncached(question)
    assert first.kind == "answer"
    r.thresholds = replace(r.thresholds, answer=1.01, clarify=1.01)  # nothing is ever sure enough
    assert r.search(question).kind == "unsure"
    assert r.search(question) == r.search_uncached(question)
