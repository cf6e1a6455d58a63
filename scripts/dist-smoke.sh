#!/usr/bin/env bash
# `make dist-smoke`: the release bundle used the way a user without a checkout uses it.
#
# Extracts TARBALL into an empty directory, then, from another empty directory outside the
# checkout, with only the bundle's bin/jobgen: `jobgen init`, `jobgen synth` (the template's Code
# must name the bundle's zips, with no warning), and `jobgen deploy` into a moto server; then the
# same for a copy of examples/quickstart/jobgen.yaml in an empty directory of its own. Taken from
# the checkout: the emulator (from the pinned tools venv) and that example file. Fails on any deviation.
set -euo pipefail

TARBALL=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV_BIN=${JOBGEN_VENV_BIN:-$ROOT/.venv/tools/bin}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/jobgen-dist-smoke.XXXXXX")
pids=()
cleanup() {
  local code=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
  exit "$code"
}
trap cleanup EXIT INT TERM
fail() { echo "dist-smoke: FAILED: $*" >&2; exit 1; }

mkdir -p "$WORK/prefix" "$WORK/project"
tar -C "$WORK/prefix" -xzf "$TARBALL"
JOBGEN=$(ls -d "$WORK"/prefix/jobgen-*/bin/jobgen)
[ -x "$JOBGEN" ] || fail "no bin/jobgen in $TARBALL"
for a in arm64 x86_64; do
  for z in create-job track; do
    [ -s "$(dirname "$JOBGEN")/../lib/jobgen/lambda/$a/$z.zip" ] || fail "no lib/jobgen/lambda/$a/$z.zip in the bundle"
  done
done

cd "$WORK/project"
"$JOBGEN" --version
"$JOBGEN" init >/dev/null
"$JOBGEN" synth -o build 2>synth.err || { cat synth.err >&2; fail "jobgen synth"; }
cat synth.err
! grep -q warning synth.err || fail "jobgen synth warned about the zips"
grep -q 'Code: ".*lib/jobgen/lambda/arm64/create-job.zip"' build/template.yaml || fail "Code does not name the bundle's zips"

"$VENV_BIN/python" "$ROOT/scripts/moto_server.py" 0 serial >"$WORK/moto.log" 2>&1 &
pids+=($!)
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$WORK/moto.log" | head -1)
  [ -n "$port" ] && break
  sleep 0.2
done
[ -n "$port" ] || { cat "$WORK/moto.log" >&2; fail "the emulator did not start"; }
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
"$JOBGEN" deploy --endpoint-url "http://127.0.0.1:$port" >deploy.out 2>deploy.err || { cat deploy.err >&2; fail "jobgen deploy"; }
cat deploy.err deploy.out
grep -q '^export JOBGEN_STACK=' deploy.out || fail "no export line"
grep -q 'uploaded   create-job' deploy.err || fail "the bundle's create-job zip was not uploaded"
# An example project, copied alone into an empty directory, deployed from there.
mkdir -p "$WORK/example"
cp "$ROOT/examples/quickstart/jobgen.yaml" "$WORK/example/"
cd "$WORK/example"
"$JOBGEN" synth -o build 2>synth.err || { cat synth.err >&2; fail "jobgen synth of examples/quickstart"; }
! grep -q warning synth.err || fail "jobgen synth warned about the zips (examples/quickstart)"
"$JOBGEN" deploy --endpoint-url "http://127.0.0.1:$port" >deploy.out 2>deploy.err || { cat deploy.err >&2; fail "jobgen deploy of examples/quickstart"; }
cat deploy.err deploy.out
grep -q '^export JOBGEN_STACK=jobgen-quickstart$' deploy.out || fail "no export line for examples/quickstart"
echo "dist-smoke: ok (bundle $(basename "$TARBALL") installed in an empty directory; the starter and examples/quickstart synthesized and deployed from outside the checkout)"
