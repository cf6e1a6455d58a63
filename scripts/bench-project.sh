# Sourced by the synth benchmarks (bench-synth.sh, bench-cdk.sh): the one generated project they
# measure, so both time the same thing.

# project FILE N: a project with one created cluster and N small job types named j-001...
project() {
  local file=$1 n=$2 i
  {
    printf 'version: 1\nproject:\n  name: bench\nclusters:\n  main:\n    create: {}\n'
    printf 'defaults:\n  network:\n    subnets: [subnet-0123456789abcdef0]\n    security_groups: [sg-0123456789abcdef0]\n'
    printf 'job_types:\n'
    for ((i = 1; i <= n; i++)); do
      printf '  j-%03d:\n    task:\n      image: public.ecr.aws/docker/library/busybox:1.36\n      cpu: 256\n      memory: 512\n' "$i"
    done
  } >"$file"
}
