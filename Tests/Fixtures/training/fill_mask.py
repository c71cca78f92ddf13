"""Golden for MaskPredictor: transformers' fill-mask pipeline on the tiny HF BertForMaskedLM folder
Tests/Fixtures/checkpoint/tiny-mlm. Run from the repository root:
    python3 Tests/Fixtures/training/fill_mask.py
Writes Tests/Fixtures/training/fill_mask.json (needs torch and transformers; CI only reads the JSON).
"""
import json
import os

from transformers import BertForMaskedLM, BertTokenizer, pipeline

here = os.path.dirname(os.path.abspath(__file__))
folder = os.path.join(here, "..", "checkpoint", "tiny-mlm")
model = BertForMaskedLM.from_pretrained(folder).eval()
tokenizer = BertTokenizer.from_pretrained(folder)
fill = pipeline("fill-mask", model=model, tokenizer=tokenizer, top_k=5)

texts = [
    "The software is provided [MASK] is, without warranty of any kind.",
    "Permission is hereby [MASK] free of charge to any person.",
    "The above copyright notice shall be [MASK] in all copies or [MASK] portions.",
]
cases = []
for text in texts:
    out = fill(text)
    if isinstance(out[0], dict):  # one [MASK]: a flat list
        out = [out]
    cases.append({
        "text": text,
        "predictions": [[{"token": p["token_str"], "id": p["token"], "score": p["score"]} for p in mask] for mask in out],
    })
with open(os.path.join(here, "fill_mask.json"), "w") as f:
    json.dump(cases, f, indent=1)
print("wrote fill_mask.json")
