#!/usr/bin/env bash
# `jobgen synth` next to `cdk synth` of the equivalent CDK app (bench/cdk/app.js), measured in the
# same run, for N job types (default 1 42 120 500); prints the tables BENCHMARKS.md records.
#
# Each measurement is RUNS runs (default 3; jobgen: JOBGEN_RUNS, default 10) of `/usr/bin/time`: the median wall time
# and the median peak RSS. /usr/bin/time reports the largest single process it waited for: for the
# CDK CLI that is the larger of the CLI and the app it spawns (not their sum).
#   jobgen: JOBGEN synth -c jobgen.yaml -o DIR (release build; exit 2 with a limit report is
#           recorded as "refused", with the exit code).
#   cdk CLI: npx --no-install cdk synth --quiet -o DIR (bench/cdk's pinned aws-cdk CLI: what a CDK
#           user runs, its start-up included).
#   cdk app: CDK_OUTDIR=DIR node app.js (the app alone, the CLI's start-up and work left out).
#   cdk CLI, resource check off: when `cdk synth` refuses (aws-cdk-lib refuses a stack of more than
#           500 resources), again with -c @aws-cdk/core:stackResourceLimit=0: the template it then
#           writes (resources, bytes) is the one CloudFormation would reject.
# The CDK runs get no AWS credentials and an endpoint of 127.0.0.1:9, so the CLI's default-account
# lookup finds nothing to call; notices, telemetry and the version check are off.
#
# Env: JOBGEN (default target/release/jobgen), NS ("1 42 120 500"), RUNS (3), JOBGEN_RUNS (10), BENCH_CDK_THRESHOLD
# (1: also find the first N whose CDK template exceeds 500 resources, by synthesizing it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

JOBGEN=$(realpath "${JOBGEN:-target/release/jobgen}")
NS=${NS:-1 42 120 500}
RUNS=${RUNS:-3}
JOBGEN_RUNS=${JOBGEN_RUNS:-10}
CDK_DIR=$ROOT/bench/cdk
WORK=$(mktemp -d "${TMPDIR:-/tmp}/jobgen-bench-cdk.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

[ -x "$JOBGEN" ] || { echo "bench-cdk: no $JOBGEN: build it (cargo build --release -p jobgen)" >&2; exit 1; }
[ -x "$CDK_DIR/node_modules/.bin/cdk" ] || (cd "$CDK_DIR" && npm ci --no-audit --no-fund)

# project FILE N: the benchmarks' generated project.
# shellcheck source=scripts/bench-project.sh
source scripts/bench-project.sh

# cdkenv N: the environment a CDK run gets (the command follows).
cdkenv() {
  CDKENV=(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE
    AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
    AWS_ENDPOINT_URL=http://127.0.0.1:9 CDK_DISABLE_VERSION_CHECK=1 CDK_DISABLE_CLI_TELEMETRY=true
    JOBGEN_BENCH_N="$1" JOBGEN_BENCH_ASSETS="$WORK/assets")
}

# measure NAME OUTDIR CMD...: RUNS timed runs (JOBGEN_RUNS for jobgen, after one untimed warm-up
# run; OUTDIR emptied before each); prints "median_wall median_rss_kib exit_code" and keeps the
# last run's stderr in $WORK/NAME.err. Wall time is taken around /usr/bin/time in nanoseconds
# (its own %e has 10 ms steps, coarser than jobgen's runs); peak RSS is its %M.
measure() {
  local name=$1 out=$2 i rc runs=$RUNS start
  shift 2
  if [ "$1" = "$JOBGEN" ]; then
    runs=$JOBGEN_RUNS
    rm -rf "$out"
    "$@" >/dev/null 2>&1 || true
  fi
  : >"$WORK/$name.times"
  for ((i = 1; i <= runs; i++)); do
    rm -rf "$out"
    rc=0
    start=$(date +%s%N)
    /usr/bin/time -f '%M' -o "$WORK/$name.time" "$@" >/dev/null 2>"$WORK/$name.err" || rc=$?
    echo "$(( ($(date +%s%N) - start) / 1000 ))e-6 $(tail -n1 "$WORK/$name.time")" >>"$WORK/$name.times"
  done
  python3 - "$WORK/$name.times" "$rc" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
print(f"{statistics.median(float(r[0]) for r in rows):.4f} {int(statistics.median(int(r[1]) for r in rows))} {sys.argv[2]}")
EOF
}

# stats DIR GLOB: "templates resources_total resources_max bytes_max" over DIR's templates.
stats() {
  python3 - "$1" "$2" <<'EOF'
import json, pathlib, re, sys
files = sorted(pathlib.Path(sys.argv[1]).rglob(sys.argv[2])) if pathlib.Path(sys.argv[1]).is_dir() else []
counts, sizes = [], []
for f in files:
    text = f.read_text()
    if f.suffix == ".json":
        counts.append(len(json.loads(text).get("Resources", {})))
    else:  # jobgen's YAML: resources are the 2-space keys under Resources, each with a 4-space Type
        counts.append(len(re.findall(r"^    Type: ", text, re.M)))
    sizes.append(len(text.encode()))
print(len(files), sum(counts), max(counts, default=0), max(sizes, default=0))
EOF
}

echo "jobgen: $("$JOBGEN" --version)"
echo "node: $(node --version); aws-cdk-lib $(node -p "require('$CDK_DIR/node_modules/aws-cdk-lib/package.json').version");" \
  "aws-cdk CLI $(node -p "require('$CDK_DIR/node_modules/aws-cdk/package.json').version")"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start; $RUNS runs each, median"
echo

results=()
declare -A phases
for n in $NS; do
  project "$WORK/jobgen-$n.yaml" "$n"
  j=$(measure "jobgen-$n" "$WORK/out-jobgen-$n" "$JOBGEN" synth -c "$WORK/jobgen-$n.yaml" -o "$WORK/out-jobgen-$n")
  js=$(stats "$WORK/out-jobgen-$n" '*.yaml')
  [ "${j##* }" = 0 ] || sed -n '1,4p' "$WORK/jobgen-$n.err" | sed "s/^/  jobgen N=$n: /" >&2
  cdkenv "$n"
  c=$(cd "$CDK_DIR" && measure "cli-$n" "$WORK/out-cli-$n" "${CDKENV[@]}" npx --no-install cdk synth --quiet -o "$WORK/out-cli-$n")
  a=$(cd "$CDK_DIR" && measure "app-$n" "$WORK/out-app-$n" "${CDKENV[@]}" CDK_OUTDIR="$WORK/out-app-$n" node app.js)
  # CDK refuses a stack of more than 500 resources at synth time (TooManyResourcesInStack); with
  # that check off (context @aws-cdk/core:stackResourceLimit=0) it writes the template
  # CloudFormation would reject: measured too, for its time, resources and bytes.
  if [ "${c##* }" = 0 ]; then
    u=$c
    cp -r "$WORK/out-cli-$n" "$WORK/out-unl-$n"
  else
    grep -o "Number of resources in stack[^:]*: [0-9]* is greater than allowed maximum of [0-9]*" "$WORK/cli-$n.err" |
      head -n1 | sed "s/^/  cdk N=$n refused: /" >&2 || true
    u=$(cd "$CDK_DIR" && measure "unl-$n" "$WORK/out-unl-$n" "${CDKENV[@]}" \
      npx --no-install cdk synth --quiet -c @aws-cdk/core:stackResourceLimit=0 -o "$WORK/out-unl-$n")
  fi
  cs=$(stats "$WORK/out-unl-$n" '*.template.json')
  # Where the app's time goes (aws-cdk-lib's own counters, last CLI run, ms).
  phases[$n]=$(python3 - "$WORK/out-unl-$n/performance-counters.json" <<'EOF'
import json, sys
try:
    c = json.load(open(sys.argv[1]))["counters"]
except OSError:
    c = {}
print(" ".join(str(round(c.get(k, 0))) for k in ("phase:Load", "phase:Construction", "phase:Synthesis", "validateTemplates")))
EOF
  )
  results+=("$n $j $js $c $a $u $cs")
  echo "N=$n jobgen: $j / $js | cdk cli: $c | cdk app: $a | cdk cli, check off: $u / $cs" >&2
  cat "$WORK/cli-$n.err" "$WORK/unl-$n.err" 2>/dev/null | grep -o 'Template size [a-z ]*limit: [0-9/]*' | head -n1 |
    sed "s/^/  cdk N=$n: /" >&2 || true
done

python3 - "${results[@]}" <<'EOF'
import sys
LIMIT_RES, LIMIT_BYTES = 500, 1024 * 1024
def ms(w): return f"{w * 1000:.0f} ms" if w < 10 else f"{w:.1f} s"
def run(w, r, rc, what="refused"): return f"{ms(w)}, {r / 1024:.0f} MiB" + ("" if rc == "0" else f" ({what}: exit {rc})")
print("| job types | `jobgen synth` | jobgen output | `cdk synth` (CLI) | app alone (`node app.js`) | CLI, resource check off | CDK template (check off) | CDK / jobgen, wall (CLI) | CDK / jobgen, peak RSS (CLI) |")
print("|---|---|---|---|---|---|---|---|---|")
for arg in sys.argv[1:]:
    (n, jw, jr, jrc, jt, jres, jmax, jbytes, cw, cr, crc, aw, ar, arc, uw, ur, urc, ct, cres, cmax, cbytes) = arg.split()
    jw, jr, cw, cr, aw, ar, uw, ur = float(jw), int(jr), float(cw), int(cr), float(aw), int(ar), float(uw), int(ur)
    label = "" if jrc == "0" and crc == "0" else " (both refuse)" if jrc != "0" and crc != "0" else \
        " (jobgen refuses)" if jrc != "0" else " (CDK refuses)"
    jout = f"{jres} resources in {jt} template(s), largest {int(jbytes):,} B" if jrc == "0" else "limit report, no template"
    over = [f"{cmax} > {LIMIT_RES} resources"] if int(cmax) > LIMIT_RES else []
    if int(cbytes) > LIMIT_BYTES:
        over.append("over 1 MB")
    cout = f"{cres} resources, {int(cbytes):,} B" + (f" (**{', '.join(over)}: CloudFormation rejects it**)" if over else "")
    print(f"| {n} | {run(jw, jr, jrc)} | {jout} | {run(cw, cr, crc)} | {run(aw, ar, arc)} | {run(uw, ur, urc, 'failed')} "
          f"| {cout} | {cw / jw:.0f}×{label} | {cr / jr:.0f}×{label} |")
EOF

echo
echo "| job types | CDK app: load | construct | synthesize | of which validate templates |"
echo "|---|---|---|---|---|"
for n in $NS; do
  read -r l c s v <<<"${phases[$n]}"
  echo "| $n | $l ms | $c ms | $s ms | $v ms |"
done

# The first N whose CDK stack exceeds 500 resources: resources grow linearly with N; fit them from
# the two smallest N measured, then synthesize N-1 and N (app alone, check off and on; with the
# CLI's version-reporting context, so the app writes the CDKMetadata resource the CLI's runs have).
if [ "${BENCH_CDK_THRESHOLD:-1}" = 1 ]; then
  set -- $NS
  if [ $# -ge 2 ]; then
    r1=$(stats "$WORK/out-unl-$1" '*.template.json' | cut -d' ' -f2)
    r2=$(stats "$WORK/out-unl-$2" '*.template.json' | cut -d' ' -f2)
    per=$(((r2 - r1) / ($2 - $1)))
    base=$((r1 - per * $1))
    first=$(((500 - base) / per + 1))
    echo
    for n in $((first - 1)) $first; do
      cdkenv "$n"
      (cd "$CDK_DIR" && "${CDKENV[@]}" CDK_OUTDIR="$WORK/out-thr-$n" \
        CDK_CONTEXT_JSON='{"aws:cdk:version-reporting":true,"@aws-cdk/core:stackResourceLimit":0}' node app.js >/dev/null 2>&1) || true
      rc=0
      (cd "$CDK_DIR" && "${CDKENV[@]}" CDK_OUTDIR="$WORK/out-thr2-$n" CDK_CONTEXT_JSON='{"aws:cdk:version-reporting":true}' \
        node app.js >/dev/null 2>&1) || rc=$?
      project "$WORK/thr-$n.yaml" "$n"
      jrc=0
      "$JOBGEN" synth -c "$WORK/thr-$n.yaml" -o "$WORK/out-jthr-$n" >/dev/null 2>&1 || jrc=$?
      echo "N=$n: CDK $(stats "$WORK/out-thr-$n" '*.template.json' | cut -d' ' -f2) resources ($base + $per per job type)," \
        "cdk synth exit $rc; jobgen $(stats "$WORK/out-jthr-$n" '*.yaml' | cut -d' ' -f2) resources, exit $jrc"
    done
  fi
fi
