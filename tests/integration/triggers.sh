# Integration: the dump triggers besides exit: every `interval` seconds, each time in-use bytes
# grow by `inuse_step`, the signal in a single-threaded program (no thread of ours until it
# comes), and the retained_space sample type of maps.
. "$(dirname "$0")/../lib.sh"

t_begin interval_dumps
out="$TMP/iv"
MAPPROF_OPTIONS="interval=1:output=$out" LD_PRELOAD="$LIB" "$TP/grower" 3
t_eq "$?" 0 "exit status"
n=$(ls "$out".*.pb.gz 2>/dev/null | wc -l)
# 3 s of run: dumps at 1 s and 2 s (3 s may race the exit), plus the exit dump
[ "$n" -ge 3 ] && [ "$n" -le 4 ] || t_fail "expected 3 or 4 profiles, got $n"
for f in "$out".*.pb.gz; do
  "${GO_PPROF[@]}" -raw "$f" 2>/dev/null | grep -q 'mapprof snapshot: \(interval\|exit\)' || \
    "${GO_PPROF[@]}" -comments "$f" 2>/dev/null | grep -q 'interval\|exit' || t_fail "$f: not tagged interval/exit"
done
t_end

t_begin signal_starts_the_helper
out="$TMP/lz/p"
mkdir -p "$TMP/lz"
MAPPROF_OPTIONS="output=$out" LD_PRELOAD="$LIB" "$TP/lazyhelper" "$out" >"$TMP/lz.out"
t_eq "$?" 0 "exit status"
grep -q '^single_threaded_before 1$' "$TMP/lz.out" || t_fail "a thread of ours before the signal: $(cat "$TMP/lz.out")"
grep -q '^signal_dump 1$' "$TMP/lz.out" || t_fail "no profile after the signal: $(cat "$TMP/lz.out")"
n=$(ls "$TMP/lz" | grep -c '\.pb\.gz$')
t_eq "$n" 2 "profiles (signal, exit)"
for f in "$TMP"/lz/*.pb.gz; do
  "${GO_PPROF[@]}" -raw "$f" >/dev/null 2>&1 || t_fail "invalid profile $f"
done
# the control: interval= needs the helper from the start, and the program sees its thread
MAPPROF_OPTIONS="interval=60:output=$TMP/lz/q" LD_PRELOAD="$LIB" "$TP/lazyhelper" "$TMP/lz/q" >"$TMP/lz2.out"
grep -q '^single_threaded_before 0$' "$TMP/lz2.out" || t_fail "control: $(cat "$TMP/lz2.out")"
# a program with a thread of its own gets the helper without the signal (main and helper left)
MAPPROF_OPTIONS="output=$TMP/lz/r" LD_PRELOAD="$LIB" "$TP/lazyhelper" "$TMP/lz/r" thread >"$TMP/lz3.out"
grep -q '^threads_after_join 2$' "$TMP/lz3.out" || t_fail "second thread: $(cat "$TMP/lz3.out")"
MAPPROF_OPTIONS="signal=none:output=$TMP/lz/s" LD_PRELOAD="$LIB" "$TP/lazyhelper" "$TMP/lz/s" thread >"$TMP/lz4.out"
grep -q '^threads_after_join 1$' "$TMP/lz4.out" || t_fail "signal=none control: $(cat "$TMP/lz4.out")"
# the program closes the helper's pipe under it: the signal still gets its profile
MAPPROF_OPTIONS="output=$TMP/lz/c" LD_PRELOAD="$LIB" "$TP/lazyhelper" "$TMP/lz/c" closefds >"$TMP/lz5.out"
grep -q '^signal_dump 1$' "$TMP/lz5.out" || t_fail "after closing our pipe: $(cat "$TMP/lz5.out")"
t_end

t_begin inuse_step_dumps
out="$TMP/st"
# 20 x 1 MiB kept, a dump each time in-use bytes pass another 5 MiB: 4 step dumps + exit
MAPPROF_OPTIONS="rate=1:inuse_step=5M:output=$out" LD_PRELOAD="$LIB" "$TP/grower" 2
n=$(ls "$out".*.pb.gz 2>/dev/null | wc -l)
[ "$n" -ge 4 ] && [ "$n" -le 6 ] || t_fail "expected about 5 profiles, got $n"
# each step profile holds at least the step it was taken for
k=0
for f in $(ls "$out".*.pb.gz | sort -t. -k3 -n); do
  v=$(pprof_flat "$f" inuse_space | flat_of grow_step)
  [ "$v" -ge $(( (k < 4 ? k + 1 : 4) * 5 * 1048576 )) ] || t_fail "profile $k: grow_step holds $v"
  k=$((k + 1))
done
t_end

t_begin retained_space_sample_type
out="$TMP/rs"
MAPPROF_OPTIONS="output=$out" LD_PRELOAD="$LIB" "$TP/annotated" >/dev/null
pb=$(ls "$out".*.pb.gz | tail -1)
maps="${pb%.pb.gz}.maps"
want=$(awk -F'\t' '$1 == "map" { s += $12 } END { print s }' "$maps")
got=$("${GO_PPROF[@]}" -top -unit=B -nodefraction=0 -sample_index=retained_space "$pb" 2>/dev/null | awk '/^Showing nodes accounting for/ { v = $5; sub(/B,?$/, "", v); print v; exit }')
t_eq "$got" "$want" "retained_space total vs the maps' retained bytes"
"${GO_PPROF[@]}" -raw "$pb" 2>/dev/null | grep -q 'inuse_space/bytes\[dflt\]' || t_fail "inuse_space is not the default sample type"
t_end

t_done
