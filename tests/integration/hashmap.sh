# Integration: maps on the project's own hashmap/ library, profiled unmodified (the library
# finds libmapprof.so's hooks by itself). The map inventory equals what the program's own
# hm_stats says at every snapshot, at rate=1 and at the default rate; pprof's tag filters
# select exactly the maps' memory; diffs and live findings name exactly the expected maps.
. "$(dirname "$0")/../lib.sh"

for rate in 1 524288; do
  t_begin "hashmap_inventory_equals_hm_stats_rate_$rate"
  out="$TMP/h$rate"
  MAPPROF_OPTIONS="rate=$rate:output=$out" LD_PRELOAD="$LIB" "$TP/hmmaps" >"$TMP/h$rate.truth" || t_fail "hmmaps failed"
  seq=-1
  while read -r what a b c d e f g h i; do
    if [ "$what" = phase ]; then
      seq=$((seq + 1)); tag=$a
      file=$(ls "$out".*."$seq".maps 2>/dev/null)
      [ -f "$file" ] || { t_fail "no maps file for $tag"; continue; }
      t_eq "$(awk -F'\t' '$1 == "snapshot" { print $4 }' "$file")" "$tag" "snapshot $seq tag"
      t_eq "$(maps_ids "$file")" "1 2 3 4 5 " "$tag: live maps (6 was freed)"
      continue
    fi
    # map NAME ID entries buckets bucket_bytes overflow padding retained indirect
    name=$a id=$b
    t_eq "$(maps_field "$file" "$id" 3)" mphash "$tag $name: kind"
    t_eq "$(maps_field "$file" "$id" 4)" "$c" "$tag $name: entries"
    t_eq "$(maps_field "$file" "$id" 6)" "$d" "$tag $name: buckets"
    t_eq "$(maps_field "$file" "$id" 8)" "$e" "$tag $name: bucket bytes"
    t_eq "$(maps_field "$file" "$id" 10)" "$f" "$tag $name: overflow buckets"
    t_eq "$(maps_field "$file" "$id" 11)" "$g" "$tag $name: padding bytes"
    t_eq "$(maps_field "$file" "$id" 12)" "$h" "$tag $name: retained bytes"
    t_eq "$(maps_field "$file" "$id" 9)" "$i" "$tag $name: node bytes (indirect values)"
  done <"$TMP/h$rate.truth"
  t_eq "$seq" 1 "phases seen"
  f1=$(ls "$out".*.1.maps 2>/dev/null)
  t_eq "$(maps_field "$f1" 1 5)" 100000 "peak entries of the kept map"
  r1=$(maps_field "$f1" 1 12); r2=$(maps_field "$f1" 2 12)
  [ "${r1:-0}" -gt 1000000 ] || t_fail "kept map retains only ${r1:-?} bytes"
  [ "${r2:-1}" -lt $(( ${r1:-0} / 100 )) ] || t_fail "shrunk map retains $r2 bytes (kept: $r1)"
  t_end
done

t_begin hashmap_labels_select_map_memory
for seq in 0 1; do
  pb=$(ls "$TMP"/h1.*.$seq.pb.gz)
  mf=$(ls "$TMP"/h1.*.$seq.maps)
  want=$(awk -F'\t' '$1 == "map" { s += $8 + $9 } END { print s + 0 }' "$mf")
  t_eq "$(pprof_focus_total "$pb" map_kind=mphash inuse_space)" "$want" "snapshot $seq: mphash-tagged in-use bytes vs bucket + node bytes"
  t_eq "$(pprof_focus_total "$pb" role=value inuse_space)" "$(maps_field "$mf" 5 9)" "snapshot $seq: role=value selects map 5's indirect values"
done
t_end

t_begin hashmap_report_json
pb=$(ls "$TMP"/h524288.*.1.pb.gz)
"$MAPPROF" report "$pb" --format json >"$TMP/r.json" || t_fail "report --format json failed"
python3 - "$TMP/r.json" <<'PY' || t_fail "report JSON"
import json, sys
d = json.load(open(sys.argv[1]))
m = {x["id"]: x for x in d["maps"]}
def site(frames):   # the creation site: the first frame outside the map library
    return [f["function"] for f in frames if not f["function"].startswith("hm_")][0]
assert sorted(m) == [1, 2, 3, 4, 5], sorted(m)
assert all(x["kind"] == "mphash" for x in m.values())
assert d["maps"][0]["id"] == 1, "most retained first"
assert site(m[1]["created_at"]) == "new_u64_map", m[1]["created_at"][:2]
assert site(m[4]["created_at"]) == "main", m[4]["created_at"][:2]
assert m[1]["peak_entries"] == 100000 and m[1]["entries"] == 1000
PY
t_end

mkdir -p "$TMP/run" "$TMP/copy"
MAPPROF_OPTIONS="output=$TMP/run/p:at_exit=0:findings=1:dangling=all" LD_PRELOAD="$LIB" "$TP/hmdiff" >/dev/null || t_fail "hmdiff failed"
cp "$TMP"/run/* "$TMP/copy/"            # offline: only the files, elsewhere
d0=$(ls "$TMP"/copy/p.*.0.pb.gz); d1=$(ls "$TMP"/copy/p.*.1.pb.gz); d2=$(ls "$TMP"/copy/p.*.2.pb.gz)
rm -rf "$TMP/run"
kinds() { python3 -c 'import json,sys; print(" ".join("%s:%d" % (f["kind"], f["map"]["id"]) for f in json.load(sys.stdin)["findings"]))'; }

t_begin hashmap_diff_findings
got=$("$MAPPROF" diff "$d1" "$d2" --format json | kinds)
t_eq "$got" "retained_buckets:1$(printf ' dangling:5%.0s' 1 2 3 4 5 6 7 8 9 10)" "d1 -> d2 findings"
got=$("$MAPPROF" diff --series "$d0" "$d1" "$d2" --format json | kinds)
case "$got" in
  *growth:3*) ;;
  *) t_fail "series: no growth finding for the cache: $got" ;;
esac
case "$got" in *growth:4*|*:2\ *|*:2|*:6*) t_fail "series: a finding for a map that must have none: $got" ;; esac
"$MAPPROF" diff "$d1" "$d2" --format json | python3 -c '
import json, sys
f = json.load(sys.stdin)["findings"]
d = [x for x in f if x["kind"] == "dangling"]
assert len(d) == 10, len(d)
assert all(x["freed_at"][0]["function"] == "free_some" for x in d), d[0]
site = lambda fr: [x["function"] for x in fr if not x["function"].startswith("hm_")][0]
assert all(site(x["map"]["created_at"]) == "new_map" for x in d), d[0]
r = [x for x in f if x["kind"] == "retained_buckets"][0]
assert r["bytes"] > 100000, r' || t_fail "finding details"
t_end

t_begin hashmap_live_findings
python3 - "$TMP/copy" <<'PY' || t_fail "live findings.json"
import glob, json, sys
d = json.load(open(sorted(glob.glob(sys.argv[1] + "/p.*.2.findings.json"))[0]))
got = sorted((f["kind"], f["map"]["id"]) for f in d["findings"])
assert got == sorted([("retained_buckets", 1)] + [("dangling", 5)] * 10), got
assert all(f["freed_at"][0]["function"] == "free_some" and f["certain"] for f in d["findings"] if f["kind"] == "dangling")
e = json.load(open(sorted(glob.glob(sys.argv[1] + "/p.*.1.findings.json"))[0]))
assert e["findings"] == [], e["findings"]
PY
t_end

t_begin hashmap_history_too_short_is_said
# freed_history=16: ~3,000 frees of blocks still pointed to by entries (of the short-lived
# maps, destroyed just before: their entries are shed lazily) push free_some's 10 out of the
# history; the reports must say so instead of staying silent
mkdir -p "$TMP/short"
MAPPROF_OPTIONS="output=$TMP/short/p:at_exit=0:findings=1:freed_history=16:dangling=all" LD_PRELOAD="$LIB" "$TP/hmdiff" >/dev/null
s1=$(ls "$TMP"/short/p.*.1.pb.gz); s2=$(ls "$TMP"/short/p.*.2.pb.gz)
"$MAPPROF" diff "$s1" "$s2" | grep -q "^note: the freed-block history kept the last 16 frees" || t_fail "diff text is silent"
"$MAPPROF" diff "$s1" "$s2" --format json | python3 -c '
import json, sys
h = json.load(sys.stdin)["history"]
assert h["complete"] is False and h["freed_kept"] == 16 and h["freed_dropped"] > 2900, h' || t_fail "diff JSON history"
python3 -c '
import glob, json, sys
d = json.load(open(glob.glob(sys.argv[1] + "/p.*.2.findings.json")[0]))
assert d["history"]["complete"] is False, d["history"]' "$TMP/short" || t_fail "live findings history"
"$MAPPROF" diff "$d1" "$d2" --format json | python3 -c '
import json, sys
assert json.load(sys.stdin)["history"]["complete"] is True' || t_fail "complete history reported as incomplete"
t_end

t_begin hashmap_only_referenced_frees_recorded
# entries removed or replaced before their values are freed leave nothing in the freed-block
# history (1,994 such frees); values freed while an entry (in either of two maps) points to
# them are recorded and reported: following every entry at the default rate, and following
# the sampled blocks (all of them) at rate=1
for opts in rate=524288:dangling=all rate=1; do
  rm -rf "$TMP/watch"; mkdir -p "$TMP/watch"
  want=$(MAPPROF_OPTIONS="$opts:output=$TMP/watch/p:at_exit=0:findings=1" LD_PRELOAD="$LIB" "$TP/hmwatch")
  python3 - "$TMP/watch" "$want" <<'PY' || t_fail "$opts"
import glob, json, sys
_, rec, _, dang = sys.argv[2].split()
d = json.load(open(glob.glob(sys.argv[1] + "/p.*.findings.json")[0]))
assert d["history"]["freed_kept"] == int(rec) and d["history"]["freed_dropped"] == 0, d["history"]
got = [f for f in d["findings"] if f["kind"] == "dangling"]
assert len(got) == int(dang), got
assert all(f["freed_at"][0]["function"] == "free_referenced" for f in got), got[0]
PY
done
# following sampled blocks at a sparse rate: a big value replaced (a put of a key already
# there) or removed before its free leaves no finding; the one freed while referenced does
rm -rf "$TMP/watch"; mkdir -p "$TMP/watch"
MAPPROF_OPTIONS="rate=65536:seed=7:output=$TMP/watch/p:at_exit=0:findings=1" LD_PRELOAD="$LIB" \
  "$TP/hmwatch" 4194304 >/dev/null || t_fail "hmwatch 4194304"
python3 - "$TMP/watch" <<'PY' || t_fail "sampled: replaced and removed big values"
import glob, json, sys
d = json.load(open(glob.glob(sys.argv[1] + "/p.*.findings.json")[0]))
keys = sorted(f["entry_key"] for f in d["findings"] if f["kind"] == "dangling")
big = [k for k in keys if int(k, 16) in (9001, 9002, 9003)]
assert big == [hex(9003)], keys
PY
t_end

t_begin hashmap_threads_and_dumps
# four threads on their own maps (created, destroyed, values freed while referenced) while the
# main thread dumps: same output, exit 0, every profile readable, at three settings
want=$("$TP/hmthreads")
for opt in "rate=1" "rate=524288" "rate=1:unwind=fp:findings=1:freed_history=64"; do
  rm -rf "$TMP/thr"; mkdir -p "$TMP/thr"
  got=$(MAPPROF_OPTIONS="$opt:output=$TMP/thr/t" LD_PRELOAD="$LIB" "$TP/hmthreads"); rc=$?
  t_eq "$rc" 0 "$opt: exit status"
  t_eq "$got" "$want" "$opt: output"
  t_eq "$(ls "$TMP"/thr/t.*.pb.gz 2>/dev/null | wc -l)" 6 "$opt: profiles (5 dumps and exit)"
  for f in "$TMP"/thr/t.*.pb.gz; do
    "${GO_PPROF[@]}" -raw "$f" >/dev/null 2>&1 || t_fail "$opt: pprof cannot read $(basename "$f")"
  done
done
t_end

t_begin hashmap_workload_under_profiler
# the benchmark workload: exit status and output unchanged under the profiler, a profile written
want=$("$BUILD/tests/bench/hashmap_churn" 1 2>&1); rc=$?
got=$(MAPPROF_OPTIONS="output=$TMP/w" LD_PRELOAD="$LIB" "$BUILD/tests/bench/hashmap_churn" 1 2>&1); rc2=$?
t_eq "$rc2" "$rc" "exit status"
t_eq "$got" "$want" "output"
ls "$TMP"/w.*.pb.gz >/dev/null 2>&1 || t_fail "no profile"
t_end

t_done
