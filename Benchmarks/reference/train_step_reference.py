#!/usr/bin/env python3
"""PyTorch reference for `mlm-bench train-step`: one BertForMaskedLM training step (training mode, dropout
on: forward, backward, clip_grad_norm_ at 1.0, AdamW at lr 5e-5, weight decay 0.01, as run_mlm.py's Trainer
takes it) on the same shapes, labels only at the masked positions. Prints one JSON line.

--head hf        the transformers forward with labels: logits at every position (what users run)
--head gathered  the MLM head only at the masked rows, as mlm-adapt does (the same FLOPs as ours)
--autocast       forward and loss under torch.autocast("cpu", dtype=torch.bfloat16)
--matmul-peaks S instead, torch.matmul GFLOP/s (best of 8 calls) in fp32 and bf16 for the shapes
                 "ta,tb,m,n,k;..." (row-major, transposes as views), the peaks mlm-bench prints beside ours"""
import contextlib
import argparse
import json
import time

import torch
from transformers import BertConfig, BertForMaskedLM


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--intermediate", type=int, default=1024)
    p.add_argument("--vocab", type=int, default=30522)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--mask-fraction", type=float, default=0.15)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--head", choices=["hf", "gathered"], default="hf")
    p.add_argument("--autocast", action="store_true")
    p.add_argument("--matmul-peaks")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    if a.matmul_peaks:
        print(json.dumps(matmul_peaks(a.matmul_peaks)))
        return
    torch.manual_seed(0)
    config = BertConfig(vocab_size=a.vocab, hidden_size=a.hidden, num_hidden_layers=a.layers,
                        num_attention_heads=a.heads, intermediate_size=a.intermediate,
                        max_position_embeddings=max(512, a.seq))
    model = BertForMaskedLM(config)
    model.train()
    ids = torch.randint(5, a.vocab, (a.batch, a.seq))
    mask = torch.ones(a.batch, a.seq, dtype=torch.long)
    types = torch.zeros(a.batch, a.seq, dtype=torch.long)
    masked = int(round(a.batch * a.seq * a.mask_fraction))
    positions = torch.randperm(a.batch * a.seq)[:masked]
    labels = torch.full((a.batch * a.seq,), -100, dtype=torch.long)
    labels[positions] = ids.view(-1)[positions]
    labels = labels.view(a.batch, a.seq)

    flat_labels = labels.view(-1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.01)

    context = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if a.autocast else contextlib.nullcontext

    def step():
        model.zero_grad(set_to_none=False)
        with context():
            if a.head == "hf":
                loss = model(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels).loss
            else:
                hidden = model.bert(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
                logits = model.cls(hidden.reshape(-1, a.hidden)[positions])
                loss = torch.nn.functional.cross_entropy(logits, flat_labels[positions])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    for _ in range(a.warmup):
        step()
    start = time.perf_counter()
    for _ in range(a.steps):
        step()
    seconds = (time.perf_counter() - start) / a.steps
    print(json.dumps({"threads": a.threads, "seconds_per_step": seconds,
                      "tokens_per_second": a.batch * a.seq / seconds, "head": a.head, "autocast": a.autocast, "torch": torch.__version__,
                      "attention": model.config._attn_implementation}))


def matmul_peaks(spec):
    peaks = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        peaks[name] = []
        for shape in spec.split(";"):
            ta, tb, m, n, k = (int(v) for v in shape.split(","))
            a = torch.rand(k, m, dtype=dtype).t() if ta else torch.rand(m, k, dtype=dtype)
            b = torch.rand(n, k, dtype=dtype).t() if tb else torch.rand(k, n, dtype=dtype)
            best = float("inf")
            for _ in range(8):  # the first calls warm up (oneDNN creates its kernels)
                start = time.perf_counter()
                torch.matmul(a, b)
                best = min(best, time.perf_counter() - start)
            peaks[name].append(2 * m * n * k / best / 1e9)
    return peaks


if __name__ == "__main__":
    main()
