#!/usr/bin/env python3
"""PyTorch reference for `mlm-bench fine-tune`: the same recipe as `mlm-adapt classify|ner` (AdamW,
lr 5e-5 with 10% linear warmup then linear decay, weight decay 0.01, clipping at 1.0, batch 16 with
dynamic padding, max length 128, dev evaluation after each epoch) on the same files, with transformers'
BertForSequenceClassification / BertForTokenClassification (labels on each word's first piece).
--autocast runs forward and loss under torch.autocast("cpu", dtype=torch.bfloat16). Prints one JSON line
with the seconds of the training + evaluation loop (model loading and tokenisation excluded)."""
import argparse
import contextlib
import json
import math
import random
import time

import torch
from transformers import AutoTokenizer, BertForSequenceClassification, BertForTokenClassification


def read_tsv(path):
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        rows = [dict(zip(header, line.rstrip("\n").split("\t"))) for line in f if line.strip()]
    return [r["text"] for r in rows], [r["label"] for r in rows]


def read_conll(path):
    sentences, words, tags = [], [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                if words:
                    sentences.append((words, tags))
                words, tags = [], []
                continue
            word, tag = line.split()[:2]
            words.append(word)
            tags.append(tag)
    if words:
        sentences.append((words, tags))
    return sentences


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--task", choices=["classify", "ner"], required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--train", required=True)
    p.add_argument("--validation", required=True)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--autocast", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(42)
    random.seed(42)
    tokenizer = AutoTokenizer.from_pretrained(a.model)

    def encode(split):
        if a.task == "classify":
            texts, labels = read_tsv(split)
            enc = tokenizer(texts, truncation=True, max_length=a.max_length)
            return [(enc["input_ids"][i], label) for i, label in enumerate(labels)]
        examples = []
        for words, tags in read_conll(split):
            enc = tokenizer(words, is_split_into_words=True, truncation=True, max_length=a.max_length)
            previous, aligned = None, []
            for w in enc.word_ids():
                aligned.append(tags[w] if w is not None and w != previous else None)
                previous = w
            examples.append((enc["input_ids"], aligned))
        return examples

    train, dev = encode(a.train), encode(a.validation)
    if a.task == "classify":
        names = sorted({label for _, label in train})
    else:
        names = sorted({t for _, tags in train for t in tags if t is not None})
    index = {n: i for i, n in enumerate(names)}
    cls = BertForSequenceClassification if a.task == "classify" else BertForTokenClassification
    model = cls.from_pretrained(a.model, num_labels=len(names))

    def batch(examples):
        length = max(len(ids) for ids, _ in examples)
        ids = torch.zeros(len(examples), length, dtype=torch.long)
        mask = torch.zeros(len(examples), length, dtype=torch.long)
        if a.task == "classify":
            labels = torch.tensor([index[label] for _, label in examples])
        else:
            labels = torch.full((len(examples), length), -100, dtype=torch.long)
        for r, (row, label) in enumerate(examples):
            ids[r, : len(row)] = torch.tensor(row)
            mask[r, : len(row)] = 1
            if a.task == "ner":
                for c, tag in enumerate(label):
                    if tag is not None and tag in index:
                        labels[r, c] = index[tag]
        return ids, mask, labels

    steps = a.epochs * math.ceil(len(train) / a.batch)
    warmup = int(0.1 * steps)
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
    rest = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}], lr=a.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: s / max(1, warmup) if s < warmup else max(0.0, (steps - s) / max(1, steps - warmup)))
    context = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if a.autocast else contextlib.nullcontext

    start = time.perf_counter()
    epoch_seconds = []
    for _ in range(a.epochs):
        epoch_start = time.perf_counter()
        model.train()
        order = list(range(len(train)))
        random.shuffle(order)
        for s in range(0, len(order), a.batch):
            ids, mask, labels = batch([train[i] for i in order[s : s + a.batch]])
            with context():
                loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
        model.eval()
        with torch.no_grad():
            dev_sorted = sorted(dev, key=lambda e: len(e[0]))
            for s in range(0, len(dev_sorted), a.batch):
                ids, mask, labels = batch(dev_sorted[s : s + a.batch])
                with context():
                    model(input_ids=ids, attention_mask=mask, labels=labels)
        epoch_seconds.append(time.perf_counter() - epoch_start)
    seconds = time.perf_counter() - start
    print(json.dumps({"task": a.task, "seconds": seconds, "epoch_seconds": epoch_seconds, "autocast": a.autocast,
                      "torch": torch.__version__, "examples": len(train), "threads": a.threads}))


if __name__ == "__main__":
    main()
