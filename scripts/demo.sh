#!/usr/bin/env bash
# make demo: profile the bundled map-heavy example (a chained hash map cache that deletes most
# of what it inserts) and print the top of its profile.
set -eu
cd "$(dirname "$0")/.."
out=$(mktemp -d /tmp/mapprof-demo.XXXXXX)
echo "== profiling build/tests/bench/churn (chained hash map, 2M operations) at rate=4096"
./build/mapprof run --rate 4096 -o "$out/churn" -- ./build/tests/bench/churn 2
pb=$(ls "$out"/churn.*.pb.gz | head -1)
echo
echo "== mapprof report $pb --top 12"
./build/mapprof report "$pb" --top 12
echo
echo "Open it with: go tool pprof -top $pb   (or -http=:8080 for the web UI)"
