#!/usr/bin/env bash
# make bench: side-by-side benchmarks, one run, alternating configurations (A B C ... A B C),
# median wall time ratio to the uninstrumented program and peak RSS. Never part of make test.
#   BENCH_RUNS=5 (runs per configuration), BENCH_OPS=4 (churn workload, millions of ops)
set -u
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-5}
OPS=${BENCH_OPS:-4}
LIB=$PWD/build/libmapprof.so
W=$PWD/build/tests/bench/churn
TMP=$(mktemp -d /tmp/mapprof-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

names=(plain mapprof_default mapprof_rate1_fp mapprof_rate1_libunwind heaptrack)
run_config() {   # run_config NAME -> prints "seconds maxrss_kb"
  local out="$TMP/p.$1"
  case $1 in
    plain) /usr/bin/time -f '%e %M' -o "$TMP/t" "$W" "$OPS" >/dev/null ;;
    mapprof_default) MAPPROF_OPTIONS="output=$out" LD_PRELOAD=$LIB /usr/bin/time -f '%e %M' -o "$TMP/t" "$W" "$OPS" >/dev/null ;;
    mapprof_rate1_fp) MAPPROF_OPTIONS="rate=1:unwind=fp:output=$out" LD_PRELOAD=$LIB /usr/bin/time -f '%e %M' -o "$TMP/t" "$W" "$OPS" >/dev/null ;;
    mapprof_rate1_libunwind) MAPPROF_OPTIONS="rate=1:output=$out" LD_PRELOAD=$LIB /usr/bin/time -f '%e %M' -o "$TMP/t" "$W" "$OPS" >/dev/null ;;
    heaptrack) /usr/bin/time -f '%e %M' -o "$TMP/t" heaptrack -o "$TMP/ht.$RANDOM" "$W" "$OPS" >/dev/null 2>&1 ;;
  esac
  tail -1 "$TMP/t"
  rm -f "$TMP"/p.* "$TMP"/ht.*
}

echo "churn workload: chained hash map, ${OPS}M ops, $RUNS runs per configuration, alternating"
for ((r = 0; r < RUNS; r++)); do
  for n in "${names[@]}"; do
    command -v heaptrack >/dev/null || [ "$n" != heaptrack ] || continue
    read -r s kb < <(run_config "$n")
    echo "$n $s $kb" >>"$TMP/results"
  done
done
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
base=$(awk '$1 == "plain" { print $2 }' "$TMP/results" | median)
base_kb=$(awk '$1 == "plain" { print $3 }' "$TMP/results" | median)
printf '\n%-26s %10s %8s %12s %8s\n' configuration median_s ratio peak_rss_MB rss_x
for n in "${names[@]}"; do
  s=$(awk -v n="$n" '$1 == n { print $2 }' "$TMP/results" | median)
  [ -n "$s" ] || continue
  kb=$(awk -v n="$n" '$1 == n { print $3 }' "$TMP/results" | median)
  awk -v n="$n" -v s="$s" -v b="$base" -v kb="$kb" -v bk="$base_kb" \
    'BEGIN { printf "%-26s %10.3f %7.2fx %12.1f %7.2fx\n", n, s, s / b, kb / 1024, kb / bk }'
done

if [ -x tests/bench/hashmap_bench.sh ] || [ -f tests/bench/hashmap_bench.sh ]; then
  echo; bash tests/bench/hashmap_bench.sh
fi
