#!/usr/bin/env python3
"""Checks an `mlm-adapt export` folder with transformers (needs torch + transformers).

  python3 Scripts/checks/check_export.py DIR [--checkpoint C.safetensors.gz]
        [--source HF_FOLDER] [--logits LOGITS.safetensors]

- BertForMaskedLM.from_pretrained(DIR) must load with no missing, unexpected or mismatched keys,
  and the tokenizer files must load as a BertTokenizer with the exported do_lower_case.
- --checkpoint: every tensor of our checkpoint (gunzipped in Python) equals the loaded state dict
  bit for bit; the decoder is tied to the word embeddings.
- --source: every encoder tensor of the original HF folder equals the loaded one bit for bit.
- --logits: a safetensors file with input_ids [B,S], attention_mask [B,S], masked_positions [M]
  (flat b*S+s; these three I64, or F32 holding integers as `mlm-adapt export --logits` writes them)
  and masked_logits [M,V] (F32) from our forward pass;
  transformers' eval-mode logits at those positions must agree within 1e-4.
Exits non-zero with a message on any failure.
"""
import argparse
import gzip
import json
import os
import sys

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import load_file
from transformers import BertForMaskedLM, BertTokenizer


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--checkpoint")
    parser.add_argument("--source")
    parser.add_argument("--logits")
    args = parser.parse_args()

    model, info = BertForMaskedLM.from_pretrained(args.folder, output_loading_info=True)
    model.eval()
    for kind in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
        if info.get(kind):
            fail(f"{kind}: {info[kind]}")
    state = model.state_dict()
    if state["cls.predictions.decoder.weight"].data_ptr() != state["bert.embeddings.word_embeddings.weight"].data_ptr():
        fail("decoder weight is not tied to the word embeddings")
    for name, tensor in state.items():
        if tensor.dtype != torch.float32:
            fail(f"{name} loaded as {tensor.dtype}")
    print(f"ok: from_pretrained loaded {len(state)} tensors, no missing/unexpected keys, decoder tied")

    tokenizer_config = json.load(open(os.path.join(args.folder, "tokenizer_config.json")))
    tokenizer = BertTokenizer.from_pretrained(args.folder)
    if tokenizer.do_lower_case != tokenizer_config["do_lower_case"] or len(tokenizer) != model.config.vocab_size:
        fail(f"tokenizer: do_lower_case {tokenizer.do_lower_case}, {len(tokenizer)} tokens")
    print(f"ok: BertTokenizer loads ({len(tokenizer)} tokens, do_lower_case {tokenizer.do_lower_case})")

    if args.checkpoint:
        with open(args.checkpoint, "rb") as f:
            raw = f.read()
        ours = load_safetensors(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
        for name, tensor in ours.items():
            if not torch.equal(tensor, state[name]):
                fail(f"{name} differs from the checkpoint")
        print(f"ok: all {len(ours)} checkpoint tensors equal the loaded model bit for bit")

    if args.source:
        source = load_file(os.path.join(args.source, "model.safetensors"))
        compared = 0
        for name, tensor in source.items():
            if "position_ids" in name or "pooler" in name:
                continue
            key = name if name.startswith(("bert.", "cls.")) else "bert." + name
            if not torch.equal(tensor.float(), state[key]):
                fail(f"{name} differs from the source folder")
            compared += 1
        print(f"ok: {compared} source tensors equal the loaded model bit for bit")

    if args.logits:
        golden = load_file(args.logits)
        with torch.no_grad():
            logits = model(input_ids=golden["input_ids"].long(), attention_mask=golden["attention_mask"].long()).logits
        flat = logits.reshape(-1, logits.shape[-1])[golden["masked_positions"].long()]
        difference = (flat - golden["masked_logits"]).abs().max().item()
        if difference > 1e-4:
            fail(f"masked logits differ by {difference}")
        print(f"ok: masked logits agree, max |difference| {difference:.2e}")


if __name__ == "__main__":
    main()
