#!/usr/bin/env python3
"""Reference for `mlm-bench corpus-stream`: HF `tokenizers` (Rust, all cores) on the same corpus,
streamed in ~1 MB batches of lines (or blank-line documents), encoded without special tokens and
packed into [CLS] ... [SEP] rows of max_seq_length as `run_mlm.py`'s group_texts would.
Prints one JSON line: seconds, cpu_seconds, tokens, ids_sum (sum of all piece ids, an order-free
checksum to compare with ours), sequences, peak_rss_mb, version."""
import argparse
import gzip
import json
import resource
import time

import tokenizers
from tokenizers import BertWordPieceTokenizer

parser = argparse.ArgumentParser()
parser.add_argument("--vocab", required=True)
parser.add_argument("--max-seq-length", type=int, default=128)
parser.add_argument("--mode", default="lines")
parser.add_argument("files", nargs="+")
args = parser.parse_args()

tokenizer = BertWordPieceTokenizer(args.vocab, lowercase=True)
cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
content = args.max_seq_length - 2
start = time.time()
cpu_start = resource.getrusage(resource.RUSAGE_SELF)
tokens = 0
ids_sum = 0
sequences = 0
pending = []


def flush(documents):
    global tokens, ids_sum, sequences, pending
    for encoding in tokenizer.encode_batch(documents, add_special_tokens=False):
        pending.extend(encoding.ids)
        tokens += len(encoding.ids)
        ids_sum += sum(encoding.ids)
    full = len(pending) // content * content
    rows = [[cls_id] + pending[i:i + content] + [sep_id] for i in range(0, full, content)]
    sequences += len(rows)
    pending = pending[full:]


for path in args.files:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        documents, size, current = [], 0, []
        for line in f:
            line = line.rstrip("\r\n")
            if args.mode == "lines":
                if line.strip():
                    documents.append(line)
                    size += len(line)
            elif line.strip():
                current.append(line)
            elif current:
                documents.append("\n".join(current))
                size += len(documents[-1])
                current = []
            if size >= 1 << 20:
                flush(documents)
                documents, size = [], 0
        if current:
            documents.append("\n".join(current))
        flush(documents)
if pending:
    sequences += 1
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({
    "cpu_seconds": usage.ru_utime + usage.ru_stime - cpu_start.ru_utime - cpu_start.ru_stime,
    "seconds": time.time() - start, "tokens": tokens, "ids_sum": ids_sum, "sequences": sequences, "version": tokenizers.__version__,
    "peak_rss_mb": usage.ru_maxrss / 1024,
}))
