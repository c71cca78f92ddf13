#!/usr/bin/env python3
"""Checks an `mlm-adapt export` folder with transformers (needs torch + transformers).

  python3 Scripts/checks/check_export.py DIR [--checkpoint C.safetensors.gz]
        [--source HF_FOLDER] [--logits LOGITS.safetensors] [--mlm-adapt BIN [--texts FILE...]]
        [--gunzipped C.safetensors.gz --config CONFIG.json]

- BertForMaskedLM.from_pretrained(DIR) must load with no missing, unexpected or mismatched keys,
  and the tokenizer files must load as a BertTokenizer with the exported do_lower_case.
- DIR/tokenizer.json must load with tokenizers.Tokenizer.from_file and AutoTokenizer.from_pretrained(DIR)
  must give a fast tokenizer; both must give the same ids on the texts.
- --mlm-adapt: the ids of `BIN tokenize --vocab DIR/vocab.txt` (ours) on --texts (default: the tokenizer
  fixtures edge_cases.txt, random_unicode.txt and legal_sample.txt) must equal both HF tokenizers' ids, line by line.
- --gunzipped with --config: the checkpoint gunzipped alone into an empty folder as model.safetensors, with
  CONFIG.json copied beside it as config.json, must load with BertForMaskedLM/AutoModelForMaskedLM
  .from_pretrained (no missing/unexpected keys) and equal the exported model bit for bit.
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
import shutil
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import load_file
from tokenizers import Tokenizer
from transformers import AutoModelForMaskedLM, AutoTokenizer, BertForMaskedLM, BertTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_TEXTS = [os.path.join(ROOT, "Tests", "Fixtures", "tokenizer", name)
                 for name in ("edge_cases.txt", "random_unicode.txt", "legal_sample.txt")]


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--checkpoint")
    parser.add_argument("--source")
    parser.add_argument("--logits")
    parser.add_argument("--mlm-adapt", dest="mlm_adapt")
    parser.add_argument("--texts", nargs="+", default=DEFAULT_TEXTS)
    parser.add_argument("--gunzipped")
    parser.add_argument("--config")
    args = parser.parse_args()
    if (args.gunzipped is None) != (args.config is None):
        fail("--gunzipped and --config go together")

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

    check_tokenizer_json(args, tokenizer_config["do_lower_case"])

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

    if args.gunzipped:
        check_gunzipped(args, state)


def read_lines(path):
    """Lines split on b"\\n" only, decoded with U+FFFD replacement, as `mlm-adapt tokenize` reads them."""
    lines = open(path, "rb").read().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [line.decode("utf-8", errors="replace") for line in lines]


def check_tokenizer_json(args, do_lower_case):
    fast = Tokenizer.from_file(os.path.join(args.folder, "tokenizer.json"))
    auto = AutoTokenizer.from_pretrained(args.folder)
    if not auto.is_fast:
        fail(f"AutoTokenizer gave a slow tokenizer ({type(auto).__name__})")
    compared = 0
    for path in args.texts:
        lines = read_lines(path)
        from_file = [encoding.ids for encoding in fast.encode_batch(lines)]
        from_auto = auto(lines)["input_ids"]
        ours = None
        if args.mlm_adapt:
            command = [args.mlm_adapt, "tokenize", "--vocab", os.path.join(args.folder, "vocab.txt"), path]
            if not do_lower_case:
                command.insert(2, "--cased")
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            ours = [json.loads(line)["ids"] for line in output.splitlines()]
            if len(ours) != len(lines):
                fail(f"{path}: mlm-adapt tokenize gave {len(ours)} lines, the file has {len(lines)}")
        for number, line in enumerate(lines):
            if from_file[number] != from_auto[number]:
                fail(f"{path}:{number + 1}: Tokenizer.from_file and AutoTokenizer differ on {line!r}")
            if ours is not None and ours[number] != from_file[number]:
                fail(f"{path}:{number + 1}: our ids {ours[number]} differ from tokenizer.json's {from_file[number]} on {line!r}")
        compared += len(lines)
    print(f"ok: tokenizer.json loads with Tokenizer.from_file and AutoTokenizer ({type(auto).__name__}); "
          f"same ids on {compared} lines" + (" as mlm-adapt tokenize" if args.mlm_adapt else ""))


def check_gunzipped(args, exported_state):
    with tempfile.TemporaryDirectory() as folder:
        with open(args.gunzipped, "rb") as f:
            raw = f.read()
        with open(os.path.join(folder, "model.safetensors"), "wb") as out:
            out.write(gzip.decompress(raw))
        shutil.copyfile(args.config, os.path.join(folder, "config.json"))
        for cls in (BertForMaskedLM, AutoModelForMaskedLM):
            model, info = cls.from_pretrained(folder, output_loading_info=True)
            for kind in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
                if info.get(kind):
                    fail(f"gunzipped {args.gunzipped} with {args.config}: {cls.__name__} {kind}: {info[kind]}")
            state = model.state_dict()
            for name, tensor in exported_state.items():
                if not torch.equal(tensor, state[name]):
                    fail(f"gunzipped {args.gunzipped}: {name} differs from the export")
        print(f"ok: gunzipped {os.path.basename(args.gunzipped)} + {args.config} as config.json loads with "
              f"BertForMaskedLM and AutoModelForMaskedLM.from_pretrained ({type(model).__name__}), "
              f"no missing/unexpected keys, {len(exported_state)} tensors equal the export")


if __name__ == "__main__":
    main()
