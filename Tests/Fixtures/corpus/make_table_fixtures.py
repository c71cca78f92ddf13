#!/usr/bin/env python3
"""Builds table.csv, table.tsv and table.jsonl: the same 80 seeded licence-like texts in the three
table formats a corpus can be read from (--corpus FILE --text-column text). The CSV (written by
Python's csv module, CRLF records) has commas and newlines inside quoted fields; the TSV replaces
newlines by spaces, since TSV has no quoting.

Run from anywhere: python3 Tests/Fixtures/corpus/make_table_fixtures.py
"""
import csv
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
random.seed(7)
WORDS = ("licensee shall grant the software copyright notice permission warranty liability "
         "redistribution source binary form modify").split()
texts = []
for i in range(80):
    text = " ".join(random.choice(WORDS) for _ in range(random.randint(5, 25)))
    if i % 9 == 0:
        text = text.replace(" ", ", ", 1)
    if i % 13 == 0:
        text = text + "\n" + "second line of record %d" % i
    texts.append(text)
labels = [random.choice(["permissive", "copyleft"]) for _ in texts]

with open(os.path.join(HERE, "table.csv"), "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["label", "text"])
    for label, text in zip(labels, texts):
        writer.writerow([label, text])
with open(os.path.join(HERE, "table.tsv"), "w") as f:
    f.write("label\ttext\n")
    for label, text in zip(labels, texts):
        f.write(f"{label}\t{text.replace(chr(10), ' ')}\n")
with open(os.path.join(HERE, "table.jsonl"), "w") as f:
    for label, text in zip(labels, texts):
        f.write(json.dumps({"text": text, "label": label}) + "\n")
