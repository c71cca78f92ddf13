"""Checks that a fine-tuned mlm-adapt classifier checkpoint loads in HF transformers and gives the
same outputs as `mlm-adapt predict`.

The checkpoint is a gzip-compressed safetensors file whose metadata carries config.json and vocab.txt.
This script gunzips it into a temporary HF folder, loads it with `from_pretrained` (the class named by
`architectures`; no tensor may be missing or unexpected), runs the texts, and compares with the JSON
lines that `mlm-adapt predict` wrote: same label/tags, and probabilities within 1e-4.

Usage:
  mlm-adapt predict --checkpoint RUN/model.safetensors.gz texts.txt --output ours.jsonl
  python3 Scripts/checks/check_hf_load.py RUN/model.safetensors.gz texts.txt ours.jsonl
"""
import gzip
import json
import os
import sys
import tempfile

import torch
from safetensors import safe_open
from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, BertTokenizerFast

TOLERANCE = 1e-4


def hf_folder(checkpoint, folder):
    weights = os.path.join(folder, "model.safetensors")
    with open(checkpoint, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    with open(weights, "wb") as f:
        f.write(data)
    with safe_open(weights, "pt") as f:
        metadata = f.metadata()
    with open(os.path.join(folder, "config.json"), "w") as f:
        f.write(metadata["config"])
    with open(os.path.join(folder, "vocab.txt"), "w") as f:
        f.write(metadata["vocab"])
    lower = metadata.get("do_lower_case", "true") == "true"
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": lower, "tokenizer_class": "BertTokenizer"}, f)
    return json.loads(metadata["config"])


def main(checkpoint, texts_path, ours_path, max_length=128):
    with open(texts_path) as f:
        texts = [line.rstrip("\n") for line in f if line.strip()]
    with open(ours_path) as f:
        ours = [json.loads(line) for line in f if line.strip()]
    assert len(texts) == len(ours), f"{len(texts)} texts but {len(ours)} predictions"
    with tempfile.TemporaryDirectory() as folder:
        config = hf_folder(checkpoint, folder)
        architecture = config["architectures"][0]
        cls = {"BertForSequenceClassification": AutoModelForSequenceClassification,
               "BertForTokenClassification": AutoModelForTokenClassification}[architecture]
        model, info = cls.from_pretrained(folder, output_loading_info=True)
        problems = {k: v for k, v in info.items() if v and k != "mismatched_keys" or (k == "mismatched_keys" and v)}
        assert not problems, f"transformers reports {problems}"
        model.eval()
        tokenizer = BertTokenizerFast.from_pretrained(folder)
        id2label = model.config.id2label
        worst = 0.0
        for text, mine in zip(texts, ours):
            if architecture == "BertForSequenceClassification":
                batch = tokenizer(text, truncation=True, max_length=max_length, return_tensors="pt")
                with torch.no_grad():
                    probabilities = torch.softmax(model(**batch).logits[0], -1)
                label = id2label[int(probabilities.argmax())]
                assert label == mine["label"], f"{text!r}: transformers {label}, ours {mine['label']}"
                for i, name in id2label.items():
                    worst = max(worst, abs(float(probabilities[i]) - mine["probabilities"][name]))
            else:
                words = text.split()
                batch = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length,
                                  return_tensors="pt")
                with torch.no_grad():
                    probabilities = torch.softmax(model(**batch).logits[0], -1)
                tags, scores, previous = ["O"] * len(words), [0.0] * len(words), None
                for position, word in enumerate(batch.word_ids()):
                    if word is not None and word != previous:
                        best = int(probabilities[position].argmax())
                        tags[word], scores[word] = id2label[best], float(probabilities[position, best])
                    previous = word
                assert tags == mine["tags"], f"{text!r}: transformers {tags}, ours {mine['tags']}"
                worst = max([worst] + [abs(a - b) for a, b in zip(scores, mine["scores"])])
        assert worst < TOLERANCE, f"largest probability difference {worst:.2e} exceeds {TOLERANCE}"
        print(f"OK: {architecture} loads in transformers with no missing or unexpected tensors; "
              f"{len(texts)} texts, same labels, largest probability difference {worst:.2e}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
