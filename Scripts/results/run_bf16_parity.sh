#!/usr/bin/env bash
# bf16 against fp32 on the same whole-word adaptation (issue 11): the same seed, corpus and steps, once per
# precision, then both held-out loss curves and the throughput side by side.
# Usage: Scripts/results/run_bf16_parity.sh BIN [CORPUS] > Benchmarks/results/bf16-parity.md
# Needs a CPU where bf16 runs (avx512_bf16 or AMX) and Debian's libdnnl-dev; STEPS, EVAL_EVERY, THREADS, OUT change the run.
set -euo pipefail
BIN=$1; CORPUS=${2:-Corpora/legal.txt}
STEPS=${STEPS:-300}; EVAL_EVERY=${EVAL_EVERY:-50}; THREADS=${THREADS:-2}; OUT=${OUT:-runs/bf16-parity}
mkdir -p "$OUT"
for precision in fp32 bf16; do
  [ -e "$OUT/$precision/metrics.jsonl" ] && grep -q "\"step\":$STEPS" "$OUT/$precision/metrics.jsonl" && continue
  rm -rf "$OUT/$precision"
  "$BIN" --corpus "$CORPUS" --mask whole-word --max-steps "$STEPS" --eval-every "$EVAL_EVERY" --threads "$THREADS" \
    --precision "$precision" --seed 1 --output-dir "$OUT/$precision" > "$OUT/$precision.log" 2>&1
done
python3 - "$OUT" "$STEPS" <<'PY'
import json, sys
out, steps = sys.argv[1], int(sys.argv[2])
runs = {}
for p in ("fp32", "bf16"):
    lines = [json.loads(l) for l in open(f"{out}/{p}/metrics.jsonl")]
    evals = {r["step"]: r for r in lines if r.get("type") == "eval"}
    train = [r for r in lines if r.get("type") == "train"]
    runs[p] = (evals, train)
print("| step | fp32 held-out loss | bf16 held-out loss | bf16 − fp32 | relative | fp32 acc | bf16 acc |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for step in sorted(runs["fp32"][0]):
    a, b = runs["fp32"][0][step], runs["bf16"][0].get(step)
    if b is None: continue
    la, lb = a["whole_word_loss"], b["whole_word_loss"]
    print(f"| {step} | {la:.4f} | {lb:.4f} | {lb - la:+.4f} | {100 * (lb - la) / la:+.2f}% | "
          f"{100 * a['whole_word_acc']:.2f}% | {100 * b['whole_word_acc']:.2f}% |")
print()
for p in ("fp32", "bf16"):
    train = runs[p][1]
    print(f"- {p}: {train[-1]['tokens_per_s']:.0f} tokens/s over the run (training steps only, {len(train)} steps, "
          f"{train[-1]['elapsed']:.0f} s wall at the last step)")
PY
