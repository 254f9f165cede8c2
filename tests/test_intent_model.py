"""The learned intent model ships trained on the labelled examples in the package."""
from __future__ import annotations

import yaml

from dialogs import intent_model
from dialogs.nlu import normalize_message, understand


def test_shipped_weights_come_from_the_current_examples():
    assert intent_model.shipped_digest() == intent_model.examples_digest(), (
        "dialogs/data/intent_examples.yaml changed: retrain with `python -m dialogs.intent_model`")


def test_retraining_reproduces_the_shipped_model():
    examples = yaml.safe_load(intent_model.EXAMPLES.read_text(encoding="utf-8"))
    fresh = intent_model.train(examples, normalize_message)
    shipped = intent_model.load()
    assert fresh.labels == shipped.labels and fresh.vocab == shipped.vocab
    sample = [str(e["text"]) for e in examples[::7]]
    assert [fresh.predict(normalize_message(t)) [0] for t in sample] == \
           [shipped.predict(normalize_message(t))[0] for t in sample]


def test_answers_inside_a_form_are_read_by_the_rules():
    for answer in ("无", "否", "陈明", "13800138000", "确认", "没有"):
        assert understand(answer, in_form=True).intent in ("consult", "select")
