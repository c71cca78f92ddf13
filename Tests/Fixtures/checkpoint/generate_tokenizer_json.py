#!/usr/bin/env python3
"""Golden tokenizer.json files for `WordPieceTokenizer.huggingFaceJSON()` (the one `mlm-adapt export` writes):
HF tokenizers' BertWordPieceTokenizer(vocab, lowercase=...) saved with to_str(), on the tiny-mlm vocab.

  python3 Tests/Fixtures/checkpoint/generate_tokenizer_json.py   (from the repository root; needs tokenizers)

Writes tokenizer-json/uncased.json and tokenizer-json/cased.json beside this script.
"""
import json
import os

from tokenizers import BertWordPieceTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB = os.path.join(HERE, "tiny-mlm", "vocab.txt")

for name, lowercase in (("uncased", True), ("cased", False)):
    tokenizer = BertWordPieceTokenizer(VOCAB, lowercase=lowercase)
    obj = json.loads(tokenizer.to_str())
    with open(os.path.join(HERE, "tokenizer-json", f"{name}.json"), "w", encoding="utf-8") as out:
        json.dump(obj, out, ensure_ascii=False, indent=1, sort_keys=True)
        out.write("\n")
    print(f"wrote tokenizer-json/{name}.json ({len(obj['model']['vocab'])} tokens, lowercase {lowercase})")
