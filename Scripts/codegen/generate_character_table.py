#!/usr/bin/env python3
"""Writes Sources/Tokenizer/BertCharacterTableData.swift: how HF `tokenizers`' BertNormalizer and
BertPreTokenizer treat every Unicode scalar, probed one scalar at a time.

HF's Rust code takes its character classes from crates pinned to their own Unicode versions, which differ
from Swift's. Probing the reference itself makes the table exact for the installed `tokenizers` version.

Per scalar, a kind byte (bits, see `BertCharacterKind` in Swift) and, for uncased mode, a replacement
string when stripping accents (NFD, drop Mn) and lowercasing change the scalar. Both are written compactly
(runs of equal kinds; mappings as arithmetic progressions, see `swift_source`), decoded here exactly as the
Swift side decodes them and checked against the probe before anything is written.

Also writes Tests/Fixtures/tokenizer/character_table_digests.json: an FNV-1a 64 digest of the probed kinds
and mappings per block of 4,096 scalars, which `CharacterTableTests` recomputes from the Swift table for
every scalar 0...0x10FFFF.
usage: python3 Scripts/codegen/generate_character_table.py   (from the repository root)
"""
import json
import os
import sys

import tokenizers
from tokenizers import normalizers, pre_tokenizers

REMOVED, WHITESPACE, CJK, UNCASED_REMOVED, UNCASED_MAPPED, PUNCTUATION, SPLITS_ON_WHITESPACE = 1, 2, 4, 8, 16, 32, 64
SCALARS = 0x110000
DIGEST_BLOCK = 4096
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SWIFT_PATH = os.path.join(ROOT, "Sources", "Tokenizer", "BertCharacterTableData.swift")
DIGEST_PATH = os.path.join(ROOT, "Tests", "Fixtures", "tokenizer", "character_table_digests.json")


def probe():
    """The kind byte of every scalar and the uncased replacement of those that have one."""
    cased = normalizers.BertNormalizer(lowercase=False)
    uncased = normalizers.BertNormalizer(lowercase=True)
    pretokenizer = pre_tokenizers.BertPreTokenizer()
    kinds = bytearray(SCALARS)
    mappings = {}
    for cp in range(SCALARS):
        if 0xD800 <= cp <= 0xDFFF:
            kinds[cp] = REMOVED | UNCASED_REMOVED
            continue
        ch = chr(cp)
        kind = 0
        cased_out = cased.normalize_str(ch)
        uncased_out = uncased.normalize_str(ch)
        if cased_out == "":
            kind |= REMOVED
            assert uncased_out == "", hex(cp)
        elif cased_out == " ":
            kind |= WHITESPACE
            assert uncased_out == " ", hex(cp)
        else:
            if cased_out == f" {ch} ":
                kind |= CJK
                assert uncased_out.startswith(" ") and uncased_out.endswith(" "), hex(cp)
                uncased_out = uncased_out[1:-1]
            else:
                assert cased_out == ch, (hex(cp), cased_out)
            if uncased_out == "":
                kind |= UNCASED_REMOVED
            elif uncased_out != ch:
                kind |= UNCASED_MAPPED
                mappings[cp] = tuple(ord(c) for c in uncased_out)
        pieces = [piece for piece, _ in pretokenizer.pre_tokenize_str(f"a{ch}a")]
        if pieces == ["a", "a"]:
            kind |= SPLITS_ON_WHITESPACE
        elif pieces == ["a", ch, "a"]:
            kind |= PUNCTUATION
        else:
            assert pieces == [f"a{ch}a"], (hex(cp), pieces)
        kinds[cp] = kind
    return kinds, mappings


def kind_runs(kinds):
    """(first scalar, kind) of every run of equal kinds."""
    runs = [(0, kinds[0])]
    for cp in range(1, SCALARS):
        if kinds[cp] != kinds[cp - 1]:
            runs.append((cp, kinds[cp]))
    return runs


def mapping_records(mappings):
    """Greedy progressions over the sorted mapped scalars: (start, count, stride, first, delta) covers
    start + k·stride for k < count, mapped to first + k·delta (elementwise). Only scalars that are mapped
    lie inside a record's span at its stride, and records do not interleave."""
    sources = sorted(mappings)
    records = []
    i = 0
    while i < len(sources):
        start, first = sources[i], mappings[sources[i]]
        best = (1, 1, (0,) * len(first))
        for stride in (1, 2):
            if i + 1 < len(sources) and sources[i + 1] == start + stride and len(mappings[sources[i + 1]]) == len(first):
                delta = tuple(b - a for a, b in zip(first, mappings[sources[i + 1]]))
                n = 2
                while (i + n < len(sources) and sources[i + n] == start + n * stride
                       and mappings[sources[i + n]] == tuple(f + n * d for f, d in zip(first, delta))):
                    n += 1
                if n > best[0]:
                    best = (n, stride, delta)
        count, stride, delta = best
        records.append((start, count, stride, first, delta))
        i += count
    return records


def hex_list(values):
    return ",".join(f"{v:X}" if v >= 0 else f"-{-v:X}" for v in values)


def run_tokens(runs):
    return [f"{start:X}:{kind:X}" for start, kind in runs]


def mapping_tokens(records):
    tokens = []
    for start, count, stride, first, delta in records:
        if count == 1:
            tokens.append(f"{start:X}:{hex_list(first)}")
        else:
            tokens.append(f"{start:X}:{count:X}:{stride:X}:{hex_list(first)}:{hex_list(delta)}")
    return tokens


def decode(run_tokens_, mapping_tokens_):
    """What the Swift `BertCharacterTable.init` builds from the tokens."""
    kinds = bytearray(SCALARS)
    runs = [tuple(int(field, 16) for field in token.split(":")) for token in run_tokens_]
    for index, (start, kind) in enumerate(runs):
        end = runs[index + 1][0] if index + 1 < len(runs) else SCALARS
        kinds[start:end] = bytes([kind]) * (end - start)
    mappings = {}
    for token in mapping_tokens_:
        fields = token.split(":")
        if len(fields) == 2:
            start, count, stride = int(fields[0], 16), 1, 1
            first = [int(v, 16) for v in fields[1].split(",")]
            delta = [0] * len(first)
        else:
            start, count, stride = (int(field, 16) for field in fields[:3])
            first = [int(v, 16) for v in fields[3].split(",")]
            delta = [int(v, 16) for v in fields[4].split(",")]
        for k in range(count):
            mappings[start + k * stride] = tuple(f + k * d for f, d in zip(first, delta))
    return kinds, mappings


def block_digests(kinds, mappings):
    """FNV-1a 64 per block over, for each scalar: its kind byte, and when mapped, the number of
    replacement scalars and each as 4 little-endian bytes."""
    digests = []
    for block in range(0, SCALARS, DIGEST_BLOCK):
        h = 0xCBF29CE484222325
        for cp in range(block, block + DIGEST_BLOCK):
            data = bytes([kinds[cp]])
            if cp in mappings:
                data += bytes([len(mappings[cp])]) + b"".join(v.to_bytes(4, "little") for v in mappings[cp])
            for byte in data:
                h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
        digests.append(f"{h:016x}")
    return digests


def wrapped(tokens, width=118):
    lines, line = [], ""
    for token in tokens:
        if line and len(line) + 1 + len(token) > width:
            lines.append(line)
            line = token
        else:
            line = f"{line} {token}" if line else token
    if line:
        lines.append(line)
    return "\n".join(lines)


def swift_source(runs, mappings_):
    return (
        f"// Generated by Scripts/codegen/generate_character_table.py from tokenizers {tokenizers.__version__}. Do not edit.\n"
        "// kindRuns: one `start:kind` token (hex) per run of scalars with equal kind bits, ascending; a run ends\n"
        "// where the next begins, the last at 0x110000.\n"
        "// uncasedMappings, ascending: `scalar:m1,m2,…` (its uncased replacement scalars), or\n"
        "// `start:count:stride:m1,…:d1,…` for the `count` scalars start + k·stride, replaced by m + k·d (hex).\n\n"
        "extension BertCharacterTable {\n"
        '    static let kindRuns = """\n' + wrapped(runs) + '\n"""\n\n'
        '    static let uncasedMappings = """\n' + wrapped(mappings_) + '\n"""\n'
        "}\n"
    )


def main() -> None:
    kinds, mappings = probe()
    runs = run_tokens(kind_runs(kinds))
    maps = mapping_tokens(mapping_records(mappings))
    decoded_kinds, decoded_mappings = decode(runs, maps)
    assert decoded_kinds == kinds and decoded_mappings == mappings, "the compact table does not decode to the probe"
    with open(SWIFT_PATH, "w", encoding="utf-8") as out:
        out.write(swift_source(runs, maps))
    with open(DIGEST_PATH, "w", encoding="utf-8") as out:
        json.dump({"tokenizers": tokenizers.__version__, "block_size": DIGEST_BLOCK,
                   "fnv1a64": block_digests(kinds, mappings)}, out, indent=0)
        out.write("\n")
    print(f"{SWIFT_PATH}: {len(runs)} runs, {len(mappings)} uncased mappings in {len(maps)} records; "
          f"{DIGEST_PATH}", file=sys.stderr)


if __name__ == "__main__":
    main()
