#!/usr/bin/env python3
"""Builds the corpus test fixtures from slices of big.txt (Project Gutenberg text, public domain)
and the split golden file, which re-implements the split hash independently:
FNV-1a 64 over the document's bytes, then the murmur3 fmix64 finalizer; a document is held out
for validation when (hash >> 11) * 2**-53 < fraction.

Run from anywhere: python3 Tests/Fixtures/corpus/make_fixtures.py [path/to/big.txt]
"""
import gzip
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BIG = sys.argv[1] if len(sys.argv) > 1 else "/work/cache/unpacked/textcode/data/gibberish/big.txt"
MASK = (1 << 64) - 1

with open(BIG, "rb") as f:
    LINES = f.read().split(b"\n")


def text(first, last, crlf=False):
    ending = b"\r\n" if crlf else b"\n"
    return ending.join(LINES[first:last]) + ending


def write(name, data):
    path = os.path.join(HERE, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def gz(data):
    # mtime 0 keeps the bytes reproducible
    return gzip.compress(data, mtime=0)


write("folder/a.txt", text(2000, 2080))
write("folder/b.txt", text(3000, 3040, crlf=True))
write("folder/sub/c.txt", text(4000, 4040))
write("folder/sub/d.txt.gz", gz(text(5000, 5040)))
write("folder/notes.md", b"Not a corpus file: folders only contribute .txt and .gz files.\n")

members = [text(6000, 6200), text(6200, 6400), text(6400, 6600)]
write("multi-member.txt", b"".join(members))
write("multi-member.txt.gz", b"".join(gz(m) for m in members))
# An empty member in the middle and zero padding after the last one, both of which gzip -d accepts.
write("padded.txt.gz", gz(members[0]) + gz(b"") + gz(members[1]) + bytes(512))

whole = gz(text(7000, 7200))
write("truncated.txt.gz", whole[: len(whole) * 6 // 10])
write("not-gzip.gz", b"plain text that only pretends to be gzip\n")
write("invalid-utf8.txt",
      b"first line is fine\n"
      b"so is the second\n"
      b"the third has \xff\xfe stray bytes\n"
      b"caf\xc3\xa9 is valid UTF-8\n"
      b"the fifth ends mid-character \xe2\x82\n")
write("blank.txt", b"\n   \n\t\n\r\n")
write("no-text/README.md", b"This folder deliberately holds no .txt or .gz file.\n")


def split_hash(data):
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & MASK
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & MASK
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & MASK
    h ^= h >> 33
    return h


def documents(data, mode):
    """(first line number, bytes) of each document, as the Swift reader splits them."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    docs, current, first = [], [], 0
    for number, line in enumerate(lines, start=1):
        if line.endswith(b"\r"):
            line = line[:-1]
        if line.strip(b" \t\n\r\x0b\x0c") == b"":
            if current:
                docs.append((first, b"\n".join(current)))
                current = []
            continue
        if mode == "lines":
            docs.append((number, line))
            continue
        if not current:
            first = number
        current.append(line)
    if current:
        docs.append((first, b"\n".join(current)))
    return docs


FRACTION = 0.3
golden = []
for name in ["folder/a.txt", "folder/b.txt"]:
    with open(os.path.join(HERE, name), "rb") as f:
        data = f.read()
    for mode in ["lines", "documents"]:
        for line, doc in documents(data, mode):
            held_out = (split_hash(doc) >> 11) * 2.0**-53 < FRACTION
            golden.append(f"{name} {mode} {line} {'validation' if held_out else 'train'}")
write("split-golden.txt", ("\n".join(golden) + "\n").encode())
