#!/usr/bin/env python3
"""sentence-transformers reference for `mlm-bench embed`: SentenceTransformer(--model).encode on the lines of
--texts (batch size, max_seq_length and threads as given, normalize_embeddings=True), in fp32 or under
torch.autocast("cpu", dtype=torch.bfloat16). Prints one JSON line: {"seconds": the encode call (model loading
excluded), "sentences_per_second", and per --compare OURS.npy the "min_cosine" against our vectors}."""
import argparse
import contextlib
import json
import time

import numpy as np
import torch
from sentence_transformers import SentenceTransformer


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--texts", required=True)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-seq-length", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--autocast", action="store_true")
    p.add_argument("--compare", action="append", default=[], help="our .npy vectors (repeatable)")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    with open(a.texts, encoding="utf-8") as f:
        texts = [line.rstrip("\n") for line in f]
    model = SentenceTransformer(a.model, device="cpu")
    model.max_seq_length = a.max_seq_length
    context = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if a.autocast else contextlib.nullcontext
    with context():
        start = time.perf_counter()
        vectors = model.encode(texts, batch_size=a.batch_size, normalize_embeddings=True, convert_to_numpy=True)
        seconds = time.perf_counter() - start
    result = {"seconds": seconds, "sentences_per_second": len(texts) / seconds, "texts": len(texts)}
    for path in a.compare:
        ours = np.load(path).astype(np.float64)
        theirs = vectors.astype(np.float64)
        cosines = (ours * theirs).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))
        result.setdefault("min_cosine", []).append(float(cosines.min()))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
