#!/usr/bin/env python3
"""Golden outputs of HF `tokenizers` (BertWordPieceTokenizer: BertNormalizer, BertPreTokenizer, WordPiece,
BertProcessing, WordPiece decoder) for the Swift tokenizer tests, on the uncased and the cased vocab.

Inputs are read as bytes, split on b"\\n" only, and each line is decoded with U+FFFD replacement; the
Swift tests do the same (String(decoding:as: UTF8.self)).
Outputs (JSON lines, one per input line; offsets flattened as start, end, start, end, ...; word id -1 = none):
  golden_<vocab>_<input>.jsonl  ids, offsets, words, special (special-tokens mask), decoded, decoded_all
  golden_<vocab>_pairs.jsonl    pairs, truncation and padding cases with type ids and attention masks
  golden_trainer_vocab.txt      HF WordPieceTrainer vocab (BertWordPieceTokenizer.train, uncased, 2,000 tokens,
                                min_frequency 2, limit_alphabet 1000) trained on legal_sample.txt
usage: python3 Tests/Fixtures/tokenizer/generate.py   (from the repository root)
"""
import json
import os

import tokenizers
from tokenizers import BertWordPieceTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
VOCABS = {"uncased": ("Vocab/bert-base-uncased.txt", True), "cased": ("Vocab/bert-base-cased.txt", False)}
TRAINER_VOCAB_SIZE = 2000


def read_lines(name):
    data = open(os.path.join(HERE, f"{name}.txt"), "rb").read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [line.decode("utf-8", errors="replace") for line in lines]


def flat_offsets(offsets):
    return [value for pair in offsets for value in pair]


def words(encoding):
    return [-1 if word is None else word for word in encoding.word_ids]


def write_jsonl(name, records):
    with open(os.path.join(HERE, name), "w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")


def single_records(tokenizer, lines, with_decode):
    records = []
    for encoding, line in zip(tokenizer.encode_batch(lines), lines):
        record = {"ids": encoding.ids, "offsets": flat_offsets(encoding.offsets), "words": words(encoding)}
        if with_decode:
            record["special"] = encoding.special_tokens_mask
            record["decoded"] = tokenizer.decode(encoding.ids, skip_special_tokens=True)
            record["decoded_all"] = tokenizer.decode(encoding.ids, skip_special_tokens=False)
        records.append(record)
    return records


def pair_records(tokenizer, legal, edge):
    cases = []
    texts = [line for line in legal if 40 < len(line) < 200][:12] + edge[:20]
    for index in range(0, len(texts) - 1, 2):
        first, second = texts[index], texts[index + 1]
        cases.append((first, second, None, None, True))
        for max_length in (5, 8, 9, 16, 33):
            cases.append((first, second, max_length, None, True))
        cases.append((first, None, 7, None, True))
        cases.append((first, None, 10, 24, True))
        cases.append((first, second, 20, 40, True))
        cases.append((first, second, None, None, False))
        cases.append((first, None, 6, None, False))
        cases.append((first, second, 11, None, False))
    cases.append(("short", "a much longer second sequence with many more words in it", 10, None, True))
    cases.append(("a much longer first sequence with many more words in it", "short", 11, None, True))
    cases.append(("one two three four five six", "seven eight nine ten eleven twelve", 9, 12, True))
    records = []
    for first, second, max_length, pad_to, add_special in cases:
        tokenizer.no_truncation()
        tokenizer.no_padding()
        if max_length is not None:
            tokenizer.enable_truncation(max_length=max_length)
        if pad_to is not None:
            tokenizer.enable_padding(length=pad_to, pad_id=tokenizer.token_to_id("[PAD]"), pad_token="[PAD]")
        encoding = tokenizer.encode(first, second, add_special_tokens=add_special)
        records.append({
            "a": first, "b": second, "max_length": max_length, "pad_to": pad_to, "add_special": add_special,
            "ids": encoding.ids, "tokens": encoding.tokens, "type_ids": encoding.type_ids,
            "offsets": flat_offsets(encoding.offsets), "words": words(encoding),
            "special": encoding.special_tokens_mask, "attention": encoding.attention_mask,
        })
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return records


def main() -> None:
    legal, edge = read_lines("legal_sample"), read_lines("edge_cases")
    for vocab_name, (vocab_path, lowercase) in VOCABS.items():
        tokenizer = BertWordPieceTokenizer(os.path.join(ROOT, vocab_path), lowercase=lowercase)
        write_jsonl(f"golden_{vocab_name}_legal_sample.jsonl", single_records(tokenizer, legal, with_decode=False))
        write_jsonl(f"golden_{vocab_name}_edge_cases.jsonl", single_records(tokenizer, edge, with_decode=True))
        write_jsonl(f"golden_{vocab_name}_random_unicode.jsonl",
                    single_records(tokenizer, read_lines("random_unicode"), with_decode=True))
        write_jsonl(f"golden_{vocab_name}_pairs.jsonl", pair_records(tokenizer, legal, edge))
    trainer = BertWordPieceTokenizer(lowercase=True)
    trainer.train([os.path.join(HERE, "legal_sample.txt")], vocab_size=TRAINER_VOCAB_SIZE, min_frequency=2,
                  limit_alphabet=1000, show_progress=False)
    vocab = sorted(trainer.get_vocab().items(), key=lambda item: item[1])
    with open(os.path.join(HERE, "golden_trainer_vocab.txt"), "w", encoding="utf-8") as out:
        out.write("".join(f"{token}\n" for token, _ in vocab))
    print(f"goldens written with tokenizers {tokenizers.__version__}")


if __name__ == "__main__":
    main()
