#!/usr/bin/env python3
"""HF `tokenizers` side of `mlm-bench tokenizer`: encodes every line of a corpus (no special tokens) with
BertWordPieceTokenizer and prints one JSON object: best wall and CPU seconds over the repeats, bytes, tokens, and a
hash of all ids (FNV-1a 64 over each id as a 32-bit value, then 0xFFFFFFFF after each line), which the
Swift side computes the same way.

Lines are the file split on b"\\n", each decoded with U+FFFD replacement. Thread count: TOKENIZERS_PARALLELISM
and RAYON_NUM_THREADS are set by the caller (1 thread: TOKENIZERS_PARALLELISM=false).
usage: tokenizer_reference.py --vocab V [--cased] --corpus FILE [--repeat N]
"""
import argparse
import json
import time

from tokenizers import BertWordPieceTokenizer

FNV_PRIME = 0x100000001B3
MASK = (1 << 64) - 1


def ids_hash(encodings):
    value = 0xCBF29CE484222325
    for encoding in encodings:
        for token_id in encoding.ids:
            value = ((value ^ token_id) * FNV_PRIME) & MASK
        value = ((value ^ 0xFFFFFFFF) * FNV_PRIME) & MASK
    return value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vocab", required=True)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--cased", action="store_true")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    data = open(args.corpus, "rb").read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    texts = [line.decode("utf-8", errors="replace") for line in lines]
    tokenizer = BertWordPieceTokenizer(args.vocab, lowercase=not args.cased)
    best = float("inf")
    best_cpu = float("inf")
    encodings = None
    for _ in range(args.repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
    tokens = sum(len(encoding.ids) for encoding in encodings)
    print(json.dumps({"seconds": best, "cpu_seconds": best_cpu, "bytes": len(data), "tokens": tokens, "ids_hash": f"{ids_hash(encodings):016x}"}))


if __name__ == "__main__":
    main()
