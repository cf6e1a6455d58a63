# jobgen's build, test and demo entry points. Every tool the tests need is installed from here:
# Python tools into pinned venvs under .venv/, Rust crates by cargo. Nothing is assumed installed by hand.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON     ?= python3
VENV       := .venv/tools
CHECKOV_VENV := .venv/checkov
VENV_BIN   := $(CURDIR)/$(VENV)/bin
# The build directory: cargo's, wherever CARGO_TARGET_DIR puts it.
TARGET     := $(or $(CARGO_TARGET_DIR),target)
JOBGEN     := $(TARGET)/debug/jobgen
# Lambda architecture for `make package`: arm64 (default, matches the generator's default) or x86_64.
ARCH       ?= arm64
# Cargo profile of `make package` and `make dist`: release (default; what a published bundle is) or
# dist-check (CI's: the same bundle without LTO, built in a fraction of the time).
PROFILE    ?= release
PROFILE_FLAG := $(if $(filter release,$(PROFILE)),--release,--profile $(PROFILE))
EXAMPLES   := $(sort $(wildcard examples/*/jobgen.yaml))

export PATH := $(VENV_BIN):$(PATH)
# Never reach a real AWS endpoint from tests: fake credentials and a default region.
export AWS_ACCESS_KEY_ID ?= testing
export AWS_SECRET_ACCESS_KEY ?= testing
export AWS_DEFAULT_REGION ?= us-east-1
export AWS_REGION ?= us-east-1
export JOBGEN_VENV_BIN := $(VENV_BIN)
export JOBGEN_CHECKOV := $(CURDIR)/$(CHECKOV_VENV)/bin/checkov

.PHONY: help
help: ## list targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements/tools.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/tools.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements/checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/checkov.txt
	touch $@

.PHONY: tools
tools: $(VENV)/.installed $(CHECKOV_VENV)/.installed ## install the pinned Python tools (moto, awscli, cfn-lint, cargo-lambda, checkov)

.PHONY: browser-tools
browser-tools: ## Debian's chromium and chromedriver for the dashboard's browser test (apt-get, when missing)
	if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver; \
	fi

.PHONY: screenshots
screenshots: tools browser-tools ## rewrite the README's dashboard screenshots (docs/screenshots/*.png) from the browser test
	JOBGEN_SCREENSHOTS=update cargo test -p jobgen-tests --test dashboard

.PHONY: build
build: ## build the jobgen CLI and the handlers (debug)
	cargo build --workspace --all-targets

.PHONY: package
package: tools ## build both handlers with cargo-lambda into dist/lambda/*.zip (ARCH=arm64|x86_64)
	case "$(ARCH)" in \
	  arm64) flag=--arm64; triple=aarch64-unknown-linux-gnu;; \
	  x86_64) flag=--x86-64; triple=x86_64-unknown-linux-gnu;; \
	  *) echo "ARCH=$(ARCH) is not supported: use ARCH=arm64 or ARCH=x86_64" >&2; exit 2;; \
	esac; \
	if ! command -v rustup >/dev/null; then \
	  echo "note: rustup not found; cargo-lambda needs the Rust standard library for $$triple from your toolchain" >&2; \
	elif ! rustup target list --installed | grep -qx "$$triple"; then \
	  echo "installing the Rust standard library for $$triple (rustup target add)"; \
	  rustup target add "$$triple" || { \
	    echo "error: cannot install the Rust target $$triple: rustup target add failed (offline?)." >&2; \
	    echo "fix: run 'rustup target add $$triple' with network access, or package for another architecture" >&2; \
	    echo "     (make package ARCH=x86_64 or ARCH=arm64) and synthesize with the same lambda architecture." >&2; \
	    exit 1; }; \
	fi; \
	cargo lambda build $(PROFILE_FLAG) $$flag --output-format zip -p jobgen-runtime --bin create-job --bin track
	mkdir -p dist/lambda
	for f in create-job track; do cp $(TARGET)/lambda/$$f/bootstrap.zip dist/lambda/$$f.zip; done
	# Each zip must hold one executable `bootstrap` built for $(ARCH): fail here, not at deploy time.
	$(VENV_BIN)/python scripts/lambda-zip.py check $(ARCH) dist/lambda/create-job.zip dist/lambda/track.zip
	# The template's Architectures must match these binaries: `jobgen synth` and `jobgen dev` read this file and refuse a mismatch.
	echo "$(ARCH)" > dist/lambda/ARCH
	ls -l dist/lambda

# The release bundle: `dist/jobgen-<version>-<platform>/{bin/jobgen, lib/jobgen/lambda/<arch>/{create-job,track}.zip,ARCH}`
# for both Lambda architectures, and its tarball. `jobgen synth`/`deploy` find the zips next to bin/jobgen.
VERSION    := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
PLATFORM   := $(shell uname -m)-$(shell uname -s | tr A-Z a-z)
BUNDLE     := dist/jobgen-$(VERSION)-$(PLATFORM)

.PHONY: dist
dist: tools ## the release bundle for this platform (jobgen + both handlers for arm64 and x86_64) in dist/, plus its .tar.gz (PROFILE)
	cargo build $(PROFILE_FLAG) -p jobgen
	rm -rf $(BUNDLE) && mkdir -p $(BUNDLE)/bin
	# arm64 last: dist/lambda is left as `make package` (arm64, the generator's default) leaves it.
	for a in x86_64 arm64; do \
	  $(MAKE) --no-print-directory package ARCH=$$a PROFILE=$(PROFILE); \
	  mkdir -p $(BUNDLE)/lib/jobgen/lambda/$$a; \
	  cp dist/lambda/create-job.zip dist/lambda/track.zip dist/lambda/ARCH $(BUNDLE)/lib/jobgen/lambda/$$a/; \
	done
	cp $(TARGET)/$(PROFILE)/jobgen $(BUNDLE)/bin/jobgen
	cp README.md $(BUNDLE)/
	tar -C dist -czf $(BUNDLE).tar.gz $(notdir $(BUNDLE))
	ls -l $(BUNDLE).tar.gz

.PHONY: dist-smoke
dist-smoke: dist ## install the bundle into an empty directory and, from outside the checkout, synth and deploy an example into moto
	JOBGEN_VENV_BIN=$(VENV_BIN) scripts/dist-smoke.sh $(BUNDLE).tar.gz

.PHONY: synth-examples
synth-examples: build ## re-synthesize every example's template.yaml
	for f in $(EXAMPLES); do $(JOBGEN) synth -c $$f -o $$(dirname $$f); done

.PHONY: check-examples
check-examples: build ## fail when an example's committed template.yaml is stale
	for f in $(EXAMPLES); do $(JOBGEN) synth -c $$f -o $$(dirname $$f) --check; done

.PHONY: lint
lint: tools build ## cfn-lint and checkov on every example's template
	for f in $(EXAMPLES); do d=$$(dirname $$f); echo "cfn-lint $$d"; $(VENV_BIN)/cfn-lint $$d/template.yaml; done
	for f in $(EXAMPLES); do d=$$(dirname $$f); echo "checkov $$d"; $(JOBGEN_CHECKOV) --quiet --compact --skip-download --framework cloudformation -f $$d/template.yaml; done

.PHONY: check-boundaries
check-boundaries: ## the synth library links no AWS SDK, async runtime or HTTP stack
	@if cargo tree -p jobgen-synth -e normal --prefix none | grep -E '^(aws-|tokio |hyper )'; then \
	  echo "error: jobgen-synth depends on the crates above: the synth pipeline must build without the AWS SDK, tokio or hyper" >&2; \
	  echo "  help: keep AWS calls in jobgen-ops, jobgen-local or the runtime's aws feature" >&2; exit 1; \
	else echo "jobgen-synth: no aws-*, tokio or hyper among its dependencies"; fi

.PHONY: test
test: tools browser-tools ## run the whole test suite (unit, golden, CLI, emulator-backed, lint)
	cargo fmt --all -- --check
	$(MAKE) check-boundaries
	$(MAKE) check-examples
	$(MAKE) lint
	# Golden files are reviewed like code: a mismatch fails, and nothing is ever rewritten here.
	INSTA_UPDATE=no cargo test --workspace --all-targets

.PHONY: demo
demo: $(VENV)/.installed ## the quickstart stack on this machine: moto + `jobgen dev` + a short story with the operator commands
	cargo build -p jobgen
	scripts/demo.sh

.PHONY: fault-harness
fault-harness: tools ## every fault at once on JOBS jobs (default 1000) under jobgen dev, seed SEED (default 1), DYNAMO share of failing DynamoDB calls (default 0): invariants in RELIABILITY.md
	JOBGEN_HARNESS_JOBS=$(or $(JOBS),1000) JOBGEN_HARNESS_SEED=$(or $(SEED),1) JOBGEN_HARNESS_DYNAMO=$(or $(DYNAMO),0) \
	  cargo test -p jobgen-tests --test fault_harness -- --nocapture

.PHONY: policy
policy: tools ## the policy tests over every synthesized template, and cfn-lint + checkov on them (RELIABILITY.md)
	cargo test -p jobgen-synth --test policy --test lint -- --nocapture

.PHONY: bad-requests
bad-requests: tools ## the corpus of malformed create-job requests against jobgen dev: each a 4xx, nothing written or launched
	cargo test -p jobgen-tests --test bad_requests -- --nocapture

.PHONY: fuzz
fuzz: ## the three fuzz targets (jobgen.yaml, ECS events, create-job requests) for SECONDS each (default 60), seed SEED
	JOBGEN_FUZZ_SECONDS=$(or $(SECONDS),60) JOBGEN_FUZZ_SEED=$(or $(SEED),1) \
	  cargo test -p jobgen-tests --test fuzz -- --nocapture --test-threads 1

.PHONY: bench
bench: tools bench-synth bench-cdk bench-runtime bench-build bench-burst bench-dashboard ## benchmarks; numbers go in BENCHMARKS.md

.PHONY: bench-burst
bench-burst: tools ## JOBS jobs (default 10000) at once drained at RunTask's rate (20/s, burst 100) on a simulated clock; SPREAD: Scheduler's spread in s (default 60)
	JOBGEN_BURST_JOBS=$(or $(JOBS),10000) JOBGEN_BURST_SPREAD=$(or $(SPREAD),60) \
	  cargo bench --profile dev -p jobgen-tests --bench burst

.PHONY: bench-dashboard
bench-dashboard: tools ## dashboard page load and list query time over JOBS jobs (default 10000) in the emulator (BENCHMARKS.md)
	JOBGEN_DASH_JOBS=$(or $(JOBS),10000) cargo bench --profile dev -p jobgen-tests --bench dashboard

.PHONY: bench-build
bench-build: ## clean-build time of the synth library next to the whole workspace (fresh target dirs)
	scripts/bench-build.sh

.PHONY: bench-synth
bench-synth: ## `jobgen synth` time: the largest valid project and a 500-job-type one (release build)
	cargo build --release -p jobgen
	JOBGEN=$(TARGET)/release/jobgen scripts/bench-synth.sh

.PHONY: bench-cdk
bench-cdk: ## `jobgen synth` next to `cdk synth` of the equivalent CDK app (bench/cdk) for N=1 42 120 500 job types (NS, RUNS)
	cargo build --release -p jobgen
	JOBGEN=$(TARGET)/release/jobgen scripts/bench-cdk.sh

.PHONY: bench-runtime
bench-runtime: tools ## handler zip sizes (both ARCHes), cold starts, calls and cost per job (BENCHMARKS.md, Runtime section)
	rm -rf target/bench-runtime && mkdir -p target/bench-runtime/arm64 target/bench-runtime/x86_64
	for a in x86_64 arm64; do \
	  $(MAKE) --no-print-directory package ARCH=$$a; \
	  for f in create-job track; do \
	    cp dist/lambda/$$f.zip target/bench-runtime/$$a/; \
	    $(VENV_BIN)/python -m zipfile -e dist/lambda/$$f.zip target/bench-runtime/$$a/$$f; \
	    chmod +x target/bench-runtime/$$a/$$f/bootstrap; \
	  done; \
	done
	# Leave dist/lambda as `make package ARCH=$(ARCH)` would (cached: only re-zips).
	$(MAKE) --no-print-directory package ARCH=$(ARCH)
	# The dev profile only builds the harness (a Runtime API stub and the moto set-up); the measured
	# handlers are the release binaries packaged above.
	JOBGEN_BENCH_DIR=$(CURDIR)/target/bench-runtime cargo bench --profile dev -p jobgen-tests --bench runtime
