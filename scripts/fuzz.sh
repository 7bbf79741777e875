#!/usr/bin/env bash
# make fuzz: run each fuzz target given for FUZZ_SECONDS (default 60), from seeds made here
# by profiling test programs (a leak report and profiles with map inventories) and, for the
# unwind-rule parser, from a test plugin's loaded image. A target that
# finds a crash, leak or sanitizer report fails, and its input is kept under build/fuzz/.
# Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
B=build
SECS=${FUZZ_SECONDS:-60}
SEEDS=$B/fuzz/seeds
rm -rf "$SEEDS" && mkdir -p "$SEEDS/raw" "$SEEDS/pprof_reader" "$SEEDS/report_files"

# Seeds: what the profiler really writes.
MAPPROF_OPTIONS="leak_check=1:leak_report=$SEEDS/raw/r:output=$SEEDS/raw/p" \
  LD_PRELOAD=$B/libmapprof.so $B/tests/preload/leakmaps >/dev/null 2>&1
MAPPROF_OPTIONS="rate=1:output=$SEEDS/raw/h" LD_PRELOAD=$B/libmapprof.so $B/tests/preload/hmdiff >/dev/null 2>&1
for f in "$SEEDS"/raw/*.pb.gz; do
  cp "$f" "$SEEDS/pprof_reader/"
  gzip -dc "$f" > "$SEEDS/pprof_reader/$(basename "$f" .gz)"
done
for f in "$SEEDS"/raw/*.leaks; do { printf '\001'; cat "$f"; } > "$SEEDS/report_files/$(basename "$f")"; done
for f in "$SEEDS"/raw/*.maps; do { printf '\000'; cat "$f"; } > "$SEEDS/report_files/$(basename "$f")"; done
# the unwind-rule parser's: a small shared object's real image, at return addresses in its code
if [ -x "$B/fuzz/cfi_rules" ]; then
  mkdir -p "$SEEDS/cfi_rules"
  MAPPROF_FUZZ_SEEDS="$SEEDS/cfi_rules" MAPPROF_FUZZ_OBJECT="$PWD/$B/tests/preload/plugin.so" \
    "$B/fuzz/cfi_rules" >/dev/null 2>&1
fi

pass=0 fail=0
for prog in "$@"; do
  name=$(basename "$prog")
  corpus=$B/fuzz/corpus-$name
  mkdir -p "$corpus"
  seeds=$SEEDS/$name
  [ -d "$seeds" ] || seeds=
  echo "== $name: ${SECS}s"
  if "$prog" -max_total_time="$SECS" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
       -artifact_prefix="$B/fuzz/$name-" "$corpus" $seeds > "$B/fuzz/$name.log" 2>&1; then
    grep -E '^stat::number_of_executed_units' "$B/fuzz/$name.log" | sed 's/^/  /'
    pass=$((pass + 1))
  else
    echo "  FAIL $name: see $B/fuzz/$name.log"
    grep -E '^==[0-9]+==ERROR|SUMMARY|Test unit written' "$B/fuzz/$name.log" | head -5 | sed 's/^/  /'
    fail=$((fail + 1))
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
