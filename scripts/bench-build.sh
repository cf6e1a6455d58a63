#!/usr/bin/env bash
# `make bench-build`: clean-build time of the synth library alone (what a change to the pipeline
# rebuilds, and what its tests need) next to the whole workspace, each in a fresh target dir
# (dev profile, as developers and CI build). Prints one line per build for BENCHMARKS.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${BENCH_BUILD_DIR:-$ROOT/target/bench-build}
rm -rf "$OUT"
measure() {
  local name=$1; shift
  local dir="$OUT/$name"
  local start end
  start=$(date +%s%N)
  CARGO_TARGET_DIR="$dir" cargo build --quiet "$@"
  end=$(date +%s%N)
  local crates
  crates=$(find "$dir/debug/deps" -name '*.rlib' | wc -l)
  local ms=$(( (end - start) / 1000000 ))
  printf '%-34s %4d.%01d s  %4d crates compiled\n' "cargo build $*" $((ms / 1000)) $((ms % 1000 / 100)) "$crates"
}
echo "clean builds on $(nproc) cores ($(rustc --version)):"
measure synth -p jobgen-synth
measure workspace --workspace
rm -rf "$OUT"
