"""The setfit library on one few-shot subset, for `mlm-bench setfit`.

Trains SetFitModel.from_pretrained(--model) with setfit's Trainer on --train (a TSV with text and label
columns: the subset mlm-bench drew, the same file `mlm-adapt setfit` reads), the recipe of `mlm-adapt setfit`'s
defaults (num_iterations, 1 epoch, batch 16, body lr 2e-5, max length), then scores --test. Prints one JSON
line: {"seconds": training wall time, "accuracy", "macro_f1", "test_seconds"}.

--autocast trains and predicts under torch.autocast("cpu", dtype=torch.bfloat16), the reference for bf16 runs.

Usage: python3 Benchmarks/reference/setfit_reference.py --model cache/models/all-MiniLM-L6-v2 \
       --train subset.tsv --test test.tsv [--num-iterations 20] [--threads 2] [--seed 42] [--autocast]
"""
import contextlib
import argparse
import csv
import json
import os
import sys
import time


def read_tsv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--train", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--num-iterations", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--autocast", action="store_true")
    args = parser.parse_args()

    import torch
    torch.set_num_threads(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments
    from sklearn.metrics import accuracy_score, f1_score

    texts, labels = read_tsv(args.train)
    names = sorted(set(labels))
    train = Dataset.from_dict({"text": texts, "label": [names.index(l) for l in labels]})
    test_texts, test_labels = read_tsv(args.test)

    started = time.perf_counter()
    model = SetFitModel.from_pretrained(args.model, device="cpu")
    training = TrainingArguments(
        batch_size=args.batch, num_epochs=args.epochs, num_iterations=args.num_iterations,
        body_learning_rate=args.lr, max_length=args.max_length, seed=args.seed, show_progress_bar=False,
        report_to="none", save_strategy="no", logging_strategy="no")
    precision = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if args.autocast else contextlib.nullcontext
    with precision():
        Trainer(model=model, args=training, train_dataset=train).train()
    seconds = time.perf_counter() - started

    started = time.perf_counter()
    with precision():
        predicted = [names[int(p)] for p in model.predict(test_texts, show_progress_bar=False)]
    test_seconds = time.perf_counter() - started
    print(json.dumps({
        "seconds": seconds, "test_seconds": test_seconds,
        "accuracy": accuracy_score(test_labels, predicted),
        "macro_f1": f1_score(test_labels, predicted, average="macro"),
    }))


if __name__ == "__main__":
    sys.exit(main())
