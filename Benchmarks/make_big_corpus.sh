#!/bin/sh
# Builds a ~200 MB corpus for `mlm-bench corpus-stream` by repeating big.txt (6.5 MB) 31 times,
# plus a gzip copy. Usage: Benchmarks/make_big_corpus.sh [output.txt] [source.txt]
set -eu
out=${1:-/tmp/corpus-200mb.txt}
src=${2:-/work/cache/unpacked/textcode/data/gibberish/big.txt}
: > "$out"
for _ in $(seq 31); do cat "$src" >> "$out"; done
gzip -1 -c "$out" > "$out.gz"
ls -l "$out" "$out.gz"
