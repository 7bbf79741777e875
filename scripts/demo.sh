#!/usr/bin/env bash
# make demo: profile the bundled map-heavy example (a chained hash map cache that deletes most
# of what it inserts) and print the top of its profile; then a program on hashmap/ whose map
# table and snapshot diff show a map that kept its buckets after its entries went.
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
echo
echo "== maps: build/tests/preload/hmmaps (five maps on hashmap/; 99% of one map's entries deleted)"
./build/mapprof run -o "$out/maps" -- ./build/tests/preload/hmmaps >/dev/null
grown=$(ls "$out"/maps.*.0.pb.gz); deleted=$(ls "$out"/maps.*.1.pb.gz)
echo "== mapprof report (after the deletes): the map table, most retained first"
./build/mapprof report "$deleted" --top 5 | sed -n '/^Maps:/,$p'
echo
echo "== mapprof diff: what changed between the two snapshots"
./build/mapprof diff "$grown" "$deleted"
