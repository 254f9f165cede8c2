"""Intent accuracy of the NLU (rules + the learned model) on a labelled set.

    .venv/bin/python bench/nlu_eval.py --half c [--errors] [--rules-only]

Prints accuracy (target >= 95%), per-intent precision/recall, the confusions, and the time per
message. `--half c` is the blind set (bench/data/nlu_test_c.yaml); the others are training data.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dialogs.nlu import understand, understand_by_rules  # noqa: E402

# The training examples (set A, set B and more: accuracy there is training accuracy); set C,
# written from dialogs/data/intent_guide.md alone, blind to the examples and the rules, is the
# honest measure.
DATA = Path(__file__).resolve().parents[1] / "dialogs" / "data" / "intent_examples.yaml"
TEST_B = Path(__file__).with_name("data") / "nlu_test_b.yaml"  # written later, blind to the rules and to set A
TEST_C = Path(__file__).with_name("data") / "nlu_test_c.yaml"  # 2026-11-24, blind to sets A, B and the code; B joined the training data


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--errors", action="store_true")
    ap.add_argument("--rules-only", action="store_true", help="the hand rules alone, without the model")
    ap.add_argument("--half", choices=["dev", "test", "all", "b", "c"], default="all",
                    help="set A: dev = even-numbered messages, test = odd, all = both; b = set B (training data since 2026-11-24), c = the blind set C")
    args = ap.parse_args()
    if args.half in ("b", "c"):
        cases = yaml.safe_load((TEST_B if args.half == "b" else TEST_C).read_text(encoding="utf-8"))
    else:
        cases = yaml.safe_load(DATA.read_text(encoding="utf-8"))
        cases = {"all": cases, "dev": cases[0::2], "test": cases[1::2]}[args.half]
    gold, pred, wrong, entity_ok, entity_n = [], [], [], 0, 0
    t0 = time.perf_counter()
    for c in cases:
        u = (understand_by_rules if args.rules_only else understand)(str(c["text"]))
        gold.append(c["intent"])
        pred.append(u.intent)
        if u.intent != c["intent"]:
            wrong.append((c["text"], c["intent"], u.intent))
        for name, value in (c.get("entities") or {}).items():
            entity_n += 1
            entity_ok += u.entities.get(name) == value
    per_msg = (time.perf_counter() - t0) * 1e6 / len(cases)
    acc = sum(g == p for g, p in zip(gold, pred, strict=False)) / len(cases)
    print(f"NLU on {len(cases)} labelled messages ({args.half}): accuracy {100 * acc:.1f}%  (target >= 95%)")
    if entity_n:
        print(f"case-number entities: {entity_ok}/{entity_n} extracted")
    print(f"time per message: {per_msg:.0f} µs")
    print(f"\n{'intent':<15}{'n':>5}{'precision':>11}{'recall':>8}")
    for intent in sorted(set(gold)):
        tp = sum(g == p == intent for g, p in zip(gold, pred, strict=False))
        n_pred = sum(p == intent for p in pred)
        n_gold = sum(g == intent for g in gold)
        print(f"{intent:<15}{n_gold:>5}{(tp / n_pred if n_pred else 0):>11.2f}{tp / n_gold:>8.2f}")
    print("\nmost common confusions (gold → predicted):")
    for (g, p), n in Counter((g, p) for _, g, p in wrong).most_common(8):
        print(f"  {g} → {p}: {n}")
    if args.errors:
        print("\nerrors:")
        for text, g, p in wrong:
            print(f"  {g:>13} → {p:<13} {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
