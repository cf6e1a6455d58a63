#!/usr/bin/env bash
# Benchmarks `jobgen synth` (release build) for large projects; prints the numbers BENCHMARKS.md records.
#
# One stack holds about 120 job types: every job type with `task` adds 4 resources (CloudFormation
# allows 500 per stack); past that the job types go into nested stacks. This measures:
#   1. synth of the largest project that still fits one stack (found by search);
#   2. synth of a 500-job-type project: a root and its nested stacks.
# Uses hyperfine when installed (apt-get install hyperfine), else a timed loop.
set -euo pipefail
cd "$(dirname "$0")/.."

JOBGEN=${JOBGEN:-target/release/jobgen}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# project FILE N: the benchmarks' generated project.
# shellcheck source=scripts/bench-project.sh
source scripts/bench-project.sh

# The largest N that fits one stack (no nested stacks written): search down from 200.
max=0
for ((n = 200; n >= 1; n--)); do
  project "$WORK/max.yaml" "$n"
  rm -rf "$WORK/out"
  if "$JOBGEN" synth -c "$WORK/max.yaml" -o "$WORK/out" >/dev/null 2>&1 && [ ! -d "$WORK/out/stacks" ]; then
    max=$n
    break
  fi
done
project "$WORK/500.yaml" 500
echo "largest single stack: $max job types"
echo "  template: $(wc -c <"$WORK/out/template.yaml") bytes, $(grep -c '^    Type: ' "$WORK/out/template.yaml") resources"
if "$JOBGEN" synth -c "$WORK/500.yaml" -o "$WORK/out500" >/dev/null 2>&1; then
  echo "500 job types: a root of $(wc -c <"$WORK/out500/template.yaml") bytes and $(ls "$WORK/out500/stacks" | wc -l) nested stacks"
else
  echo "500 job types: refused:"
  "$JOBGEN" synth -c "$WORK/500.yaml" 2>&1 >/dev/null | sed 's/^/  | /' | head -12 || true
fi

if command -v hyperfine >/dev/null; then
  hyperfine --warmup 3 --runs 30 -N \
    -n "synth ${max} job types (largest valid stack)" "$JOBGEN synth -c $WORK/max.yaml -o $WORK/out" \
    -n "synth 500 job types (nested stacks)" -i "$JOBGEN synth -c $WORK/500.yaml -o $WORK/out500"
  hyperfine --warmup 3 --runs 30 -N \
    -n "synth examples/realistic" "$JOBGEN synth -c examples/realistic/jobgen.yaml -o $WORK/realistic"
else
  for f in max 500; do
    start=$(date +%s%N)
    for _ in $(seq 30); do "$JOBGEN" synth -c "$WORK/$f.yaml" -o "$WORK/out-$f" >/dev/null 2>&1 || true; done
    echo "synth $f: $(( ($(date +%s%N) - start) / 30000 )) us mean over 30 runs"
  done
fi
