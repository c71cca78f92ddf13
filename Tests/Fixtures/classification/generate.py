"""Golden outputs for the classification metrics tests.

Entity metrics come from the `seqeval` package (default mode: non-strict, conlleval-like IOB2 rules)
on hand-made tag sequences that cover the edge cases: I- after O, I- after another type, B- after I-
of the same type, entities at sentence ends, E-/S- tags, tags without a type, all-O sequences.
Macro-F1 cases are computed by hand here (no sklearn), from a confusion matrix, so that the test
checks the Swift code against an independent formula.

Run: python3 Tests/Fixtures/classification/generate.py  (writes seqeval_golden.json, macro_f1_golden.json)
"""
import json
import os

from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from seqeval.metrics.sequence_labeling import get_entities

HERE = os.path.dirname(os.path.abspath(__file__))

CASES = [
    ("clean", [["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-LOC"]]),
    ("i_after_o_starts_entity", [["O", "I-PER", "I-PER", "O"]], [["O", "B-PER", "I-PER", "O"]]),
    ("i_after_other_type", [["B-PER", "I-LOC", "I-LOC"]], [["B-PER", "B-LOC", "I-LOC"]]),
    ("b_after_i_same_type", [["B-ORG", "I-ORG", "B-ORG", "I-ORG"]], [["B-ORG", "I-ORG", "I-ORG", "I-ORG"]]),
    ("entity_at_end", [["O", "O", "B-MISC"], ["B-PER", "I-PER"]], [["O", "O", "B-MISC"], ["B-PER", "O"]]),
    ("boundary_errors", [["B-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC"]],
     [["B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC"]]),
    ("type_errors", [["B-PER", "O", "B-LOC", "O", "B-ORG"]], [["B-LOC", "O", "B-LOC", "O", "B-PER"]]),
    ("all_o_gold", [["O", "O", "O"]], [["O", "B-PER", "O"]]),
    ("all_o_pred", [["B-PER", "O", "B-LOC"]], [["O", "O", "O"]]),
    ("iobes_tags", [["S-PER", "B-LOC", "E-LOC", "O", "B-ORG", "I-ORG", "E-ORG"]],
     [["S-PER", "B-LOC", "I-LOC", "O", "B-ORG", "E-ORG", "E-ORG"]]),
    ("typeless_tags", [["B", "I", "O", "B"]], [["B", "O", "I", "B"]]),
    ("hyphenated_type", [["B-geo-loc", "I-geo-loc", "O", "B-person"]], [["B-geo-loc", "I-geo-loc", "O", "I-person"]]),
    ("multi_sentence_wnut_like",
     [["O", "B-company", "O", "O"], ["B-person", "I-person", "O", "B-geo-loc"], ["O"], ["I-product", "I-product"]],
     [["O", "B-company", "O", "B-person"], ["B-person", "O", "O", "B-geo-loc"], ["B-other"], ["B-product", "I-product"]]),
    ("i_of_other_type_inside", [["B-PER", "I-PER", "I-LOC", "I-PER"]], [["B-PER", "I-PER", "I-PER", "I-PER"]]),
]


def entities_per_sentence(sentences):
    return [[list(e) for e in get_entities(s)] for s in sentences]


def seqeval_cases():
    out = []
    for name, gold, pred in CASES:
        report = classification_report(gold, pred, output_dict=True, zero_division=0)
        per_type = {k: {"precision": v["precision"], "recall": v["recall"], "f1": v["f1-score"],
                        "support": int(v["support"])}
                    for k, v in report.items() if not k.endswith(" avg")}
        macro = report.get("macro avg", {"f1-score": 0.0})["f1-score"]
        out.append({
            "name": name, "gold": gold, "predicted": pred,
            "gold_entities": entities_per_sentence(gold),
            "predicted_entities": entities_per_sentence(pred),
            "precision": precision_score(gold, pred, zero_division=0),
            "recall": recall_score(gold, pred, zero_division=0),
            "f1": f1_score(gold, pred, zero_division=0),
            "macro_f1": macro,
            "per_type": per_type,
        })
    return out


def macro_f1_by_hand(gold, pred, k):
    """Mean over classes present in gold or pred of 2PR/(P+R); P or R with a zero denominator is 0."""
    f1s = []
    for c in range(k):
        tp = sum(1 for g, p in zip(gold, pred) if g == c and p == c)
        n_pred = sum(1 for p in pred if p == c)
        n_gold = sum(1 for g in gold if g == c)
        if n_pred == 0 and n_gold == 0:
            continue
        prec = tp / n_pred if n_pred else 0.0
        rec = tp / n_gold if n_gold else 0.0
        f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    return sum(f1s) / len(f1s)


MACRO_CASES = [
    ("perfect", 3, [0, 1, 2, 0], [0, 1, 2, 0]),
    ("one_class_never_predicted", 3, [0, 0, 1, 2, 2, 2], [0, 0, 1, 1, 1, 2]),
    ("class_absent_from_gold", 3, [0, 0, 1, 1], [0, 2, 1, 1]),
    ("class_absent_everywhere", 4, [0, 1, 1, 2], [0, 1, 2, 2]),
    ("all_wrong", 2, [0, 0, 1], [1, 1, 0]),
]


def macro_cases():
    out = []
    for name, k, gold, pred in MACRO_CASES:
        out.append({"name": name, "labels": k, "gold": gold, "predicted": pred,
                    "accuracy": sum(g == p for g, p in zip(gold, pred)) / len(gold),
                    "macro_f1": macro_f1_by_hand(gold, pred, k)})
    return out


if __name__ == "__main__":
    with open(os.path.join(HERE, "seqeval_golden.json"), "w") as f:
        json.dump(seqeval_cases(), f, indent=1)
    with open(os.path.join(HERE, "macro_f1_golden.json"), "w") as f:
        json.dump(macro_cases(), f, indent=1)
    print("wrote seqeval_golden.json, macro_f1_golden.json")
