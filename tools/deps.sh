#!/bin/sh
# Install the Debian packages chainlab builds and tests with (DESIGN.md, "Dependencies"), and
# those of the reliability runs: clang and its libFuzzer runtime (make fuzz), clang-format
# (make format-check), valgrind (make soak), linux-perf (tools/profile.py), and what the run
# pictures need: graphviz (topology.svg), gnuplot-nox (plots) and chromium (the browser test of
# report.html).
# As root it runs apt-get; otherwise it prints the exact command to run.
set -eu
PKGS="build-essential pkg-config libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev libssl-dev
check libsubunit-dev libsqlite3-dev python3 python3-pytest python3-requests wrk
clang libclang-rt-14-dev clang-format valgrind linux-perf graphviz gnuplot-nox chromium"
PKGS=$(echo $PKGS)

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    echo "deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
    echo "deps: missing packages:$missing" >&2
    echo "deps: run: sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
