#!/usr/bin/env python3
"""Rebuild a BERT vocab.txt from a blingfire compiled id-to-word map (.i2w).

blingfire's `ids_to_text` drops the `##` continuation prefix, so each id is decoded twice: alone and
after an anchor word ("a"). If the pair decodes without a space between them, the token continues a
word and gets `##` back.

usage: blingfire_i2w_to_vocab.py BLINGFIRE_PACKAGE_DIR MODEL_NAME SIZE OUT.txt
"""
import sys

import numpy as np


def main() -> None:
    package_dir, model_name, size, out_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    sys.path.insert(0, package_dir)
    import blingfire

    handle = blingfire.load_model(f"{package_dir}/blingfire/{model_name}.i2w")

    def decode(ids):
        return blingfire.ids_to_text(handle, np.array(ids, dtype=np.int32), skip_special_tokens=False)

    singles = [decode([i]) for i in range(size)]
    anchor_id = singles.index("a")
    tokens = []
    for token_id, single in enumerate(singles):
        pair = decode([anchor_id, token_id])
        if pair == "a" + single:
            tokens.append("##" + single)
        elif pair == "a " + single:
            tokens.append(single)
        else:
            sys.exit(f"id {token_id}: cannot tell whether {single!r} continues a word (pair decodes to {pair!r})")
    if len(set(tokens)) != size:
        sys.exit(f"{len(tokens) - len(set(tokens))} duplicate tokens: the rebuild is wrong")
    expected = {0: "[PAD]", 100: "[UNK]", 101: "[CLS]", 102: "[SEP]", 103: "[MASK]"}
    for token_id, token in expected.items():
        if tokens[token_id] != token:
            sys.exit(f"id {token_id} is {tokens[token_id]!r}, expected {token!r}")
    with open(out_path, "w", encoding="utf-8") as out:
        out.write("\n".join(tokens) + "\n")
    print(f"wrote {out_path}: {size} tokens")


if __name__ == "__main__":
    main()
