#!/usr/bin/env bash
# The classification results of issue 6: each task × {base, adapted, frozen} × 3 seeds, short runs.
# Usage: Scripts/results/run_classification_results.sh BIN TASKS_DIR BASE_MODEL [ADAPTED_CHECKPOINT] > log
# Writes runs/results/<task>-<config>-seed<N>/report.json; summarise with Scripts/results/summarize_classification_results.py
# (Benchmarks/results/classification.md holds the figures).
set -euo pipefail
BIN=$1; TASKS=$2; BASE=$3; ADAPTED=${4:-}
OUT=${OUT:-runs/results}
SEEDS=${SEEDS:-"1 2 3"}
CONFIGS=${CONFIGS:-"base frozen adapted"}
# Short runs: a seeded training subset (300 bbc, 600 legal-category, 1200 wnut16 sentences at lr 2e-4), a 200-example dev subset
# for epoch selection, the whole test set, 2-4 epochs, 128 tokens. The frozen baseline trains only the pooler
# and classifier on cached features, so it gets more epochs and a larger rate at almost no cost.
run() {  # task config seed command...
  local task=$1 config=$2 seed=$3; shift 3
  local dir="$OUT/$task-$config-seed$seed"
  if [ -f "$dir/report.json" ]; then echo "skip $dir"; return; fi
  local init=$BASE extra=(--lr "${LR:-1e-4}")
  case $config in
    adapted) [ -n "$ADAPTED" ] || { echo "no adapted checkpoint: skip $dir"; return; }; init=$ADAPTED ;;
    frozen) extra=(--freeze-encoder --lr 1e-3 --epochs 20 --patience 3) ;;
  esac
  echo "== $dir"
  "$BIN" "$@" --init "$init" --seed "$seed" --output-dir "$dir" --no-save --max-seq-length 128 "${extra[@]}" 2>&1 \
    | grep -E "^epoch|stopping|restored|initialised|trainable|^accuracy|^macro-F1|^micro avg|^time"
}
for config in $CONFIGS; do
  for seed in $SEEDS; do
    run bbc "$config" "$seed" classify --train "$TASKS/bbc/train.tsv" --validation "$TASKS/bbc/dev.tsv" \
      --test "$TASKS/bbc/test.tsv" --max-train-examples 300 --max-validation-examples 200 --epochs 2 --metric macro-f1
    run legal-category "$config" "$seed" classify --train "$TASKS/legal-category/train.tsv" \
      --validation "$TASKS/legal-category/dev.tsv" --test "$TASKS/legal-category/test.tsv" --max-train-examples 600 \
      --max-validation-examples 200 --epochs 3 --metric macro-f1
    LR=2e-4 run wnut16 "$config" "$seed" ner --train "$TASKS/wnut16/train.conll" --validation "$TASKS/wnut16/dev.conll" \
      --test "$TASKS/wnut16/test.conll" --max-train-examples 1200 --max-validation-examples 200 --epochs 4
  done
done
