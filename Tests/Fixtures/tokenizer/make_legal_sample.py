#!/usr/bin/env python3
"""Writes legal_sample.txt: non-empty body lines (after the YAML front matter) from every 7th
ScanCode license text, in file-name order, until 2,000 lines. Source: scancode-toolkit 32.5.0
licensedcode/data/licenses (CC-BY-4.0), unpacked under cache/unpacked."""
import glob
import os
import sys

LICENSE_DIR = sys.argv[1] if len(sys.argv) > 1 else "/work/cache/unpacked/licensedcode/data/licenses"


def body_lines(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    if text.startswith("---"):
        end = text.find("\n---", 3)
        text = text[end + 4:] if end >= 0 else text
    return [line for line in text.split("\n") if line.strip()]


def main() -> None:
    lines = []
    for path in sorted(glob.glob(f"{LICENSE_DIR}/*.LICENSE"))[::7]:
        lines.extend(body_lines(path)[:12])
        if len(lines) >= 2000:
            break
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "legal_sample.txt"), "w", encoding="utf-8") as out:
        out.write("\n".join(lines[:2000]) + "\n")


if __name__ == "__main__":
    main()
