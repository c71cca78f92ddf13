"""Mean ± std over seeds of the test scores in runs/results/<task>-<config>-seed<N>/report.json.

Usage: python3 Scripts/results/summarize_classification_results.py [runs/results]
"""
import collections
import glob
import json
import os
import statistics
import sys


def main(root):
    scores = collections.defaultdict(lambda: collections.defaultdict(list))
    seconds = collections.defaultdict(list)
    for path in sorted(glob.glob(os.path.join(root, "*", "report.json"))):
        name = os.path.basename(os.path.dirname(path))
        task, config, _ = name.rsplit("-", 2)
        with open(path) as f:
            report = json.load(f)
        split = report.get("test") or report["validation"]
        if split.get("entities"):
            scores[(task, config)]["entity F1"].append(split["entities"]["f1"])
            scores[(task, config)]["token acc."].append(split["entities"]["tokenAccuracy"])
        else:
            scores[(task, config)]["accuracy"].append(split["classification"]["accuracy"])
            scores[(task, config)]["macro-F1"].append(split["classification"]["macroF1"])
        seconds[(task, config)].append(report["seconds"])

    def cell(values):
        if len(values) < 2:
            return f"{values[0]:.3f} (1 seed)"
        return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"

    print("| task | model | metric | test score (mean ± std) | seeds | s/run |")
    print("| --- | --- | --- | --- | --- | --- |")
    for (task, config), metrics in sorted(scores.items()):
        for metric, values in metrics.items():
            print(f"| {task} | {config} | {metric} | {cell(values)} | {len(values)} | "
                  f"{statistics.mean(seconds[(task, config)]):.0f} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/results")
