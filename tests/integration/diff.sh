# Integration: mapprof diff. The delta profile agrees with `go tool pprof -base`; the map
# findings are exactly the expected ones (retained buckets, growth over a series, dangling
# references), from files copied to another directory; bad inputs exit 2.
. "$(dirname "$0")/../lib.sh"

mkdir -p "$TMP/run" "$TMP/copy"
MAPPROF_OPTIONS="output=$TMP/run/p:at_exit=0" LD_PRELOAD="$LIB" "$TP/diffmaps" >/dev/null
cp "$TMP"/run/* "$TMP/copy/"            # offline: only the files, elsewhere
rm -rf "$TMP/run"
cd "$TMP/copy" || exit 1
d0=$(ls p.*.0.pb.gz); d1=$(ls p.*.1.pb.gz); d2=$(ls p.*.2.pb.gz)

kinds() { python3 -c 'import json,sys; print(" ".join("%s:%d" % (f["kind"], f["map"]["id"]) for f in json.load(sys.stdin)["findings"]))'; }

t_begin diff_two_snapshots_retained_buckets
got=$("$MAPPROF" diff "$d1" "$d2" --format json | kinds)
t_eq "$got" "retained_buckets:1" "findings (the shrunk map and the caches give none)"
"$MAPPROF" diff "$d1" "$d2" | grep -q "^retained_buckets: map 1 (annotated) created at u64map_new" || t_fail "text report"
t_end

t_begin diff_series_growth
got=$("$MAPPROF" diff --series "$d0" "$d1" "$d2" --format json | kinds)
t_eq "$got" "retained_buckets:1 growth:3" "findings (the evicting cache gives none)"
"$MAPPROF" diff --series "$d0" "$d1" "$d2" --format json | python3 -c '
import json, sys
g = [f for f in json.load(sys.stdin)["findings"] if f["kind"] == "growth"][0]
assert g["entries"] == [1000, 2000, 3000] and g["growth_per_snapshot"] == 1000, g
assert g["map"]["created_at"][0]["function"] == "u64map_new", g' || t_fail "growth details"
t_end

t_begin diff_delta_equals_pprof_base
"$MAPPROF" diff "$d1" "$d2" -o delta.pb.gz >/dev/null 2>&1 || t_fail "diff -o failed"
for si in inuse_space alloc_space inuse_objects; do
  a=$("${GO_PPROF[@]}" -top -unit=B -nodefraction=0 -nodecount=100000 -sample_index=$si delta.pb.gz 2>/dev/null | awk '/flat%/ { s = 1; next } s')
  b=$("${GO_PPROF[@]}" -top -unit=B -nodefraction=0 -nodecount=100000 -sample_index=$si -base "$d1" "$d2" 2>/dev/null | awk '/flat%/ { s = 1; next } s')
  [ "$a" = "$b" ] || t_fail "$si: delta differs from pprof -base"
  [ "$si" != inuse_space ] || [ -n "$a" ] || t_fail "inuse_space: empty delta"
done
t_end

t_begin diff_dangling_references
mkdir -p "$TMP/dg"
MAPPROF_OPTIONS="output=$TMP/dg/d:dangling=all" LD_PRELOAD="$LIB" "$TP/dangling" >/dev/null
n=$("$MAPPROF" diff "$(ls "$TMP"/dg/d.*.0.pb.gz)" "$(ls "$TMP"/dg/d.*.1.pb.gz)" --format json | python3 -c '
import json, sys
f = json.load(sys.stdin)["findings"]
d = [x for x in f if x["kind"] == "dangling"]
assert all(x["freed_at"][0]["function"] == "free_some" for x in d), d
print(len(d))')
t_eq "$n" 10 "dangling references in NEW"
t_end

t_begin diff_bad_inputs_exit_2
head -c 100 "$d1" >trunc.pb.gz
"$MAPPROF" diff trunc.pb.gz "$d2" >/dev/null 2>err; t_eq "$?" 2 "truncated"
[ "$(wc -l <err)" = 1 ] || t_fail "not one line: $(cat err)"
"$MAPPROF" diff /etc/passwd "$d2" >/dev/null 2>&1; t_eq "$?" 2 "not a profile"
MAPPROF_OPTIONS="rate=4096:output=$TMP/copy/r" LD_PRELOAD="$LIB" "$TP/known" >/dev/null
"$MAPPROF" diff "$d1" "$(ls r.*.pb.gz | head -1)" >/dev/null 2>err; t_eq "$?" 2 "different rates"
grep -q "different rates" err || t_fail "reason: $(cat err)"
"$MAPPROF" diff "$d1" >/dev/null 2>&1; t_eq "$?" 2 "one file"
t_end

# The reader stops at 1 GiB: a device that never ends (it read /dev/zero until memory ran out)
# and a file that size are refused with one line, the file without reading it.
t_begin report_endless_or_huge_input_exit_2
timeout 60 "$MAPPROF" report /dev/zero >/dev/null 2>err; t_eq "$?" 2 "/dev/zero"
grep -q "larger than 1 GiB" err || t_fail "reason: $(cat err)"
[ "$(wc -l <err)" = 1 ] || t_fail "not one line: $(cat err)"
truncate -s 1100M huge.pb
timeout 10 "$MAPPROF" diff huge.pb "$d2" >/dev/null 2>err; t_eq "$?" 2 "a sparse 1.1 GiB file"
grep -q "huge.pb: larger than 1 GiB" err || t_fail "reason: $(cat err)"
rm -f huge.pb
t_end

t_done
