#!/usr/bin/env bash
# The jobgen demo (`make demo`): the quickstart stack running on this machine.
#
# Starts the AWS emulator (moto, from the pinned tools venv) on a free port, runs `jobgen dev` for
# examples/quickstart in the background (deploy into the emulator, both real handlers, the ECS
# lifecycle simulator), then tells a short story with the operator commands, exactly as you would
# type them against AWS. Every process it starts is stopped on exit, also on Ctrl-C or failure.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
JOBGEN=${JOBGEN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/jobgen}
VENV_BIN=${JOBGEN_VENV_BIN:-$ROOT/.venv/tools/bin}
CONFIG=${DEMO_CONFIG:-$ROOT/examples/quickstart/jobgen.yaml}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/jobgen-demo.XXXXXX")
pids=()

cleanup() {
  local code=$?
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
  exit "$code"
}
trap cleanup EXIT INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" >&2; "$@"; }

[ -x "$JOBGEN" ] || { echo "error: $JOBGEN not found: run 'cargo build -p jobgen' (make demo does)" >&2; exit 2; }
"$VENV_BIN/python" -c 'import moto' 2>/dev/null || { echo "error: moto is not installed in $VENV_BIN: run 'make tools'" >&2; exit 2; }

say "Starting the AWS emulator (moto, one request at a time: DynamoDB's conditions stay atomic)"
# Port 0: the server takes a free port and prints it once it listens (no race for a port picked here).
"$VENV_BIN/python" "$ROOT/scripts/moto_server.py" 0 serial >"$WORK/moto.log" 2>&1 &
pids+=($!)
port=
for _ in $(seq 300); do
  port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$WORK/moto.log" | head -1)
  [ -n "$port" ] && break
  kill -0 "${pids[0]}" 2>/dev/null || break
  sleep 0.1
done
[ -n "$port" ] || { cat "$WORK/moto.log" >&2; echo "error: the emulator did not start" >&2; exit 1; }
echo "emulator on 127.0.0.1:$port"

say "jobgen dev: deploy examples/quickstart into the emulator and run it locally"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
"$JOBGEN" dev -c "$CONFIG" --endpoint-url "http://127.0.0.1:$port" --port 0 --env-file "$WORK/env" \
  >"$WORK/dev.log" 2>&1 &
pids+=($!)
for _ in $(seq 600); do
  [ -s "$WORK/env" ] && break
  kill -0 "${pids[1]}" 2>/dev/null || { cat "$WORK/dev.log" >&2; echo "error: jobgen dev exited" >&2; exit 1; }
  sleep 0.1
done
[ -s "$WORK/env" ] || { cat "$WORK/dev.log" >&2; echo "error: jobgen dev did not get ready" >&2; exit 1; }
sed -n '1,/ready/p' "$WORK/dev.log"
# The operator commands below are the ones you run against AWS; these exports point them here.
# shellcheck disable=SC1091
source "$WORK/env"

say "1. A job that succeeds (its simulated container runs 20 s; the simulator runs 10x faster)"
ok=$(run "$JOBGEN" submit hello --env DEV_RUN_SECONDS=20)

say "2. A job that fails with a non-zero exit code"
failed=$(run "$JOBGEN" submit sleep --env SLEEP_SECONDS=10 --env DEV_OUTCOME=fail --env DEV_EXIT_CODE=3)

say "3. The same request twice with one idempotency key: one job, one task"
first=$(run "$JOBGEN" submit hello --idempotency-key demo-order-42)
second=$(run "$JOBGEN" submit hello --idempotency-key demo-order-42)
[ "$first" = "$second" ] || { echo "error: the idempotency key gave two jobs: $first $second" >&2; exit 1; }
echo "both submissions returned job $first"

say "4. A job whose task fails to start (scripted: DEV_OUTCOME=fail-to-start): hello retries a failure to start once"
nostart=$(run "$JOBGEN" submit hello --env DEV_OUTCOME=fail-to-start)

say "Watching them to their final states"
status=0
for job in "$ok" "$failed" "$first" "$nostart"; do
  run "$JOBGEN" watch "$job" --interval 0.5 --timeout 120 >/dev/null || true
done

say "Logs of job $ok (written by the simulator into the task's CloudWatch log stream)"
run "$JOBGEN" logs "$ok"

say "The job that failed to start, after its retry: attempt 2, the first attempt in its history"
run "$JOBGEN" status "$nostart"

say "Summary (hello runs at most 2 at once: the third waited QUEUED and started as one finished)"
run "$JOBGEN" list --since 1h
run "$JOBGEN" stats --since 1h

expect() {
  local job=$1 want=$2 got
  got=$("$JOBGEN" status "$job" --output json | "$VENV_BIN/python" -c 'import json,sys; j=json.load(sys.stdin); print(j["status"], j.get("failureClass","-"))')
  if [ "$got" = "$want" ]; then echo "ok   $job: $got"; else echo "FAIL $job: $got (expected $want)"; status=1; fi
}
say "Checks"
expect "$ok" "SUCCEEDED -"
expect "$failed" "FAILED NON_ZERO_EXIT"
expect "$first" "SUCCEEDED -"
expect "$nostart" "FAILED FAILED_TO_START"
tasks=$("$VENV_BIN/aws" --endpoint-url "$AWS_ENDPOINT_URL" ecs list-tasks --cluster quickstart-main \
  --started-by jobgen/quickstart --query 'length(taskArns)' --output text)
echo "ECS tasks started: $tasks (4 jobs from 5 submissions, one of them retried once)"
[ "$tasks" = 5 ] || status=1

say "Events per job (emitted by the simulator / matched by the deployed rule / delivered to track)"
sleep 1
grep 'jobgen dev: job ' "$WORK/dev.log" || true

[ "$status" = 0 ] && say "Demo complete: every job ended as scripted." || say "Demo finished with unexpected results."
exit "$status"
