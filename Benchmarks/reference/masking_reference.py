#!/usr/bin/env python3
"""Times HF masking on the masking fixture's 32x128 batches, one torch thread, for `mlm-bench masking`.

Measures transformers' DataCollatorForLanguageModeling (mlm_probability 0.15) for token masking and
with whole_word_mask=True (transformers 5 has no DataCollatorForWholeWordMask; the option reads word
boundaries from offset_mapping, synthesised here from the fixture's word ids). Two timings each:
`mask`: torch_mask_tokens on ready tensors (the part comparable to our strategies), and `collate`:
the collator called on a list of 32 dict examples (what a training loop pays).
Prints one JSON object per line: name, seqPerSec, usPerBatch, and realised rates on one pass.
"""
import argparse
import json
import os
import time
import warnings

import numpy as np
import torch
from transformers import BertTokenizer, DataCollatorForLanguageModeling

BATCH = 32


def load_fixture(directory):
    with open(os.path.join(directory, "fixture.json")) as handle:
        meta = json.load(handle)
    rows, seq = meta["rows"], meta["seqLength"]
    ids = np.fromfile(os.path.join(directory, "input_ids.bin"), dtype="<i4").reshape(rows, seq)
    words = np.fromfile(os.path.join(directory, "word_ids.bin"), dtype="i1").reshape(rows, seq)
    return meta, ids.astype(np.int64), words.astype(np.int64)


def offsets_from_word_ids(words):
    """Character offsets where pieces of one word touch and words are one character apart."""
    offsets = np.zeros(words.shape + (2,), dtype=np.int64)
    for row in range(words.shape[0]):
        cursor, previous = 0, -1
        for column, word in enumerate(words[row]):
            if word < 0:
                previous = -1
                continue
            if word != previous:
                cursor += 1
            offsets[row, column] = (cursor, cursor + 1)
            cursor += 1
            previous = word
    return offsets


def timed(function, batches, seconds):
    for batch in batches[:3]:
        function(batch)
    # CPU time, as mlm-bench measures it: on a shared machine wall time mostly measures the neighbours.
    done, start = 0, time.process_time()
    while True:
        for batch in batches:
            function(batch)
        done += len(batches)
        elapsed = time.process_time() - start
        if elapsed >= seconds:
            return done * BATCH / elapsed, elapsed / done * 1e6


def realised(collator, batches, mask_id):
    selected = eligible = masked = random = kept = partly = 0
    for batch in batches:
        inputs, labels = collator.torch_mask_tokens(
            batch["input_ids"].clone(), special_tokens_mask=batch["special_tokens_mask"],
            offset_mapping=batch["offset_mapping"])
        chosen = labels != -100
        eligible += int((batch["special_tokens_mask"] == 0).sum())
        selected += int(chosen.sum())
        masked += int((chosen & (inputs == mask_id)).sum())
        kept += int((chosen & (inputs == batch["input_ids"])).sum())
        words = batch["word_ids"]
        for row in range(words.shape[0]):
            per_word = {}
            for column in range(words.shape[1]):
                word = int(words[row, column])
                if word >= 0:
                    total, hit = per_word.get(word, (0, 0))
                    per_word[word] = (total + 1, hit + int(chosen[row, column]))
            partly += sum(1 for total, hit in per_word.values() if 0 < hit < total)
    random = selected - masked - kept
    return {"selectionRate": selected / eligible, "maskFraction": masked / selected,
            "randomFraction": random / selected, "keepFraction": kept / selected, "partlySelectedWords": partly}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fixture", required=True)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    torch.set_num_threads(1)

    meta, ids, words = load_fixture(args.fixture)
    special_ids = {meta["padId"], meta["clsId"], meta["sepId"]}
    special = np.isin(ids, list(special_ids)).astype(np.int64)
    offsets = offsets_from_word_ids(words)
    # The collator needs only the special ids and the vocabulary size (random replacements are drawn
    # from range(len(tokenizer))), so a stand-in vocabulary with the fixture's ids will do.
    names = {meta["padId"]: "[PAD]", meta["unkId"]: "[UNK]", meta["clsId"]: "[CLS]", meta["sepId"]: "[SEP]",
             meta["maskId"]: "[MASK]"}
    vocab = {names.get(i, f"token{i}"): i for i in range(meta["vocabSize"])}
    tokenizer = BertTokenizer(vocab=vocab, do_lower_case=True)  # the fast one in transformers 5
    if tokenizer.mask_token_id != meta["maskId"] or len(tokenizer) != meta["vocabSize"]:
        raise SystemExit("the stand-in vocabulary does not match the fixture")

    full = ids.shape[0] // BATCH
    batches, examples = [], []
    for index in range(full):
        rows = slice(index * BATCH, (index + 1) * BATCH)
        batches.append({
            "input_ids": torch.from_numpy(ids[rows].copy()),
            "special_tokens_mask": torch.from_numpy(special[rows].copy()),
            "offset_mapping": torch.from_numpy(offsets[rows].copy()),
            "word_ids": words[rows],
        })
        examples.append([
            {"input_ids": ids[r].tolist(), "special_tokens_mask": special[r].tolist(),
             "offset_mapping": offsets[r].tolist()}
            for r in range(rows.start, rows.stop)])

    for name, whole_word in (("hf-token", False), ("hf-whole-word", True)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # whole-word mode warns that it always uses [MASK]
            collator = DataCollatorForLanguageModeling(
                tokenizer, mlm_probability=0.15, whole_word_mask=whole_word, seed=42)
        collator.create_rng("pt")

        def mask_only(batch):
            collator.torch_mask_tokens(
                batch["input_ids"].clone(), special_tokens_mask=batch["special_tokens_mask"].clone(),
                offset_mapping=batch["offset_mapping"])

        mask_rate, mask_us = timed(mask_only, batches, args.seconds)
        collate_rate, collate_us = timed(collator, examples, args.seconds)
        result = {"name": name, "seqPerSec": mask_rate, "usPerBatch": mask_us,
                  "collateSeqPerSec": collate_rate, "collateUsPerBatch": collate_us}
        result.update(realised(collator, batches, meta["maskId"]))
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
