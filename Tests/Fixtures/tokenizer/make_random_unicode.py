#!/usr/bin/env python3
"""Writes random_unicode.txt: 250 seeded lines mixing ASCII words, punctuation, special tokens and scalars
drawn from every plane (surrogates excluded), to exercise the whole character table."""
import os
import random

RANGES = [(0x20, 0x7F), (0x80, 0x800), (0x800, 0x3000), (0x3000, 0xA000), (0xA000, 0xD800), (0xE000, 0x10000),
          (0x10000, 0x30000), (0xE0000, 0xE0080), (0xF0000, 0x110000)]
ASCII = "abcdefghij klmnop,.;!?()[]-  ABCXYZ0123 [MASK][SEP]\t\r"


def main() -> None:
    rng = random.Random(7)
    lines = []
    for _ in range(250):
        chars = []
        for _ in range(rng.randint(0, 60)):
            if rng.random() < 0.5:
                chars.append(rng.choice(ASCII))
            else:
                low, high = rng.choice(RANGES)
                chars.append(chr(rng.randrange(low, high)))
        lines.append("".join(chars).replace("\n", " "))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "random_unicode.txt")
    with open(path, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
