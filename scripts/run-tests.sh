#!/usr/bin/env bash
# Runs every unit test binary (build/tests/unit/*) and integration script
# (tests/integration/*.sh), each under a time limit, and sums their closing
# "N passed, N failed" lines. A program that dies without that line counts as one failure.
# The whole output of a program that failed is kept in build/test-logs/NAME.log.
set -u
cd "$(dirname "$0")/.."
total_p=0; total_f=0
limit=${MAPPROF_TEST_TIMEOUT:-600}
run_one() {
  local name=$1; shift
  local out rc line p f
  echo "== $name"
  out=$(timeout -k 10 "$limit" "$@" 2>&1); rc=$?
  rm -f "build/test-logs/$name.log"
  printf '%s\n' "$out" | grep -v '^PASS ' | tail -n 60
  line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
  if [ -z "$line" ]; then
    echo "   $name: no result line (exit status $rc)"
    total_f=$((total_f + 1)); keep_log "$name" "$out"; return
  fi
  p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
  total_p=$((total_p + p)); total_f=$((total_f + f))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "   $name: exit status $rc with no failed test"; total_f=$((total_f + 1))
  fi
  if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then keep_log "$name" "$out"; fi
}
keep_log() {
  mkdir -p build/test-logs && printf '%s\n' "$2" >"build/test-logs/$1.log" &&
    echo "   $1: whole output in build/test-logs/$1.log"
}
for t in build/tests/unit/*; do
  [ -x "$t" ] && [ -f "$t" ] && run_one "$(basename "$t")" "$t"
done
for t in tests/integration/*.sh; do
  [ -f "$t" ] && run_one "$(basename "$t" .sh)" bash "$t"
done
echo
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
