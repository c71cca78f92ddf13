#!/usr/bin/env bash
# Fragmentation before and after `mlm-adapt vocab --extend` (issue 13): held-out pieces per word for N added words.
# Usage: Scripts/results/run_vocab_extension.sh BIN [BASE_VOCAB] [CORPUS] > Benchmarks/results/vocab-extension.md
# The words are counted on the corpus's training documents; the figures are on the documents adapt holds out
# (--validation-split 0.05, the same hash-based split as adapt's held-out evaluation).
set -euo pipefail
BIN=$1; BASE=${2:-cache/models/all-MiniLM-L6-v2/vocab.txt}; CORPUS=${3:-Corpora/legal.txt}
SIZES=${SIZES:-"1000 2000 5000"}
OUT=${OUT:-runs/vocab-extension}
mkdir -p "$OUT"
rows=()
top=""
for n in $SIZES; do
  for min in 2 1; do
    log=$("$BIN" vocab --extend "$BASE" --corpus "$CORPUS" --add "$n" --min-frequency "$min" --out "$OUT/vocab-$n-min$min.txt" 2>&1)
    added=$(sed -n 's/.* + \([0-9]*\) added = .*/\1/p' <<<"$log")
    # "held out (D documents, W words; …): B pieces per word before, A after (P → Q pieces, R%)"
    read -r docs words before after pieces_before pieces_after change < <(sed -n \
      's/^held out (\([0-9]*\) documents, \([0-9]*\) words;.*): \([0-9.]*\) pieces per word before, \([0-9.]*\) after (\([0-9]*\) → \([0-9]*\) pieces, \([-+0-9.]*\)%)/\1 \2 \3 \4 \5 \6 \7/p' <<<"$log")
    rows+=("| $n | $min | $added | $before | $after | $pieces_before → $pieces_after | $change% |")
    [ -n "$top" ] || top=$(sed -n 's/^top added: //p' <<<"$log")
    # A smaller N adds every word there is at min count 2 only when the corpus has fewer candidates.
    [ "$added" = "$n" ] && break
  done
done
cat <<MD
# Vocabulary extension: fragmentation of held-out legal text

\`mlm-adapt vocab --extend\` appends the N words that save the most pieces (count × (pieces − 1), counted with the
base tokenizer on the training documents of the corpus, words occurring at least \`--min-frequency\` times), keeping
every old id. Pieces per word are measured on the documents adapt holds out ($docs lines, $words words: the
\`--validation-split 0.05\` hash split of adapt's held-out evaluation), which the counting never saw. Words are the
normalizer's and pre-tokenizer's (punctuation marks count as words), so 1.0 is the floor.

| N asked | --min-frequency | added | pieces/word before | after | held-out pieces | change |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: |
$(printf '%s\n' "${rows[@]}")

Where the corpus has fewer than N words that occur twice and take two or more pieces, fewer are added at
\`--min-frequency 2\` (the default), and the row below it shows \`--min-frequency 1\`.

Top added words (N = ${SIZES%% *}): $top

Fewer pieces per word also means the held-out MLM loss per token no longer compares between the base and an
extended vocabulary: the same text becomes fewer, harder tokens. \`mlm-adapt evaluate\` (and the eval lines of
\`metrics.jsonl\`) therefore also give \`<scheme>_loss_per_word\`: the summed cross-entropy of the masked tokens over
\`<scheme>_masked_words\`, the words (as counted here) with at least one masked token. Under whole-word masking each
masked word contributes all its pieces' losses, so \`whole_word_loss_per_word\` compares models with different
vocabularies on the same held-out documents. The masked words themselves differ (the eval batches, rows of a
fixed token count, cover more text when words take fewer pieces, and masks are drawn per row), so it is a mean
over comparable samples, not a word-by-word comparison. It is measured on adapted checkpoints (with and without
the extension, the same recipe) with \`evaluate\`, not by this script; this page reports fragmentation only.
Those figures, and the downstream legal-category macro-F1 of DAPT with and without a 2,000-word extension, are in
[adaptation-study-vocab-extension-2000.md](adaptation-study-vocab-extension-2000.md).

- Base vocabulary: \`$BASE\` ($(wc -l < "$BASE") tokens, uncased); corpus: \`$CORPUS\` ($(wc -c < "$CORPUS") bytes)
- Command: \`Scripts/results/run_vocab_extension.sh $*\` (each row: \`$BIN vocab --extend $BASE --corpus $CORPUS --add N --min-frequency M --out V.txt\`)
- CPU: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(nproc) logical cores; kernel: $(uname -sr)
- Commit: \`$(git rev-parse --short HEAD)\`$(git diff --quiet HEAD -- Sources || echo " (plus uncommitted changes in Sources)"); date: $(date -u +%Y-%m-%dT%H:%M:%SZ)
- No timing: counting and tokenizing the 5.6 MB corpus is a few seconds per row.
MD
