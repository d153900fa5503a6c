#!/usr/bin/env bash
# make check-under-load: the test suites on a clean clone of HEAD while two CPU hogs keep both
# cores busy, to show that no test depends on a quiet machine. Runs `make check` CHECK_RUNS times
# (default 5), then `make sanitize` and `make tsan` SANITIZER_RUNS times each (default 3), prints
# one line per run with its time, and a table at the end. Exit 1 when any run failed; each run's
# whole output stays in build/under-load/<target>-<n>.log.
#
# The hogs are `sh -c 'while :; do :; done'`, started here and killed by PID on any exit.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
check_runs=${CHECK_RUNS:-5}
sanitizer_runs=${SANITIZER_RUNS:-3}
hogs=${HOGS:-2}
out="$top/build/under-load"
clone="$out/clone"

vectors=${CHAINLAB_VECTORS:-$top/../shared/vectors/seed-chain.json}
if [ ! -f "$vectors" ]; then
    echo "check-under-load: no test vectors at $vectors (set CHAINLAB_VECTORS)" >&2
    exit 2
fi
export CHAINLAB_VECTORS=$(cd "$(dirname "$vectors")" && pwd)/$(basename "$vectors")

pids=()
stop_hogs() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    pids=()
}
trap stop_hogs EXIT
trap 'stop_hogs; exit 130' INT TERM

rm -rf "$out"
mkdir -p "$out"
git clone -q "$top" "$clone" || exit 2
# The clone expects the project's shared/ folder beside it, as the checkout does.
[ -d "$top/../shared" ] && ln -s "$(cd "$top/.." && pwd)/shared" "$out/shared"
echo "check-under-load: clean clone of $(git -C "$clone" rev-parse --short HEAD) in $clone"

for _ in $(seq "$hogs"); do
    sh -c 'while :; do :; done' &
    pids+=($!)
done
echo "check-under-load: $hogs CPU hogs running (pids ${pids[*]}) on $(nproc) cores"

results=()
failed=0
run() { # run TARGET N
    local target=$1 n=$2 log="$out/$1-$2.log" t0 t1 rc
    t0=$(date +%s)
    (cd "$clone" && make "$target") >"$log" 2>&1
    rc=$?
    t1=$(date +%s)
    local verdict=pass
    [ $rc -eq 0 ] || { verdict=FAIL; failed=1; }
    local load
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    printf '  %-9s run %d: %s in %ds (load average %s)\n' "$target" "$n" "$verdict" $((t1 - t0)) "$load"
    [ $rc -eq 0 ] || grep -E '^(FAILED|ERROR)|Failures: [1-9]|Errors: [1-9]' "$log" | head -20 | sed 's/^/      /'
    results+=("$target $n $verdict $((t1 - t0))")
}

for i in $(seq "$check_runs"); do run check "$i"; done
for i in $(seq "$sanitizer_runs"); do run sanitize "$i"; done
for i in $(seq "$sanitizer_runs"); do run tsan "$i"; done
stop_hogs

echo
echo "| target | runs | passed | time per run (s) |"
echo "| --- | --- | --- | --- |"
for target in check sanitize tsan; do
    printf '%s\n' "${results[@]}" | awk -v t="$target" '
        $1 == t { n++; if ($3 == "pass") ok++; times = times (times ? ", " : "") $4 }
        END { if (n) printf "| make %s | %d | %d | %s |\n", t, n, ok, times }'
done
echo
echo "logs: $out/<target>-<n>.log"
exit $failed
