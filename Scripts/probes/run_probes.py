#!/usr/bin/env python3
"""The robustness probe of issue 15, rerun against a built mlm-adapt as a user (or a hostile file) would drive it.

usage: python3 Scripts/probes/run_probes.py BIN WORK [--repo ROOT] [--seed N] [--families 1,2,...]
                                             [--tokenizer-strings N] [--tokenizer-seconds S]

BIN is a release mlm-adapt, WORK an empty scratch folder (deleted and recreated). Prints a markdown report:
a table of each case (trials and outcomes), then notes on every outcome other than the expected one, and one
sample message per case. Progress goes to standard error. Family 4 (disk full) mounts tmpfs and needs root;
without it the family is skipped with a note.

Outcomes: abort = killed by a signal, exit status >= 128 (where no signal was sent), or a Swift "Fatal error" /
failed allocation in stderr; clean error = exit status 1..127 with a message naming the file, tensor or option;
silent acceptance = status 0 for a damaged file (or bad input) whose result differs from the undamaged one's;
harmless = status 0 with the same content as the undamaged file (a flip in an unused gzip header byte); ok = the
expected success (a checkpoint kept, a resume that works, the same token ids). Every child runs with its address
space capped (RLIMIT_AS, 4 GiB by default), so an allocation sized by an untrusted number fails at once instead
of swapping the machine: it shows as an abort.

Needs python3's standard library, and `tokenizers` (HF) for family 9.
"""
import argparse
import collections
import gzip
import json
import os
import random
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

ABORT_MARKERS = ("Fatal error", "failed to allocate", "Could not allocate", "Current stack trace", "Segmentation fault",
                 "Illegal instruction", "💣 Program crashed")
COLUMNS = ("clean error", "ok/harmless", "silent acceptance", "abort/crash", "other")
SMALL_CONFIG = dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=256,
                    max_position_embeddings=64)
TINY_CONFIG = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                   max_position_embeddings=64)
FILL_TEXT = "the software is provided [MASK] is , without warranty of any kind ."


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- processes

class Result:
    def __init__(self, args, status, stdout, stderr, peak_kb, wall, timed_out):
        self.args, self.stdout, self.stderr = args, stdout, stderr
        self.rc = os.waitstatus_to_exitcode(status) if status is not None else None
        self.peak_kb, self.wall, self.timed_out = peak_kb, wall, timed_out

    def first_error_line(self):
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        crashes = [re.sub(r".*(Swift runtime failure: [\w ]+?)( in | \*\*\*).*", r"\1", line) for line in lines
                   if line.startswith("Fatal error") or "Swift runtime failure:" in line]
        crashes += [line.strip(" *") for line in lines if line.startswith("*** Program crashed")]
        if crashes:
            return crashes[0][:300]
        errors = [line for line in lines if line.startswith("Error")]
        return (errors or lines or [""])[-1][:300]


class Proc:
    """One child process, its peak RSS sampled while it runs; stdout/stderr go to temporary files."""

    def __init__(self, args, cwd=None, stdin=None, limit_as=None):
        self.args = [str(a) for a in args]
        self.out, self.err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        limit = CONTEXT.limit_as if limit_as is None else limit_as

        def limits():
            if limit:
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        self.popen = subprocess.Popen(
            self.args, cwd=cwd or CONTEXT.work, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=self.out, stderr=self.err, env=CONTEXT.env, preexec_fn=limits)
        self.started = time.monotonic()
        self.status = None
        self.timed_out = False
        self.peak_kb, self.sampled = 0, 0.0
        if stdin is not None:
            def feed():
                try:
                    self.popen.stdin.write(stdin)
                    self.popen.stdin.close()
                except (BrokenPipeError, OSError):
                    pass
            threading.Thread(target=feed, daemon=True).start()

    @property
    def pid(self):
        return self.popen.pid

    def sample_peak(self):
        # The child's own high-water mark (ru_maxrss would include this Python process's RSS at fork).
        try:
            with open(f"/proc/{self.pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        self.peak_kb = max(self.peak_kb, int(line.split()[1]))
        except (OSError, ValueError):
            pass

    def poll(self):
        if self.status is None:
            now = time.monotonic()
            if now - self.sampled > 0.01:
                self.sampled = now
                self.sample_peak()
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
                self.popen.returncode = os.waitstatus_to_exitcode(status)
                self.ended = time.monotonic()
        return self.status

    @property
    def running(self):
        return self.poll() is None

    def send(self, sig):
        if self.running:
            os.kill(self.pid, sig)

    def wait(self, timeout=120):
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                self.timed_out = True
                os.kill(self.pid, signal.SIGKILL)
                _, self.status = os.waitpid(self.pid, 0)
                self.popen.returncode = os.waitstatus_to_exitcode(self.status)
                self.ended = time.monotonic()
                break
            time.sleep(0.005)
        return self.result()

    def result(self):
        self.out.seek(0)
        self.err.seek(0)
        return Result(self.args, self.status, self.out.read().decode("utf-8", "replace"),
                      self.err.read().decode("utf-8", "replace"), self.peak_kb,
                      self.ended - self.started, self.timed_out)


def run(args, cwd=None, stdin=None, timeout=120, limit_as=None):
    return Proc(args, cwd=cwd, stdin=stdin, limit_as=limit_as).wait(timeout)


def mlm(*args, **kwargs):
    return run([CONTEXT.binary, *args], **kwargs)


def start(*args, **kwargs):
    return Proc([CONTEXT.binary, *args], **kwargs)


def is_abort(r, signalled=False):
    """A crash: a signal (or the shell's 128+N) we did not send, or a Swift runtime failure in stderr."""
    if r.timed_out:
        return False
    crashed = r.rc is not None and (r.rc < 0 or r.rc >= 128) and not signalled
    return crashed or any(marker in r.stderr for marker in ABORT_MARKERS)


def failure(r, names, must_say=()):
    """Outcome of a command that should fail: (column, note). `names`: any one must appear in stderr."""
    if r.timed_out:
        return "other", f"timed out after {r.wall:.0f} s"
    if is_abort(r):
        return "abort/crash", f"status {r.rc}: {r.first_error_line()}"
    if r.rc == 0:
        return "silent acceptance", "status 0"
    text = r.stderr
    if "NSCocoaErrorDomain" in text:
        return "other", f"status {r.rc}, a Foundation error dump: {r.first_error_line()}"
    if names and not any(name in text for name in names):
        return "other", f"status {r.rc}, the message names none of {list(names)[:2]}: {r.first_error_line()}"
    missing = [fragment for fragment in must_say if fragment.lower() not in text.lower()]
    if missing:
        return "other", f"status {r.rc}, the message lacks {missing}: {r.first_error_line()}"
    return "clean error", None


# ---------------------------------------------------------------------------------------------- the table

class Table:
    def __init__(self):
        self.rows = collections.OrderedDict()
        self.notes, self.info = [], []
        self.samples, self.rss = collections.OrderedDict(), collections.defaultdict(int)

    def case(self, family, name, expected):
        key = (family, name)
        if key not in self.rows:
            self.rows[key] = dict(expected=expected, counts=collections.Counter())
        return key

    def add(self, key, column, note=None, result=None):
        assert column in COLUMNS, column
        self.rows[key]["counts"][column] += 1
        expected = self.rows[key]["expected"]
        if result is not None:
            self.rss[key] = max(self.rss[key], result.peak_kb)
            if column == "clean error" and key not in self.samples:
                self.samples[key] = result.first_error_line()
        if note and (column not in expected or column in ("silent acceptance", "abort/crash", "other")):
            self.notes.append(f"{key[0]}. {key[1]}: {column}: {note}")

    def markdown(self):
        work = CONTEXT.work

        def scrub(text):
            return text.replace(work, "$WORK").replace(CONTEXT.repo, "$REPO").replace("|", "\\|")

        lines = ["| # | case | trials | " + " | ".join(COLUMNS) + " | expected | peak RSS |",
                 "| --- | --- | ---: | " + " | ".join("---:" for _ in COLUMNS) + " | --- | ---: |"]
        totals = collections.Counter()
        for (family, name), row in self.rows.items():
            counts = row["counts"]
            trials = sum(counts.values())
            totals.update(counts)
            rss = self.rss[(family, name)]
            lines.append(f"| {family} | {scrub(name)} | {trials} | " + " | ".join(str(counts[c]) for c in COLUMNS)
                         + f" | {row['expected']} | " + (f"{rss / 1024:.0f} MB |" if rss else "– |"))
        lines.append(f"| | **total** | **{sum(totals.values())}** | "
                     + " | ".join(f"**{totals[c]}**" for c in COLUMNS) + " | | |")
        out = ["\n".join(lines), ""]
        out += [f"- {scrub(line)}" for line in self.info] + ([""] if self.info else [])
        out.append("**Notes** (every outcome other than the expected one, and why):\n")
        out += [f"- {scrub(note)}" for note in self.notes] or ["- none"]
        out.append("\n**One message per case** (the first clean error of each):\n")
        out += [f"- {family}. {name}: `{scrub(text).replace('`', '')}`" for (family, name), text in self.samples.items()]
        return "\n".join(out), totals


# ---------------------------------------------------------------------------------------------- file formats

def safetensors_split(plain):
    """(header dict, data start) of a plain safetensors file."""
    length = int.from_bytes(plain[:8], "little")
    return json.loads(plain[8:8 + length]), 8 + length


def safetensors_join(header, data):
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data


def crc_hex(data):
    return f"{zlib.crc32(data):08x}"


def stamp(header, data):
    """Recomputes the per-tensor and metadata CRC32 entries as mlm-adapt writes them (ContentChecksums.swift)."""
    metadata = dict(header.get("__metadata__", {}))
    table = {name: crc_hex(data[entry["data_offsets"][0]:entry["data_offsets"][1]])
             for name, entry in header.items() if name != "__metadata__"}
    metadata["tensor_crc32"] = json.dumps(dict(sorted(table.items())), separators=(",", ":"))
    metadata["metadata_crc32"] = metadata_crc(metadata)
    return {**header, "__metadata__": metadata}


def metadata_crc(metadata):
    """Over every entry but the checksum itself, in key order, each key and value NUL-terminated."""
    return crc_hex(b"".join(key.encode() + b"\0" + value.encode() + b"\0"
                            for key, value in sorted(metadata.items()) if key != "metadata_crc32"))


def unstamp(header):
    metadata = {k: v for k, v in header.get("__metadata__", {}).items() if k not in ("tensor_crc32", "metadata_crc32")}
    return {**header, "__metadata__": metadata}


def our_gzip(plain, chunk=4 << 20):
    """mlm-adapt's multi-member gzip (Gzip.swift): Huffman-only members of `chunk` bytes, each with an MA length field."""
    members = []
    for start_at in range(0, max(len(plain), 1), chunk):
        piece = plain[start_at:start_at + chunk]
        compressor = zlib.compressobj(1, zlib.DEFLATED, -15, 8, zlib.Z_HUFFMAN_ONLY)
        deflated = compressor.compress(piece) + compressor.flush()
        length = 20 + len(deflated) + 8
        header = bytes([0x1F, 0x8B, 8, 0x04, 0, 0, 0, 0, 4, 3, 8, 0, 0x4D, 0x41, 4, 0]) + struct.pack("<I", length)
        members.append(header + deflated + struct.pack("<II", zlib.crc32(piece), len(piece) & 0xFFFFFFFF))
    return b"".join(members)


def gzip_members(raw):
    """(start, end) of each member of an mlm-adapt gzip file (found through their MA length fields)."""
    members, position = [], 0
    while position < len(raw):
        length = struct.unpack_from("<I", raw, position + 16)[0]
        members.append((position, position + length))
        position += length
    return members


def vocab_span(plain):
    """Byte range of the embedded vocab's JSON string value in a plain file's header."""
    key = b'"vocab":"'
    begin = plain.index(key) + len(key)
    position = begin
    while plain[position] != 0x22:
        position += 2 if plain[position] == 0x5C else 1
    return begin, position


def verify_checkpoint(path):
    """Problems with one checkpoint file, checked independently of mlm-adapt: gzip CRCs and lengths,
    safetensors extents, stored tensor and metadata CRC32s. Returns (problems, metadata)."""
    try:
        raw = open(path, "rb").read()
        plain = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        header, data_start = safetensors_split(plain)
        data = plain[data_start:]
        metadata = header.get("__metadata__", {})
        end = 0
        for name, entry in sorted(((n, e) for n, e in header.items() if n != "__metadata__"),
                                  key=lambda item: item[1]["data_offsets"]):
            begin, stop = entry["data_offsets"]
            if begin != end:
                return [f"{name}: gap or overlap"], metadata
            end = stop
        if end != len(data):
            return [f"tensors cover {end} bytes, data has {len(data)}"], metadata
        if "tensor_crc32" in metadata:
            table = json.loads(metadata["tensor_crc32"])
            for name, entry in header.items():
                begin, stop = entry["data_offsets"] if name != "__metadata__" else (0, 0)
                if name != "__metadata__" and table.get(name) != crc_hex(data[begin:stop]):
                    return [f"{name}: tensor CRC32 mismatch"], metadata
        if "metadata_crc32" in metadata and metadata["metadata_crc32"] != metadata_crc(metadata):
            return ["metadata CRC32 mismatch"], metadata
        return [], metadata
    except Exception as error:  # any damage: gzip, JSON, struct
        return [f"unreadable ({type(error).__name__}: {str(error)[:80]})"], {}


def tensor_with_value(plain, name, index, value, checksums):
    """The plain file with element `index` of F32 tensor `name` set to `value`; checksums 'restamp' or 'strip'."""
    header, data_start = safetensors_split(plain)
    data = bytearray(plain[data_start:])
    begin = header[name]["data_offsets"][0] + 4 * index
    data[begin:begin + 4] = struct.pack("<f", value)
    header = stamp(unstamp(header), bytes(data)) if checksums == "restamp" else unstamp(header)
    return safetensors_join(header, bytes(data))


# ---------------------------------------------------------------------------------------------- setup

class Context:
    pass


CONTEXT = Context()


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as out:
        out.write(data if isinstance(data, bytes) else data.encode())
    return path


def fresh(*parts):
    path = os.path.join(CONTEXT.work, *parts)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def config_json(vocab_size, sizes):
    return json.dumps(dict(vocab_size=vocab_size, type_vocab_size=2, hidden_act="gelu", layer_norm_eps=1e-12,
                           initializer_range=0.02, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                           model_type="bert", pad_token_id=0, **sizes), indent=1)


def must(result, what):
    if result.rc != 0:
        sys.exit(f"setup failed ({what}): status {result.rc}\n{result.stderr[-3000:]}")
    return result


def run_args(model, output, steps, save_every, extra=()):
    """adapt from scratch on the tiny legal corpus; `model` is 'tiny' or 'small'."""
    vocab, config = CONTEXT.models[model]
    return ["--vocab", vocab, "--config", config, "--corpus", CONTEXT.corpus, "--validation-split", "0.1",
            "--max-seq-length", "32", "--batch-size", "4", "--max-steps", str(steps), "--schedule", "constant",
            "--warmup", "0", "--eval-every", "0", "--eval-batches", "1", "--save-every", str(save_every),
            "--threads", "1", "--output-dir", output, *extra]


def setup():
    setup_dir = fresh("setup")
    CONTEXT.corpus = os.path.join(CONTEXT.repo, "Tests/Fixtures/training/legal-tiny.txt")
    tiny_vocab = os.path.join(setup_dir, "tiny-vocab.txt")
    must(mlm("vocab", "--corpus", CONTEXT.corpus, "--size", "400", "--out", tiny_vocab), "vocab")
    tiny_count = sum(1 for _ in open(tiny_vocab, encoding="utf-8"))
    big_vocab = os.path.join(CONTEXT.repo, "Vocab/bert-base-uncased.txt")
    big_count = sum(1 for _ in open(big_vocab, encoding="utf-8"))
    CONTEXT.models = {
        "tiny": (tiny_vocab, write(os.path.join(setup_dir, "tiny-config.json"), config_json(tiny_count, TINY_CONFIG))),
        "small": (big_vocab, write(os.path.join(setup_dir, "small-config.json"), config_json(big_count, SMALL_CONFIG))),
    }
    # A tiny run (6 steps, saves at 2, 4, 6) and a small one (4 MiB gzip members: several per file).
    CONTEXT.tiny_run = os.path.join(setup_dir, "tiny-run")
    must(mlm(*run_args("tiny", CONTEXT.tiny_run, 6, 2, ["--keep-last", "3", "--seed", "1"])), "tiny run")
    CONTEXT.tiny_run_b = os.path.join(setup_dir, "tiny-run-b")
    must(mlm(*run_args("tiny", CONTEXT.tiny_run_b, 6, 2, ["--keep-last", "3", "--seed", "2"])), "second tiny run")
    small_run = os.path.join(setup_dir, "small-run")
    must(mlm(*run_args("small", small_run, 2, 2, ["--seed", "1"])), "small run")
    CONTEXT.small_gz = os.path.join(small_run, "step-2.safetensors.gz")
    CONTEXT.small_optimizer_bytes = os.path.getsize(os.path.join(small_run, "step-2.optimizer.safetensors.gz"))
    CONTEXT.small_save_bytes = os.path.getsize(CONTEXT.small_gz) + CONTEXT.small_optimizer_bytes
    CONTEXT.tiny_hf = os.path.join(setup_dir, "tiny-hf")
    must(mlm("export", "--checkpoint", CONTEXT.tiny_run, "--to", CONTEXT.tiny_hf), "export tiny")
    CONTEXT.task = write(os.path.join(setup_dir, "task.tsv"),
                         "text\tlabel\n" + "".join(f"the licensee shall keep copy {i}\ta\nthe licensor may end it {i}\tb\n"
                                                   for i in range(4)))
    log(f"setup: tiny vocab {tiny_count} tokens, small checkpoint {os.path.getsize(CONTEXT.small_gz)} bytes "
        f"({len(gzip_members(open(CONTEXT.small_gz, 'rb').read()))} gzip members)")


# ---------------------------------------------------------------------------------------------- 1. corrupted checkpoints

LOADERS = ("fill-mask", "inspect", "evaluate")


def load_command(loader, path):
    if loader == "fill-mask":
        return ["fill-mask", "--checkpoint", path, "--json", "--threads", "1", FILL_TEXT]
    if loader == "inspect":
        return ["inspect", path]
    return ["evaluate", "--checkpoint", path, "--corpus", CONTEXT.corpus, "--eval-batches", "1", "--json", "--threads", "1"]


def export_files(path, folder):
    """The HF export of a checkpoint, file name → bytes (None when export refuses it)."""
    shutil.rmtree(folder, ignore_errors=True)
    if mlm("export", "--checkpoint", path, "--to", folder).rc != 0:
        return None
    return {name: open(os.path.join(folder, name), "rb").read() for name in sorted(os.listdir(folder))}


def family_corrupted_checkpoints(table, rng):
    base_gz = open(CONTEXT.small_gz, "rb").read()
    base_plain = gzip.decompress(base_gz)
    baseline_dir = fresh("f1", "baseline")
    baseline = export_files(CONTEXT.small_gz, os.path.join(baseline_dir, "export"))
    for loader in LOADERS:
        must(mlm(*load_command(loader, CONTEXT.small_gz)), f"baseline {loader}")
    header, data_start = safetensors_split(base_plain)
    vocab_begin, vocab_end = vocab_span(base_plain)
    members = gzip_members(base_gz)
    expected = "clean error or harmless"

    def regzip(plain):
        # Half in mlm-adapt's own multi-member format (the indexed reader), half as Python's gzip writes it.
        return our_gzip(plain) if rng.random() < 0.5 else gzip.compress(plain, 1)

    def flip(data, begin, end):
        data = bytearray(data)
        data[rng.randrange(begin, end)] ^= 1 << rng.randrange(8)
        return bytes(data)

    def trial(case, damaged, name, plain_content=None):
        key = table.case(1, case, expected)
        folder = fresh("f1", "trial")
        path = write(os.path.join(folder, name), damaged)
        loader = rng.choice(LOADERS)
        r = mlm(*load_command(loader, path), timeout=60)
        if r.rc != 0 or r.timed_out:
            column, note = failure(r, [path, name])
            table.add(key, column, note and f"{loader}: {note}", r)
            return
        # Accepted: harmless only if it is the same model as the undamaged file.
        content = plain_content
        if content is None:
            try:
                content = gzip.decompress(damaged) if damaged[:2] == b"\x1f\x8b" else damaged
            except Exception:
                content = None
        if content == base_plain or export_files(path, os.path.join(folder, "export")) == baseline:
            table.add(key, "ok/harmless", None, r)
        else:
            table.add(key, "silent acceptance", f"{loader} accepted {name} with different content", r)

    gz, plain = "model.safetensors.gz", "model.safetensors"
    for _ in range(16):
        trial(".gz: truncated at a random byte", base_gz[:rng.randrange(len(base_gz))], gz)
    for _ in range(16):
        begin, end = members[rng.randrange(len(members))]
        trial(".gz: bit flip in a member's deflate data", flip(base_gz, begin + 20, end - 8), gz)
    for _ in range(12):
        begin, end = members[rng.randrange(len(members))]
        offsets = list(range(begin, begin + 20)) + list(range(end - 8, end))
        position = rng.choice(offsets)
        trial(".gz: bit flip in a member's header or trailer", flip(base_gz, position, position + 1), gz)
    for _ in range(12):
        regions = [(0, vocab_begin), (vocab_end, data_start)]
        begin, end = rng.choice(regions)
        trial(".gz: bit flip in the safetensors header (re-gzipped)", regzip(flip(base_plain, begin, end)), gz)
    for _ in range(12):
        trial(".gz: bit flip in tensor data (re-gzipped)", regzip(flip(base_plain, data_start, len(base_plain))), gz)
    for _ in range(10):
        trial(".gz: bit flip in the embedded vocab (re-gzipped)", regzip(flip(base_plain, vocab_begin, vocab_end)), gz)
    for index, (begin, end) in enumerate(members):
        damaged = bytearray(base_gz)
        damaged[end - 4:end] = b"\xff\xff\xff\xff"
        trial(".gz: a member's ISIZE forged to 4 GiB", bytes(damaged), gz)
    for _ in range(4):
        begin, end = members[rng.randrange(len(members))]
        damaged = bytearray(base_gz)
        damaged[end - 4:end] = struct.pack("<I", rng.randrange(1 << 32))
        trial(".gz: a member's ISIZE set to a random value", bytes(damaged), gz)
    if CONTEXT.minilm_gz:
        raw = open(CONTEXT.minilm_gz, "rb").read()
        for index, (begin, end) in enumerate(gzip_members(raw)):
            damaged = bytearray(raw)
            damaged[end - 4:end] = b"\xff\xff\xff\xff"
            trial("MiniLM .gz (22 members): one member's ISIZE forged to 4 GiB", bytes(damaged), gz, plain_content=b"")
        damaged = bytearray(raw)
        for begin, end in gzip_members(raw):
            damaged[end - 4:end] = b"\xff\xff\xff\xff"
        trial("MiniLM .gz (22 members): every member's ISIZE forged to 4 GiB", bytes(damaged), gz, plain_content=b"")

    def crafted(shape, offsets, pad=0, dtype="F32"):
        header_text = json.dumps({"w": {"dtype": dtype, "shape": shape, "data_offsets": offsets},
                                  "__metadata__": {"format": "pt", "pad": " " * pad}}, separators=(",", ":")).encode()
        return len(header_text).to_bytes(8, "little") + header_text + bytes(64)

    crafted_cases = [
        ("a header claiming 2^40 floats", crafted([1 << 40], [0, 4 << 40])),
        ("a header claiming 2^34 floats (64 GiB)", crafted([1 << 34], [0, 4 << 34])),
        ("a header claiming 5e8 floats (2 GB)", crafted([500_000_000], [0, 2_000_000_000])),
        ("a shape whose byte count overflows Int64", crafted([1 << 62], [0, 64])),
        ("data_offsets near Int64.max", crafted([(1 << 61) - 256], [0, (1 << 63) - 1024], pad=1100)),
        ("a shape product that overflows", crafted([1 << 32, 1 << 32], [0, 64])),
        ("a negative dimension", crafted([-16], [0, 64])),
        ("a header length field of 2^63", (1 << 63).to_bytes(8, "little") + b"{}"),
        ("a header length past the end of the file", (4096).to_bytes(8, "little") + b"{}      "),
    ]
    for description, data in crafted_cases:
        trial(f"crafted .gz: {description}", gzip.compress(data), gz)
        trial(f"crafted plain: {description}", data, plain)

    for _ in range(12):
        trial("plain: truncated at a random byte", base_plain[:rng.randrange(len(base_plain))], plain)
    for _ in range(12):
        begin, end = rng.choice([(0, vocab_begin), (vocab_end, data_start)])
        trial("plain: bit flip in the header", flip(base_plain, begin, end), plain)
    for _ in range(12):
        trial("plain: bit flip in tensor data", flip(base_plain, data_start, len(base_plain)), plain)
    for _ in range(6):
        trial("plain: bit flip in the embedded vocab", flip(base_plain, vocab_begin, vocab_end), plain)
    # A file from a writer without checksums: a joined or split vocab line must still be caught (by the count).
    tokens = header["__metadata__"]["vocab"].split("\n")
    for operation in ("join", "split", "join", "split"):
        edited = list(tokens)
        at = rng.randrange(1000, len(tokens) - 2)
        if operation == "join":
            edited[at:at + 2] = [edited[at] + edited[at + 1]]
        else:
            edited[at:at + 1] = [edited[at][:1], edited[at][1:] or "x"]
        changed = unstamp(header)
        changed["__metadata__"]["vocab"] = "\n".join(edited)
        trial("no checksums: a vocab line joined or split", regzip(safetensors_join(changed, base_plain[data_start:])), gz)


# ---------------------------------------------------------------------------------------------- 2. SIGKILL during saves

def run_folder_problems(folder, previous_step):
    """What is wrong with a run folder after a crash: `latest` and every file under a final name must be whole,
    the optimizer sibling of `latest` from the same save, and no checkpoint older than one already saved."""
    problems = []
    pointer = os.path.join(folder, "latest")
    if not os.path.exists(pointer):
        return (["latest is missing"] if previous_step is not None else []), previous_step
    name = open(pointer).read().strip()
    match = re.fullmatch(r"step-(\d+)\.safetensors\.gz", name)
    if not match or not os.path.exists(os.path.join(folder, name)):
        return [f"latest names {name!r}, which is not a checkpoint here"], previous_step
    step = int(match.group(1))
    if previous_step is not None and step < previous_step:
        problems.append(f"latest went back from step {previous_step} to {step}")
    for entry in sorted(os.listdir(folder)):
        if re.fullmatch(r"step-\d+(\.optimizer)?\.safetensors\.gz", entry):
            issues, _ = verify_checkpoint(os.path.join(folder, entry))
            problems += [f"{entry}: {issue}" for issue in issues]
    _, model = verify_checkpoint(os.path.join(folder, name))
    optimizer_path = os.path.join(folder, name.replace(".safetensors.gz", ".optimizer.safetensors.gz"))
    if not os.path.exists(optimizer_path):
        problems.append(f"{name} has no optimizer sibling")
    else:
        _, optimizer = verify_checkpoint(optimizer_path)
        if model.get("save_id") != optimizer.get("save_id"):
            problems.append(f"{name} and its optimizer sibling come from different saves")
    r = mlm("inspect", "--no-tensors", folder, timeout=60)
    if r.rc != 0:
        problems.append(f"inspect refuses the folder: {r.first_error_line()}")
    return problems, step


def wait_for(proc, condition, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.running:
        if condition():
            return True
        time.sleep(0.002)
    return False


def saving(folder, pid):
    marker = f".tmp-{pid}"
    return lambda: os.path.isdir(folder) and any(marker in name for name in os.listdir(folder))


def family_sigkill(table, rng, chains=7, kills=10):
    folder_case = table.case(2, "SIGKILL during an adapt run with a save every step: the folder after the kill", "ok")
    resume_case = table.case(2, "--resume after each SIGKILL (the next process of the chain)", "ok")
    final_case = table.case(2, "end of a chain: SIGINT, then no leftover temporaries or orphan optimizer files", "ok")
    in_save = 0
    for chain in range(chains):
        folder = os.path.join(fresh("f2", f"chain-{chain}"), "run")
        previous = None
        proc = start(*run_args("small", folder, 100_000, 1, ["--keep-last", "1", "--seed", str(chain)]))
        for kill in range(kills + 1):
            if kill > 0:
                proc = start("--resume", folder, "--threads", "1")
            during_save = kill == 0 or rng.random() < 0.6
            if during_save:
                if kill == 0:
                    wait_for(proc, lambda: os.path.exists(os.path.join(folder, "latest")), 60)
                seen = wait_for(proc, saving(folder, proc.pid), 30)
                time.sleep(rng.uniform(0, 0.04))
            else:
                seen = True
                wait_for(proc, lambda: False, rng.uniform(0.2, 3.0))
            if kill > 0:
                if not proc.running:
                    r = proc.result()
                    column, note = failure(r, [folder])
                    table.add(resume_case, "other" if column == "silent acceptance" else column,
                              note if column != "silent acceptance" else "the resume ended on its own with status 0", r)
                else:
                    table.add(resume_case, "ok/harmless" if seen else "other",
                              None if seen else "no save within 30 s of the resume starting")
            if kill == kills:
                break
            if not proc.running:
                # The resume failed: the chain goes on from a fresh run in a new folder.
                folder = os.path.join(fresh("f2", f"chain-{chain}-{kill}"), "run")
                previous = None
                proc = start(*run_args("small", folder, 100_000, 1, ["--keep-last", "1", "--seed", str(chain)]))
                wait_for(proc, lambda: os.path.exists(os.path.join(folder, "latest")), 60)
            in_save += saving(folder, proc.pid)()
            proc.send(signal.SIGKILL)
            proc.wait(30)
            problems, previous = run_folder_problems(folder, previous)
            table.add(folder_case, "other" if problems else "ok/harmless", "; ".join(problems) or None)
        # The last resume is stopped the friendly way: it saves, and the next save's clean-up has run.
        wait_for(proc, saving(folder, proc.pid), 30)
        proc.send(signal.SIGINT)
        r = proc.wait(60)
        problems, _ = run_folder_problems(folder, previous)
        leftovers = [name for name in os.listdir(folder) if ".tmp-" in name]
        orphans = [name for name in os.listdir(folder) if name.endswith(".optimizer.safetensors.gz")
                   and not os.path.exists(os.path.join(folder, name.replace(".optimizer", "")))]
        if r.rc != 128 + signal.SIGINT:
            problems.append(f"status {r.rc} after SIGINT: {r.first_error_line()}")
        if leftovers or orphans:
            problems.append(f"left behind: {leftovers + orphans}")
        table.add(final_case, "abort/crash" if is_abort(r, signalled=True) else ("other" if problems else "ok/harmless"),
                  "; ".join(problems) or None, r)
        log(f"  chain {chain + 1}/{chains} done")
    table.info.append(f"2. {in_save} of the {chains * kills} SIGKILLs arrived while the victim had a `.tmp-PID` file "
                      "open (writing, fsyncing or renaming a checkpoint file); the others at random times.")


# ---------------------------------------------------------------------------------------------- 3. one folder, two runs

def seeds_in(folder):
    seeds = set()
    for name in os.listdir(folder):
        if re.fullmatch(r"step-\d+\.safetensors\.gz", name):
            _, metadata = verify_checkpoint(os.path.join(folder, name))
            if "run_args" in metadata:
                seeds.add(json.loads(metadata["run_args"]).get("seed"))
    return seeds


def train_lines(folder):
    metrics = os.path.join(folder, "metrics.jsonl")
    return open(metrics).read().count('"type":"train"') if os.path.exists(metrics) else 0


def stop_soon(proc, folder):
    """SIGINT once the run has logged a new training step (so it trains, and its handler is installed)."""
    before = train_lines(folder)
    wait_for(proc, lambda: train_lines(folder) > before, 60)
    proc.send(signal.SIGINT)
    return proc.wait(60)


def family_two_runs(table, rng):
    key = table.case(3, "a second run on a folder in use (started at once, or while the first trains)", "clean error")
    for trial in range(6):
        folder = os.path.join(fresh("f3", f"concurrent-{trial}"), "run")
        first = start(*run_args("tiny", folder, 100_000, 0, ["--seed", "1"]))
        if trial % 2:
            wait_for(first, lambda: os.path.exists(os.path.join(folder, "metrics.jsonl")), 30)
            time.sleep(0.5)
        else:
            time.sleep(rng.uniform(0, 0.05))
        second = start(*run_args("tiny", folder, 100_000, 0, ["--seed", "2"]))
        wait_for(second, lambda: False, 5)
        wait_for(first, lambda: False, 0.5)
        runners = [p for p in (first, second) if p.running]
        refused = [p for p in (first, second) if not p.running]
        if len(runners) == 2:
            table.add(key, "silent acceptance", "both runs train in one folder")
        elif len(runners) == 1 and len(refused) == 1:
            r = refused[0].result()
            column, note = failure(r, [f"another run (pid {runners[0].pid})"])
            table.add(key, column, note, r)
        else:
            r = refused[0].result()
            table.add(key, "abort/crash" if is_abort(r) else "other", f"neither run is running: {r.first_error_line()}", r)
        for p in runners:
            p.send(signal.SIGINT)
            p.wait(60)

    key = table.case(3, "a new run into a folder holding a finished run: plain / --overwrite / --resume",
                     "clean error (plain), ok (the others)")
    folder = os.path.join(fresh("f3", "held"), "run")
    shutil.copytree(CONTEXT.tiny_run, folder)
    before = {name: open(os.path.join(folder, name), "rb").read() for name in os.listdir(folder)
              if os.path.isfile(os.path.join(folder, name))}
    r = mlm(*run_args("tiny", folder, 2, 1, ["--seed", "9"]))
    column, note = failure(r, [folder], must_say=["already holds a run"])
    after = {name: open(os.path.join(folder, name), "rb").read() for name in os.listdir(folder)
             if os.path.isfile(os.path.join(folder, name)) and name != ".lock"}
    if column == "clean error" and any(before.get(name) != data for name, data in after.items()):
        column, note = "other", "refused, but the old run's files changed"
    table.add(key, column, note, r)
    r = mlm(*run_args("tiny", folder, 2, 1, ["--seed", "9", "--overwrite", "--keep-last", "1"]))
    names = sorted(n for n in os.listdir(folder) if n.startswith("step-"))
    metrics = open(os.path.join(folder, "metrics.jsonl")).read().count('"type":"train"')
    good = r.rc == 0 and names == ["step-2.optimizer.safetensors.gz", "step-2.safetensors.gz"] and metrics == 2 \
        and seeds_in(folder) == {9}
    table.add(key, "ok/harmless" if good else ("abort/crash" if is_abort(r) else "other"),
              None if good else f"--overwrite: status {r.rc}, files {names}, {metrics} train lines", r)
    extended = os.path.join(fresh("f3", "held-resume"), "run")
    shutil.copytree(CONTEXT.tiny_run, extended)
    r = mlm("--resume", os.path.join(extended, "step-4.safetensors.gz"), "--threads", "1")
    good = r.rc == 0 and open(os.path.join(extended, "latest")).read().strip() == "step-6.safetensors.gz"
    table.add(key, "ok/harmless" if good else ("abort/crash" if is_abort(r) else "other"),
              None if good else f"--resume: status {r.rc}: {r.first_error_line()}", r)

    key = table.case(3, "double kill: two runs (the second with --overwrite) on one folder, both SIGKILLed, then --resume",
                     "ok")
    for trial in range(10):
        folder = os.path.join(fresh("f3", f"double-{trial}"), "run")
        first = start(*run_args("tiny", folder, 100_000, 1, ["--seed", "1", "--keep-last", "2"]))
        wait_for(first, lambda: False, rng.uniform(0, 1.0))
        second = start(*run_args("tiny", folder, 100_000, 1, ["--seed", "2", "--keep-last", "2", "--overwrite"]))
        kill_first, kill_second = rng.uniform(0.3, 2.5), rng.uniform(0.3, 2.5)
        for proc, delay in sorted(((first, kill_first), (second, kill_second)), key=lambda item: item[1]):
            wait_for(proc, lambda: False, max(0.0, delay - (time.monotonic() - proc.started)))
            proc.send(signal.SIGKILL)
            proc.wait(30)
        problems = []
        if os.path.exists(os.path.join(folder, "latest")):
            issues, _ = run_folder_problems(folder, None)
            problems += issues
            if len(seeds_in(folder)) > 1:
                problems.append(f"checkpoints of both runs in one folder (seeds {sorted(seeds_in(folder))})")
            resumed = start("--resume", folder, "--threads", "1")
            r = stop_soon(resumed, folder)
            if is_abort(r, signalled=True):
                table.add(key, "abort/crash", f"--resume: status {r.rc}: {r.first_error_line()}", r)
                continue
            if r.rc not in (0, 128 + signal.SIGINT):
                column, note = failure(r, [folder])
                if not problems and column == "clean error":
                    problems.append(f"--resume refused a consistent folder: {r.first_error_line()}")
        table.add(key, "other" if problems else "ok/harmless", "; ".join(problems) or None)

    key = table.case(3, "--resume with a wrong optimizer sibling (another run's, another step's, none)", "clean error")
    for variant in ("another run", "another step", "missing"):
        folder = os.path.join(fresh("f3", f"sibling-{variant.replace(' ', '-')}"), "run")
        shutil.copytree(CONTEXT.tiny_run, folder)
        sibling = os.path.join(folder, "step-4.optimizer.safetensors.gz")
        if variant == "another run":
            shutil.copy(os.path.join(CONTEXT.tiny_run_b, "step-4.optimizer.safetensors.gz"), sibling)
        elif variant == "another step":
            shutil.copy(os.path.join(folder, "step-2.optimizer.safetensors.gz"), sibling)
        else:
            os.remove(sibling)
        r = mlm("--resume", os.path.join(folder, "step-4.safetensors.gz"), "--threads", "1")
        column, note = failure(r, [sibling])
        table.add(key, column, note, r)


# ---------------------------------------------------------------------------------------------- 4. disk full

def family_disk_full(table, rng):
    key = table.case(4, "disk full (tmpfs output folder) during a save: error, previous checkpoint kept, "
                        "no partial files, resume after freeing space", "clean error")
    if os.geteuid() != 0:
        table.notes.append("4. disk full: skipped (not root: cannot mount tmpfs)")
        return
    save, share = CONTEXT.small_save_bytes, CONTEXT.small_optimizer_bytes / CONTEXT.small_save_bytes
    # The space runs out in the optimizer file or in the model file, of the first save or of the second.
    fractions = [rng.uniform(0.1, share - 0.05), rng.uniform(share + 0.05, 0.95),
                 rng.uniform(1.05, 1 + share - 0.05), rng.uniform(1.05, 1 + share - 0.05),
                 rng.uniform(1 + share + 0.05, 1.95), rng.uniform(1 + share + 0.05, 1.95)]
    for trial, fraction in enumerate(fractions):
        mount = fresh("f4", f"mnt-{trial}")
        size_kb = int(save * fraction / 1024) + 64
        if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", mount]).returncode != 0:
            table.notes.append("4. disk full: skipped (mount -t tmpfs failed)")
            return
        try:
            folder = os.path.join(mount, "run")
            r = mlm(*run_args("small", folder, 6, 2, ["--keep-last", "1", "--seed", "3"]), timeout=300)
            first_save_fits = fraction > 1
            column, note = failure(r, [folder], must_say=["space"])
            problems = []
            if column == "clean error":
                issues, step = run_folder_problems(folder, 2 if first_save_fits else None)
                problems += issues
                leftovers = [n for n in os.listdir(folder) if ".tmp-" in n or (
                    n.endswith(".optimizer.safetensors.gz") and not os.path.exists(os.path.join(folder, n.replace(".optimizer", ""))))]
                if leftovers:
                    problems.append(f"left behind after the failed save: {leftovers}")
                subprocess.run(["mount", "-o", f"remount,size={int(save * 4 / 1024)}k", mount], check=True)
                if first_save_fits:
                    resumed = mlm("--resume", folder, "--threads", "1", timeout=300)
                    if resumed.rc != 0 or open(os.path.join(folder, "latest")).read().strip() != "step-6.safetensors.gz":
                        problems.append(f"resume after freeing space: status {resumed.rc}: {resumed.first_error_line()}")
            table.add(key, "other" if problems else column, "; ".join(problems) or note, r)
            failed = re.search(r"(step-\d+[.\w]*): (\w+ failed)", r.stderr)
            table.info.append(f"4. tmpfs of {size_kb >> 10} MiB ({fraction:.2f} saves): "
                              + (f"{failed.group(2)} for {failed.group(1)}" if failed else r.first_error_line()))
        finally:
            subprocess.run(["umount", mount])


# ---------------------------------------------------------------------------------------------- 5. untrusted sizes

def family_sizes(table, rng):
    key = table.case(5, "sizes from options (batch, sequence, top-k, iterations, vocab size)", "clean error or ok")
    tiny_vocab = CONTEXT.models["tiny"][0]
    out = fresh("f5")
    scratch = lambda name, *extra: [*run_args("tiny", os.path.join(out, name), 2, 0, ["--seed", "1"]), *extra]
    cases = [
        ("adapt --batch-size 100000", scratch("a", "--batch-size", "100000", "--max-seq-length", "64"), "--batch-size"),
        ("adapt --batch-size 2^63-1", scratch("b", "--batch-size", str((1 << 63) - 1)), "--batch-size"),
        ("adapt (MiniLM) --batch-size 100000", ["--init", CONTEXT.minilm, "--corpus", CONTEXT.corpus, "--max-steps", "1",
                                                "--batch-size", "100000", "--threads", "1", "--output-dir",
                                                os.path.join(out, "c")], "--batch-size"),
        ("adapt --max-seq-length 4096 (model: 64 positions)", scratch("d", "--max-seq-length", "4096"), "--max-seq-length"),
        ("adapt --max-seq-length 100000000", scratch("e", "--max-seq-length", "100000000"), "--max-seq-length"),
        ("adapt --eval-batches 10^12", scratch("f", "--eval-batches", str(10 ** 12)), "--eval-batches"),
        ("adapt --grad-accum 10^12", scratch("g", "--grad-accum", str(10 ** 12)), "--grad-accum"),
        ("adapt --threads 100000", scratch("h", "--threads", "100000"), "--threads"),
        ("adapt --max-steps 10^15 --save-every 10^15 --keep-last 10^15",
         [*run_args("tiny", os.path.join(out, "i"), 10 ** 15, 10 ** 15, ["--keep-last", str(10 ** 15)])], "--max-steps"),
        ("evaluate --batch-size 100000", ["evaluate", "--checkpoint", CONTEXT.tiny_run, "--corpus", CONTEXT.corpus,
                                          "--batch-size", "100000", "--max-seq-length", "64", "--threads", "1"], "--batch-size"),
        ("fill-mask --top-k 10^9", ["fill-mask", "--checkpoint", CONTEXT.tiny_run, "--top-k", str(10 ** 9), "--threads", "1",
                                    "the [MASK] is"], "--top-k"),
        ("embed --batch-size 100000", ["embed", "--checkpoint", CONTEXT.tiny_run, "--batch-size", "100000", CONTEXT.corpus],
         "--batch-size"),
        ("embed --max-seq-length 100000", ["embed", "--checkpoint", CONTEXT.tiny_run, "--max-seq-length", "100000",
                                           CONTEXT.corpus], "--max-seq-length"),
        ("classify --batch-size 100000", ["classify", "--init", CONTEXT.tiny_run, "--train", CONTEXT.task, "--validation",
                                          CONTEXT.task, "--epochs", "1", "--batch-size", "100000", "--max-seq-length", "64",
                                          "--threads", "1", "--no-save", "--output-dir", os.path.join(out, "j")], "--batch-size"),
        ("classify --max-seq-length 100000", ["classify", "--init", CONTEXT.tiny_run, "--train", CONTEXT.task,
                                              "--validation", CONTEXT.task, "--epochs", "1", "--max-seq-length", "100000",
                                              "--threads", "1", "--no-save", "--output-dir", os.path.join(out, "k")],
         "--max-seq-length"),
        ("setfit --num-iterations 10^9", ["setfit", "--init", CONTEXT.tiny_hf, "--train", CONTEXT.task, "--validation",
                                          CONTEXT.task, "--samples-per-class", "2", "--num-iterations", str(10 ** 9),
                                          "--max-seq-length", "32", "--threads", "1", "--no-save", "--output-dir",
                                          os.path.join(out, "l")], "--num-iterations"),
        ("setfit --samples-per-class 10^9", ["setfit", "--init", CONTEXT.tiny_hf, "--train", CONTEXT.task,
                                             "--validation", CONTEXT.task, "--samples-per-class", str(10 ** 9),
                                             "--threads", "1", "--no-save", "--output-dir", os.path.join(out, "m")],
         "--samples-per-class"),
        ("vocab --size 10^12", ["vocab", "--corpus", CONTEXT.corpus, "--size", str(10 ** 12), "--out",
                                os.path.join(out, "v.txt")], "--size"),
        ("vocab --extend --add 10^12", ["vocab", "--extend", tiny_vocab, "--corpus", CONTEXT.corpus, "--add", str(10 ** 12),
                                        "--out", os.path.join(out, "w.txt")], "--add"),
    ]
    for name, arguments, option in cases:
        if CONTEXT.minilm_gz is None and CONTEXT.minilm in arguments:
            continue
        proc = start(*arguments)
        # A value taken as given may start a long run: that is fine if it runs and stops on Ctrl-C.
        wait_for(proc, lambda: False, 15)
        interrupted = proc.running
        proc.send(signal.SIGINT)
        r = proc.wait(60)
        if r.rc == 0 or (interrupted and r.rc == 128 + signal.SIGINT):
            table.add(key, "ok/harmless", None, r)
        elif interrupted and not is_abort(r, signalled=True):
            table.add(key, "other", f"{name}: still busy after 15 s and ended by SIGINT with status {r.rc}", r)
        else:
            column, note = failure(r, [option])
            table.add(key, column, note and f"{name}: {note}", r)

    key = table.case(5, "sizes from an HF folder's config.json (layers, hidden, vocab, positions, heads)", "clean error")
    sizes = [("num_hidden_layers", 1_000_000), ("hidden_size", 1 << 20), ("vocab_size", 10 ** 9),
             ("intermediate_size", 10 ** 9), ("max_position_embeddings", 10 ** 9), ("type_vocab_size", 10 ** 9),
             ("vocab_size", 10 ** 18), ("num_attention_heads", 0), ("hidden_size", 33), ("num_hidden_layers", -1)]
    base = json.load(open(os.path.join(CONTEXT.tiny_hf, "config.json")))
    for field, value in sizes:
        folder = os.path.join(fresh("f5", f"config-{field}-{value}"), "model")
        shutil.copytree(CONTEXT.tiny_hf, folder)
        write(os.path.join(folder, "config.json"), json.dumps({**base, field: value}))
        r = mlm("fill-mask", "--checkpoint", folder, "--threads", "1", "the [MASK] is", timeout=90)
        column, note = failure(r, ["config.json", folder])
        table.add(key, column, note and f"{field} {value}: {note}", r)


# ---------------------------------------------------------------------------------------------- 6. non-finite numbers

def family_numbers(table, rng):
    key = table.case(6, "NaN or Inf in a checkpoint (checksums recomputed, or none): resume, init, load, export", "clean error")
    model_name = "bert.encoder.layer.0.attention.self.query.weight"
    cases = [
        ("model", float("nan"), "restamp", "resume"), ("model", float("inf"), "strip", "resume"),
        ("model", float("-inf"), "restamp", "resume"), ("model", float("nan"), "restamp", "init"),
        ("model", float("nan"), "restamp", "fill-mask"), ("model", float("nan"), "strip", "evaluate"),
        ("model", float("nan"), "restamp", "export"), ("model", float("nan"), "restamp", "classify"),
        ("optimizer", float("nan"), "restamp", "resume"), ("optimizer", float("inf"), "strip", "resume"),
    ]
    for index, (which, value, checksums, command) in enumerate(cases):
        folder = os.path.join(fresh("f6", f"case-{index}"), "run")
        shutil.copytree(CONTEXT.tiny_run, folder)
        model = os.path.join(folder, "step-4.safetensors.gz")
        target = model if which == "model" else os.path.join(folder, "step-4.optimizer.safetensors.gz")
        plain = gzip.decompress(open(target, "rb").read())
        tensor = model_name if which == "model" else next(
            n for n in safetensors_split(plain)[0] if n.startswith("exp_avg_sq."))
        write(target, our_gzip(tensor_with_value(plain, tensor, 3, value, checksums)))
        out = os.path.join(os.path.dirname(folder), "out")
        arguments = {
            "resume": ["--resume", model, "--threads", "1"],
            "init": ["--init", model, "--corpus", CONTEXT.corpus, "--max-steps", "2", "--max-seq-length", "32",
                     "--threads", "1", "--output-dir", out],
            "fill-mask": ["fill-mask", "--checkpoint", model, "--threads", "1", "the [MASK] is"],
            "evaluate": ["evaluate", "--checkpoint", model, "--corpus", CONTEXT.corpus, "--threads", "1"],
            "export": ["export", "--checkpoint", model, "--to", out],
            "classify": ["classify", "--init", model, "--train", CONTEXT.task, "--validation", CONTEXT.task, "--epochs",
                         "1", "--max-seq-length", "32", "--threads", "1", "--no-save", "--output-dir", out],
        }[command]
        r = mlm(*arguments, timeout=90)
        column, note = failure(r, [tensor], must_say=["non-finite"])
        if r.rc == 0 and os.path.exists(os.path.join(folder, "latest")):
            note = f"{note}; latest now {open(os.path.join(folder, 'latest')).read().strip()}"
        table.add(key, column, note and f"{which} {value} ({checksums}) {command}: {note}", r)


# ---------------------------------------------------------------------------------------------- 7. signals

def family_signals(table, rng):
    key = table.case(7, "SIGHUP / SIGINT / SIGTERM during adapt: a checkpoint at the step reached, then --resume", "ok")
    trials = [(s, False) for s in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM) for _ in range(3)]
    trials += [(s, True) for s in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM)]
    for index, (sig, during_save) in enumerate(trials):
        folder = os.path.join(fresh("f7", f"signal-{index}"), "run")
        model = "small" if during_save else "tiny"
        proc = start(*run_args(model, folder, 100_000, 1 if during_save else 0, ["--seed", "1", "--keep-last", "2"]))
        if during_save:
            wait_for(proc, saving(folder, proc.pid), 60)
        else:
            wait_for(proc, lambda: train_lines(folder) >= 3, 60)
            time.sleep(rng.uniform(0, 0.3))
        proc.send(sig)
        r = proc.wait(60)
        problems = []
        if r.rc != 128 + sig:
            problems.append(f"status {r.rc} (expected {128 + sig}): {r.first_error_line()}")
        if "resume with: mlm-adapt --resume" not in r.stderr:
            problems.append("no resume hint")
        steps = train_lines(folder)
        issues, step = run_folder_problems(folder, steps)
        problems += issues
        if step != steps:
            problems.append(f"latest is step {step}, the run trained {steps} steps")
        resumed = stop_soon(start("--resume", folder, "--threads", "1"), folder)
        if resumed.rc != 128 + signal.SIGINT:
            problems.append(f"--resume: status {resumed.rc}: {resumed.first_error_line()}")
        aborted = is_abort(r, signalled=True) or is_abort(resumed, signalled=True)
        table.add(key, "abort/crash" if aborted else ("other" if problems else "ok/harmless"),
                  f"signal {sig}{' during a save' if during_save else ''}: " + "; ".join(problems) if problems else None, r)

    key = table.case(7, "two SIGINTs 20-200 ms apart (an impatient Ctrl-C): the folder stays whole", "ok")
    for index in range(3):
        folder = os.path.join(fresh("f7", f"twice-{index}"), "run")
        proc = start(*run_args("small", folder, 100_000, 1, ["--seed", "1", "--keep-last", "1"]))
        wait_for(proc, lambda: os.path.exists(os.path.join(folder, "latest")), 60)
        proc.send(signal.SIGINT)
        time.sleep(rng.uniform(0.02, 0.2))
        proc.send(signal.SIGINT)
        r = proc.wait(60)
        problems, _ = run_folder_problems(folder, 1)
        table.add(key, "abort/crash" if is_abort(r, signalled=True) else ("other" if problems else "ok/harmless"),
                  "; ".join(problems) or None, r)


# ---------------------------------------------------------------------------------------------- 8. paths and inputs

def family_inputs(table, rng):
    root = fresh("f8")
    text = open(CONTEXT.corpus, "rb").read()
    corpus = write(os.path.join(root, "legal.txt"), text)
    os.symlink("legal.txt", os.path.join(root, "link.txt"))
    files = {
        "empty.txt": b"", "one.txt": b"a single line of text\n", "dev-empty.txt": b"",
        "latin1.txt": "caf\ncaf\xe9\n".encode("latin-1"), "taken": b"",
    }
    for name, data in files.items():
        write(os.path.join(root, name), data)
    vocab = open(CONTEXT.models["tiny"][0], encoding="utf-8").read().split("\n")
    duplicate = write(os.path.join(root, "dup-vocab.txt"), "\n".join(vocab[:9] + [vocab[8]] + vocab[10:]))
    invalid_vocab = write(os.path.join(root, "bad-utf8-vocab.txt"), "\n".join(vocab[:5]).encode() + b"\n\xff\xfe\n")
    empty_vocab = write(os.path.join(root, "empty-vocab.txt"), b"")
    config = CONTEXT.models["tiny"][1]

    def adapt(*extra, output=None):
        return ["--vocab", CONTEXT.models["tiny"][0], "--config", config, "--max-seq-length", "32", "--batch-size", "4",
                "--max-steps", "2", "--schedule", "constant", "--warmup", "0", "--eval-every", "0", "--eval-batches", "1",
                "--threads", "1", "--output-dir", output or os.path.join(fresh("f8", "runs"), "run"), *extra]

    def expect_ok(name, arguments, check=None, stdin=None, cwd=None):
        key = table.case(8, name, "ok")
        r = mlm(*arguments, stdin=stdin, cwd=cwd, timeout=120)
        problem = None if r.rc == 0 else f"status {r.rc}: {r.first_error_line()}"
        if problem is None and check:
            problem = check(r)
        column = "abort/crash" if is_abort(r) else ("other" if problem else "ok/harmless")
        table.add(key, column, problem, r)

    def expect_error(name, arguments, names, must_say=(), stdin=None):
        key = table.case(8, name, "clean error")
        r = mlm(*arguments, stdin=stdin, timeout=120)
        column, note = failure(r, names, must_say)
        table.add(key, column, note, r)

    stdin_run = os.path.join(fresh("f8", "stdin"), "run")
    expect_ok("--corpus - (standard input), then --resume from /", adapt("--corpus", "-", "--validation-split", "0.1",
                                                                          output=stdin_run), stdin=text,
              check=lambda r: None if os.path.exists(os.path.join(stdin_run, "corpus-stdin.txt")) and mlm(
                  "--resume", stdin_run, "--max-steps", "3", "--threads", "1", cwd="/").rc == 0 else "resume from / failed")
    expect_ok("one file named three ways (a.txt, ./a.txt, a link)",
              adapt("--corpus", "legal.txt", "--corpus", "./legal.txt", "--corpus", "link.txt", "--validation-split", "0.1"),
              cwd=root, check=lambda r: None if "read once" in r.stderr else "no 'read once' log line")
    relative_run = os.path.join(fresh("f8", "relative"), "run")
    expect_ok("a relative corpus path, then --resume from another folder",
              adapt("--corpus", "legal.txt", "--validation-split", "0.1", output=relative_run), cwd=root,
              check=lambda r: None if mlm("--resume", relative_run, "--max-steps", "3", "--threads", "1",
                                          cwd="/tmp").rc == 0 else "resume from /tmp failed")
    tokenized = mlm("tokenize", "--vocab", CONTEXT.models["tiny"][0], corpus).stdout
    expect_ok("tokenize - (standard input)", ["tokenize", "--vocab", CONTEXT.models["tiny"][0], "-"], stdin=text,
              check=lambda r: None if r.stdout == tokenized and tokenized else "differs from tokenize FILE")
    expect_ok("tokenize /bin/ls (binary bytes read as U+FFFD, as documented)",
              ["tokenize", "--vocab", CONTEXT.models["tiny"][0], "/bin/ls"])
    taken = os.path.join(root, "taken")
    expect_error("--output-dir that is a file", adapt("--corpus", corpus, output=taken), [taken], ["existing file"])
    expect_error("--output-dir under a file", adapt("--corpus", corpus, output=os.path.join(taken, "run")), [taken],
                 ["not a folder"])
    expect_error("empty corpus", adapt("--corpus", os.path.join(root, "empty.txt")), [os.path.join(root, "empty.txt")],
                 ["no documents"])
    expect_error("single-document corpus", adapt("--corpus", os.path.join(root, "one.txt")), [os.path.join(root, "one.txt")],
                 ["single document"])
    expect_error("empty --validation-corpus", adapt("--corpus", corpus, "--validation-corpus", os.path.join(root, "dev-empty.txt")),
                 [os.path.join(root, "dev-empty.txt")], ["validation"])
    expect_error("/bin/ls as corpus", adapt("--corpus", "/bin/ls"), ["/bin/ls"], ["not text"])
    expect_error("a Latin-1 (invalid UTF-8) corpus", adapt("--corpus", os.path.join(root, "latin1.txt")),
                 [os.path.join(root, "latin1.txt")], ["line 2"])
    expect_error("a corpus that does not exist", adapt("--corpus", os.path.join(root, "missing.txt")),
                 [os.path.join(root, "missing.txt")])
    expect_error("a vocab with a duplicate token (tokenize)", ["tokenize", "--vocab", duplicate, corpus], [duplicate],
                 ["line 10", "duplicate"])
    expect_error("a vocab with a duplicate token (adapt --vocab)",
                 ["--vocab", duplicate, "--config", config, "--corpus", corpus, "--max-steps", "1", "--output-dir",
                  os.path.join(fresh("f8", "dup"), "run")], [duplicate])
    expect_error("a vocab with invalid UTF-8", ["tokenize", "--vocab", invalid_vocab, corpus], [invalid_vocab])
    expect_error("an empty vocab file", ["tokenize", "--vocab", empty_vocab, corpus], [empty_vocab])
    expect_error("/bin/ls as vocab", ["tokenize", "--vocab", "/bin/ls", corpus], ["/bin/ls"])
    held = os.path.join(fresh("f8", "held"), "run")
    shutil.copytree(CONTEXT.tiny_run, held)
    expect_error("--resume with a changed --lr", ["--resume", held, "--lr", "0.001", "--threads", "1"], ["--lr"])
    linear = os.path.join(fresh("f8", "linear"), "run")
    must(mlm(*run_args("tiny", linear, 2, 0, ["--schedule", "linear", "--seed", "1"])), "linear run")
    expect_error("--resume raising --max-steps under a linear schedule", ["--resume", linear, "--max-steps", "10",
                                                                          "--threads", "1"], ["--max-steps"])
    empty_run = fresh("f8", "no-checkpoint")
    write(os.path.join(empty_run, "metrics.jsonl"), "")
    expect_error("--resume of a folder without a checkpoint", ["--resume", empty_run], [empty_run])
    expect_error("--init that does not exist", ["--init", os.path.join(root, "nope"), "--corpus", corpus], ["nope"])
    expect_error("--init naming a text file", ["--init", corpus, "--corpus", corpus, "--output-dir",
                                               os.path.join(fresh("f8", "init-text"), "run")], [corpus])
    broken = os.path.join(fresh("f8", "latest-missing"), "run")
    shutil.copytree(CONTEXT.tiny_run, broken)
    write(os.path.join(broken, "latest"), "step-99.safetensors.gz\n")
    expect_error("a latest naming a missing file", ["inspect", broken], ["step-99"])
    escaping = os.path.join(fresh("f8", "latest-escape"), "run")
    shutil.copytree(CONTEXT.tiny_run, escaping)
    write(os.path.join(escaping, "latest"), "../../setup/tiny-run/step-6.safetensors.gz\n")
    expect_error("a latest naming a path outside its folder", ["inspect", escaping], ["latest"])


# ---------------------------------------------------------------------------------------------- 9. tokenizer fuzz

POOLS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    ".,;:!?'\"()[]{}<>-_/\\@#$%^&*+=~`|",
    "".join(map(chr, range(0xC0, 0x250))),                      # Latin-1, Latin Extended
    "".join(map(chr, range(0x300, 0x370))),                     # combining diacritics
    "\u302a\u302b\u302c\u302d\u302e\u302f\u030e\u0619\u0610\u064b\u0651\u05b0\u05bc\u0e31\u0e47\u093c\u094d",
    "".join(map(chr, range(0x370, 0x530))),                     # Greek, Cyrillic, Armenian
    "".join(map(chr, range(0x590, 0x700))),                     # Hebrew, Arabic
    "".join(map(chr, range(0x900, 0x980))) + "".join(map(chr, range(0xE00, 0xE80))),  # Devanagari, Thai
    "".join(map(chr, range(0x3040, 0x3100))) + "".join(chr(c) for c in range(0x4E00, 0x9FFF, 37)),  # kana, CJK
    "".join(chr(c) for c in range(0xAC00, 0xD7A3, 53)) + "".join(map(chr, range(0x1100, 0x1200))),  # Hangul
    "".join(chr(c) for c in range(0x20000, 0x2A6DF, 211)) + "".join(map(chr, range(0xFF00, 0xFFF0))),  # ext B, fullwidth
    "".join(map(chr, [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, *range(0x80, 0xA0)])),  # controls
    "\t\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000\u0085"
    "\u2028\u2029",
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e"
    "\ufe0f\ufe0e\U000e0001\U000e0020\U000e007f",
    "".join(chr(c) for c in [*range(0x1F300, 0x1F650, 3), *range(0x1F900, 0x1FA00, 3), *range(0x1F1E6, 0x1F200),
                             *range(0x1F3FB, 0x1F400), 0x20E3, 0x2764, 0x263A]),
    "İıẞßﬁﬀΣσςǅǄΩKÅ\u0130\u1e9e\u2126\u212a\u212b\ufb01",
    "\ufffd\ufffe\uffff\ufdd0\U000f0000\U0010fffd\U0010ffff\u0378\u2fe0\ue000",
]
SPECIALS = ["[MASK]", "[UNK]", "[CLS]", "[SEP]", "[PAD]", "##", "###ab", "[mask]", "[MASK", "MASK]"]


def random_scalar(rng):
    while True:
        value = rng.randrange(0x110000)
        if not 0xD800 <= value < 0xE000 and value != 0x0A:
            return chr(value)


def random_text(rng):
    words = []
    for _ in range(rng.randint(0, 10)):
        roll = rng.random()
        if roll < 0.05:
            words.append(rng.choice(SPECIALS))
        elif roll < 0.08:
            words.append("".join(rng.choice(POOLS[0]) for _ in range(rng.randint(95, 130))))
        elif roll < 0.16:
            words.append("".join(random_scalar(rng) for _ in range(rng.randint(1, 8))))
        else:
            pools = [rng.choice(POOLS) for _ in range(rng.randint(1, 3))]
            words.append("".join(rng.choice(rng.choice(pools)) for _ in range(rng.randint(1, 9))))
    separators = [" ", " ", " ", "", "\t", "  ", "-", "\u3000"]
    text = words[0] if words else ""
    for word in words[1:]:
        text += rng.choice(separators) + word
    return text.replace("\n", " ")


def family_tokenizer(table, rng, total, seconds):
    try:
        from tokenizers import BertWordPieceTokenizer
    except ImportError:
        table.notes.append("9. tokenizer fuzz: skipped (python package tokenizers is not installed)")
        return
    vocabs = {"uncased": os.path.join(CONTEXT.repo, "Vocab/bert-base-uncased.txt"),
              "cased": os.path.join(CONTEXT.repo, "Vocab/bert-base-cased.txt")}
    references = {name: BertWordPieceTokenizer(path, lowercase=name == "uncased") for name, path in vocabs.items()}
    keys = {name: table.case(9, f"tokenizer fuzz, {name} vocab: random mixed-script strings vs HF tokenizers "
                                "(ids, offsets, word ids)", "ok") for name in vocabs}
    keys["invalid"] = table.case(9, "tokenizer fuzz, uncased: strings with invalid UTF-8 bytes (both sides decode "
                                    "with U+FFFD)", "ok")
    folder = fresh("f9")
    batch, done, began = 5000, 0, time.monotonic()
    examples = collections.Counter()
    while done < total and time.monotonic() - began < seconds:
        kind = ["uncased", "cased", "uncased", "cased", "invalid"][(done // batch) % 5]
        lines = []
        for _ in range(batch):
            text = random_text(rng).encode("utf-8")
            if kind == "invalid":
                text = bytearray(text)
                for _ in range(rng.randint(1, 3)):
                    text.insert(rng.randint(0, len(text)), rng.choice([0x80, 0xBF, 0xC0, 0xC3, 0xE2, 0xED, 0xF0, 0xF4,
                                                                        0xF5, 0xFF]))
                text = bytes(text).replace(b"\n", b" ")
            lines.append(text)
        path = write(os.path.join(folder, "batch.txt"), b"\n".join(lines) + b"\n")
        vocab_name = "uncased" if kind == "invalid" else kind
        arguments = ["tokenize", "--vocab", vocabs[vocab_name], path] + (["--cased"] if kind == "cased" else [])
        r = mlm(*arguments, timeout=300)
        key = keys[kind]
        if r.rc != 0:
            column = "abort/crash" if is_abort(r) else "other"
            for _ in lines:
                table.add(key, column, None, r)
            table.notes.append(f"9. tokenize status {r.rc} on a batch of {batch}: {r.first_error_line()}")
        else:
            ours = r.stdout.splitlines()
            texts = [line.decode("utf-8", "replace") for line in lines]
            encodings = references[vocab_name].encode_batch(texts)
            if len(ours) != len(texts):
                table.notes.append(f"9. tokenize printed {len(ours)} lines for {len(texts)}")
            for text, line, encoding in zip(texts, ours + [None] * (len(texts) - len(ours)), encodings):
                record = json.loads(line) if line else {}
                expected = (encoding.ids, [list(o) for o in encoding.offsets], encoding.word_ids)
                got = (record.get("ids"), record.get("offsets"), record.get("word_ids"))
                if got == expected:
                    table.add(key, "ok/harmless", None, r)
                else:
                    field = ["ids", "offsets", "word ids"][next(i for i in range(3) if got[i] != expected[i])]
                    examples[kind] += 1
                    note = None
                    if examples[kind] <= 5:
                        note = f"{field} differ on {ascii(text)[:160]}: ours {got[0]} {got[1]}, HF {expected[0]} {expected[1]}"
                    table.add(key, "other", note, r)
        done += batch
    log(f"  tokenizer: {done} strings in {time.monotonic() - began:.0f} s")


# ---------------------------------------------------------------------------------------------- main

def machine():
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    return f"{model}, {os.cpu_count()} cores, Linux {os.uname().release}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("binary")
    parser.add_argument("work")
    parser.add_argument("--repo", default=os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--families", default="1,2,3,4,5,6,7,8,9")
    parser.add_argument("--tokenizer-strings", type=int, default=205_000)
    parser.add_argument("--tokenizer-seconds", type=float, default=180)
    parser.add_argument("--address-space-gib", type=float, default=4)
    args = parser.parse_args()
    CONTEXT.binary = os.path.abspath(args.binary)
    CONTEXT.repo = os.path.abspath(args.repo)
    CONTEXT.work = os.path.abspath(args.work)
    CONTEXT.limit_as = int(args.address_space_gib * (1 << 30))
    CONTEXT.env = dict(os.environ, MLM_ADAPT_NO_BLAS_REEXEC="1")
    shutil.rmtree(CONTEXT.work, ignore_errors=True)
    os.makedirs(CONTEXT.work)
    began = time.monotonic()
    setup()
    CONTEXT.minilm = os.path.join(CONTEXT.repo, "cache/models/all-MiniLM-L6-v2")
    CONTEXT.minilm_gz = None
    if os.path.isdir(CONTEXT.minilm):
        CONTEXT.minilm_gz = os.path.join(CONTEXT.work, "setup", "minilm.safetensors.gz")
        must(mlm("import", "--from", CONTEXT.minilm, "--out", CONTEXT.minilm_gz), "import MiniLM")
    table = Table()
    families = {
        "1": ("corrupted checkpoints", family_corrupted_checkpoints),
        "2": ("SIGKILL during saves", family_sigkill),
        "3": ("two runs, one folder", family_two_runs),
        "4": ("disk full", family_disk_full),
        "5": ("untrusted sizes", family_sizes),
        "6": ("non-finite numbers", family_numbers),
        "7": ("signals", family_signals),
        "8": ("paths and inputs", family_inputs),
        "9": ("tokenizer fuzz", lambda t, r: family_tokenizer(t, r, args.tokenizer_strings, args.tokenizer_seconds)),
    }
    for number in args.families.split(","):
        name, function = families[number]
        family_began = time.monotonic()
        log(f"family {number}: {name}")
        function(table, random.Random(args.seed * 100 + int(number)))
        log(f"family {number}: {time.monotonic() - family_began:.0f} s")
    body, totals = table.markdown()
    minutes = (time.monotonic() - began) / 60
    print(f"Ran in {minutes:.1f} minutes on {machine()}; seed {args.seed}; children capped at "
          f"{args.address_space_gib:g} GiB of address space.\n")
    print(body)
    if not CONTEXT.minilm_gz:
        print("\n(MiniLM cases skipped: cache/models/all-MiniLM-L6-v2 is absent.)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
