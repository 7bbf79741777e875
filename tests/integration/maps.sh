# Integration: map awareness. GLib tables and an annotated macro map, profiled unmodified:
# the map inventory beside each profile equals what the programs know about their maps, at
# rate=1 and at the default rate, and pprof's tag filters select exactly the maps' memory.
. "$(dirname "$0")/../lib.sh"

export G_SLICE=always-malloc
sum_bucket_bytes() { awk -F'\t' '$1 == "map" { s += $8 } END { print s + 0 }' "$1"; }

for rate in 1 524288; do
  out="$TMP/g$rate"
  MAPPROF_OPTIONS="rate=$rate:output=$out" LD_PRELOAD="$LIB" "$TP/ghash" 100000 >"$TMP/g$rate.truth"
  t_begin "ghash_entries_every_snapshot_rate_$rate"
  seq=0
  while read -r _ tag big small; do
    f="$out".*".$seq.maps"
    f=$(ls $f 2>/dev/null)
    [ -f "$f" ] || { t_fail "no maps file for snapshot $seq ($tag)"; seq=$((seq + 1)); continue; }
    t_eq "$(awk -F'\t' '$1 == "snapshot" { print $4 }' "$f")" "$tag" "snapshot $seq tag"
    ids=$(maps_ids "$f")
    big_id=$(echo $ids | cut -d' ' -f1)
    t_eq "$(maps_field "$f" "$big_id" 4)" "$big" "$tag: entries of the big table"
    if [ "$small" -gt 0 ]; then
      t_eq "$(maps_field "$f" 2 4)" "$small" "$tag: entries of the small table"
    else
      case " $ids " in *" 2 "*) t_fail "$tag: destroyed table 2 still listed" ;; esac
    fi
    seq=$((seq + 1))
  done < <(grep '^phase ' "$TMP/g$rate.truth")
  t_eq "$seq" 3 "phases"
  grown=$(maps_field "$(ls "$out".*.0.maps)" 1 8)
  emptied=$(maps_field "$(ls "$out".*.1.maps)" 1 8)
  [ "${emptied:-0}" -gt 0 ] && [ "${emptied:-0}" -lt "${grown:-0}" ] || t_fail "bucket bytes did not fall back: grown $grown, emptied $emptied"
  # GLib's arrays for 100,000 string keys: keys, values and hashes of 2^17 slots (not the
  # GHashTable struct, which GLib allocates with malloc here: G_SLICE=always-malloc)
  t_eq "$grown" $(( (1 << 17) * (8 + 8 + 4) )) "bucket bytes of the grown table"
  t_end
  cp "$(ls "$out".*.1.maps)" "$TMP/emptied.$rate.maps"
done

# GLib's slice allocator (G_SLICE unset, GLib before 2.76) maps slabs for the table structs
# inside the tables' constructors, and keeps them: they are not the tables' memory, and the
# tables are gone once unreferenced
t_begin ghash_tables_gone_under_the_slice_allocator
out="$TMP/gm"
env -u G_SLICE MAPPROF_OPTIONS="rate=1:output=$out" LD_PRELOAD="$LIB" "$TP/ghashmany" >"$TMP/gm.truth"
seq=0
while read -r _ tag n; do
  f=$(ls "$out".*."$seq".maps 2>/dev/null)
  t_eq "$(awk -F'\t' '$1 == "map" && $3 == "ghash"' "$f" | wc -l)" "$n" "$tag: tables"
  seq=$((seq + 1))
done < <(grep '^tables ' "$TMP/gm.truth")
t_eq "$seq" 2 "dumps"
t_end

t_begin ghash_callback_running_a_hashmap_operation
# a hashmap/ operation inside a GLib table's hash function, then a 48-byte block there: the
# block is the program's, not the table's (before, the inner operation's end forgot that only
# 2^k-byte blocks are GLib's arrays, and 6 x 48 bytes were tagged ghash)
ghash_tagged() {
  MAPPROF_OPTIONS="rate=1:output=$TMP/gn$1" LD_PRELOAD="$LIB" "$TP/ghashnest" "$1" >/dev/null
  pprof_focus_total "$(ls "$TMP"/gn"$1".*.0.pb.gz)" map_kind=ghash inuse_space
}
tagged_plain=$(ghash_tagged plain)
tagged_nested=$(ghash_tagged nested)
[ "${tagged_plain:-0}" -gt 0 ] || t_fail "no ghash-tagged bytes: '$tagged_plain'"
t_eq "$tagged_nested" "$tagged_plain" "ghash-tagged bytes, with the hashmap/ operation vs without"
t_end

t_begin ghash_exact_at_any_rate
diff <(cut -f1-16 "$TMP/emptied.1.maps" | grep '^map') <(cut -f1-16 "$TMP/emptied.524288.maps" | grep '^map') >"$TMP/d" \
  || t_fail "map figures differ between rate=1 and the default rate: $(head -4 "$TMP/d")"
t_end

t_begin ghash_labels_select_map_memory
for seq in 0 1 2; do
  pb=$(ls "$TMP"/g1.*.$seq.pb.gz)
  t_eq "$(pprof_focus_total "$pb" map_kind=ghash inuse_space)" "$(sum_bucket_bytes "$(ls "$TMP"/g1.*.$seq.maps)")" "snapshot $seq: ghash-tagged in-use bytes vs the maps' bucket bytes"
done
pb=$(ls "$TMP"/g1.*.0.pb.gz)
t_eq "$(pprof_focus_total "$pb" map_id=2 inuse_space)" "$(maps_field "$(ls "$TMP"/g1.*.0.maps)" 2 8)" "map_id=2 selects the small table"
t_end

t_begin maps_off_knows_no_map
# maps=0: plain profiling (the baseline that make bench compares map tracking with)
MAPPROF_OPTIONS="maps=0:rate=1:output=$TMP/off" LD_PRELOAD="$LIB" "$TP/ghash" 1000 >/dev/null
MAPPROF_OPTIONS="maps=0:output=$TMP/offa" LD_PRELOAD="$LIB" "$TP/annotated" >/dev/null
# a maps file is written only when there is a map to list
t_eq "$(ls "$TMP"/off.*.maps "$TMP"/offa.*.maps 2>/dev/null | wc -l)" 0 "maps files"
t_eq "$(ls "$TMP"/off.*.pb.gz "$TMP"/offa.*.pb.gz 2>/dev/null | wc -l)" 5 "profiles (4 dumps of ghash, 1 of annotated)"
pb=$(ls "$TMP"/off.*.0.pb.gz)
t_eq "$("${GO_PPROF[@]}" -raw "$pb" 2>/dev/null | grep -c 'map_kind')" 0 "map labels"
[ "$(pprof_total "$pb" inuse_space)" -gt 0 ] || t_fail "no in-use bytes in the profile"
t_end

t_begin annotated_macro_map
out="$TMP/an"
MAPPROF_OPTIONS="output=$out" LD_PRELOAD="$LIB" "$TP/annotated" >"$TMP/an.truth"
f=$(ls "$out".*.maps 2>/dev/null | tail -1)
[ -f "$f" ] || t_fail "no maps file"
while read -r _ name entries cap bytes; do
  id=1; [ "$name" = small ] && id=2
  t_eq "$(maps_field "$f" $id 3)" annotated "$name kind"
  t_eq "$(maps_field "$f" $id 4)" "$entries" "$name entries"
  t_eq "$(maps_field "$f" $id 6)" "$cap" "$name buckets"
  t_eq "$(maps_field "$f" $id 8)" "$bytes" "$name bucket bytes"
done < <(grep '^map ' "$TMP/an.truth")
# big: 1,000 entries left in 524,288 slots of 24 B; at load 0.75 they need ceil(1000/0.75) slots
t_eq "$(maps_field "$f" 1 12)" $(( 524288 * 24 - 1334 * 24 )) "big map retained bytes"
case " $(maps_ids "$f") " in *" 3 "*) t_fail "destroyed map 3 still listed" ;; esac
t_end

# stdmap_nodebug: the same program built without debug information, as a release build is
for prog_rate in stdmap:524288 stdmap:1 stdmap_nodebug:1; do
  prog=${prog_rate%:*} rate=${prog_rate#*:}
  t_begin "std_unordered_map${prog#stdmap}_rate_$rate"
  out="$TMP/sm$rate${prog#stdmap}"
  MAPPROF_OPTIONS="rate=$rate:output=$out" LD_PRELOAD="$LIB" "$TP/$prog" >"$TMP/sm.truth"
  f=$(ls "$out".*.0.maps 2>/dev/null)
  [ -f "$f" ] || t_fail "no maps file"
  while read -r _ name entries buckets bytes; do
    id=$(awk -F'\t' -v b="$bytes" -v n="$buckets" '$1 == "map" && $8 == b && $6 == n { print $2 }' "$f")
    if [ -z "$id" ]; then
      # at the default rate only the large array is sure to be sampled
      [ "$rate" = 1 ] || [ "$name" != big ] || t_fail "$name: no map with $buckets buckets, $bytes bytes"
      [ "$rate" != 1 ] || t_fail "$name: no map with $buckets buckets, $bytes bytes at rate=1"
      continue
    fi
    t_eq "$(maps_field "$f" "$id" 3)" std_unordered "$name kind"
    t_eq "$(maps_field "$f" "$id" 4)" "$entries" "$name entries"
    retained=$(maps_field "$f" "$id" 12)
    if [ "$name" = big ]; then
      t_eq "$retained" $((bytes - entries * 8)) "$name: retained = bucket bytes beyond what $entries entries need"
    else
      t_eq "$retained" 0 "$name (healthy): retained"
    fi
  done < <(grep '^map ' "$TMP/sm.truth")
  if [ "$rate" = 1 ]; then
    t_eq "$(pprof_focus_total "$(ls "$out".*.0.pb.gz)" role=bucket_array inuse_space)" \
         "$(sum_bucket_bytes "$f")" "std_unordered bucket_array tag vs the maps' bucket bytes"
  fi
  t_end
done

# A map destroyed, and its bucket array's address taken by a new map: the dead object's memory
# still names the array, and must not pass for its owner
t_begin std_unordered_map_array_reused_by_another
out="$TMP/smr"
MAPPROF_OPTIONS="rate=1:output=$out" LD_PRELOAD="$LIB" "$TP/stdmapreuse" >"$TMP/smr.truth"
t_eq "$?" 0 "exit status (77: the array was not reused)"
seq=0
while read -r _ name entries buckets _; do
  f=$(ls "$out".*."$seq".maps 2>/dev/null)
  t_eq "$(awk -F'\t' '$1 == "map" && $3 == "std_unordered"' "$f" | wc -l)" 1 "$name: std maps"
  id=$(maps_ids "$f")
  t_eq "$(maps_field "$f" "$id" 4)" "$entries" "$name: entries"
  t_eq "$(maps_field "$f" "$id" 6)" "$buckets" "$name: buckets"
  seq=$((seq + 1))
done < <(grep '^map ' "$TMP/smr.truth")
t_end

t_begin report_maps_json
pb=$(ls "$TMP"/sm1.*.0.pb.gz)
"$MAPPROF" report "$pb" --format json >"$TMP/r.json" || t_fail "report --format json failed"
python3 - "$TMP/r.json" <<'PY' || t_fail "report JSON"
import json, sys
d = json.load(open(sys.argv[1]))
need = {"id", "kind", "entries", "peak_entries", "capacity", "bucket_bytes", "node_bytes",
        "overflow_buckets", "padding_bytes", "retained_bytes", "created_at"}
assert len(d["maps"]) == 3, len(d["maps"])
for m in d["maps"]:
    assert need <= set(m), need - set(m)
    assert all({"function", "file", "line"} <= set(f) for f in m["created_at"])
r = [m["retained_bytes"] for m in d["maps"]]
assert r == sorted(r, reverse=True), r
assert any(f["function"] == "main" for f in d["maps"][0]["created_at"])
PY
"$MAPPROF" report "$pb" --top 5 >"$TMP/r.txt" || t_fail "report failed"
grep -q '^Maps: 3 live' "$TMP/r.txt" || t_fail "no map table: $(tail -5 "$TMP/r.txt")"
"$MAPPROF" report /etc/passwd >/dev/null 2>"$TMP/r.err"
t_eq "$?" 2 "report on a non-profile"
t_end

# dangling=all follows every entry at any rate; the default follows entries that point to
# sampled blocks: all of them at rate=1, and at rate=64K the 4 MiB values (the short ones are
# almost never sampled, and no finding may come from them)
for cfg in "rate=524288:dangling=all" "rate=1" "rate=65536:seed=7 4194304"; do
  read -r opts arg <<<"$cfg"
  t_begin "dangling_references_${opts//[=:]/_}"
  out="$TMP/dg${opts//[=:]/_}"
  MAPPROF_OPTIONS="$opts:output=$out" LD_PRELOAD="$LIB" "$TP/dangling" $arg >"$TMP/dg.truth"
  f=$(ls "$out".*.0.maps 2>/dev/null)
  want=$(awk '/^dangling / { print $2 }' "$TMP/dg.truth")
  t_eq "$(grep -c '^dangling' "$f")" "$want" "dangling references"
  # each one: a value of table 1, freed in free_some, certain
  t_eq "$(awk -F'\t' '$1 == "dangling" && $2 == 1 && $5 == "value" && $9 == 1' "$f" | wc -l)" "$want" "value pointers of map 1, certain"
  t_eq "$(awk -F'\t' '$1 == "dangling" { getline; print $2 }' "$f" | sort | uniq -c | awk '{ print $1, $2 }')" "$want free_some" "free stacks start in free_some"
  t_end
done

# GLib tables emptied through iterators (iter_remove, iter_steal, iter_replace) and foreach
# predicates, whose keys and values are freed as the entries go: the entry counts are GLib's,
# and the only dangling references are the 2 the program makes on purpose in free_live (a
# value iter_replace put in, a key foreach_steal kept). rate=1 follows every entry; the
# default rate with dangling=all does too, with the sampler's countdown in play.
for opts in rate=1 rate=524288:dangling=all; do
  t_begin "ghash_iterators_${opts//[=:]/_}"
  out="$TMP/gi${opts//[=:]/_}"
  MAPPROF_OPTIONS="$opts:output=$out" LD_PRELOAD="$LIB" "$TP/ghashiter" >"$TMP/gi.truth"
  f=$(ls "$out".*.0.maps 2>/dev/null)
  [ -f "$f" ] || t_fail "no maps file"
  declare -A gid=()
  while read -r _ name obj entries; do
    # compared as strings: an address such as 55690e960480 reads as a number (inf) to awk
    gid[$name]=$(awk -F'\t' -v o="$obj" '$1 == "map" && $17 "" == o "" { print $2 }' "$f")
    [ -n "${gid[$name]}" ] || { t_fail "$name: no map at $obj"; continue; }
    t_eq "$(maps_field "$f" "${gid[$name]}" 4)" "$entries" "$name entries"
  done < <(grep '^map ' "$TMP/gi.truth")
  t_eq "$(grep -c '^dangling' "$f")" 2 "dangling references (all of them)"
  while read -r _ name kind; do
    t_eq "$(awk -F'\t' -v m="${gid[$name]:-x}" -v k="$kind" '$1 == "dangling" && $2 == m && $5 == k && $9 == 1' "$f" | wc -l)" 1 "$name: certain dangling $kind"
  done < <(grep '^dangling ' "$TMP/gi.truth")
  t_eq "$(awk -F'\t' '$1 == "dangling" { getline; print $2 }' "$f" | sort -u)" free_live "free stacks start in free_live"
  # the predicate's own 64 KiB block is the program's, not the table's arrays
  fr=$(maps_field "$f" "${gid[foreach_remove]:-x}" 8)
  [ "${fr:-0}" -gt 0 ] && [ "${fr:-0}" -lt 65536 ] || t_fail "foreach_remove bucket bytes: $fr"
  unset gid
  t_end
done

t_begin live_findings_json
mkdir -p "$TMP/lf"
MAPPROF_OPTIONS=dangling=all "$MAPPROF" run --findings -o "$TMP/lf/d" -- "$TP/dangling" >/dev/null 2>&1
"$MAPPROF" run --findings -o "$TMP/lf/a" -- "$TP/annotated" >/dev/null 2>&1
python3 - "$TMP/lf" <<'PY' || t_fail "findings.json"
import glob, json, sys
d = json.load(open(sorted(glob.glob(sys.argv[1] + "/d.*.0.findings.json"))[0]))
dang = [f for f in d["findings"] if f["kind"] == "dangling"]
assert len(dang) == 10 and len(d["findings"]) == 10, d["findings"]
assert all(f["freed_at"][0]["function"] == "free_some" and f["certain"] for f in dang)
assert all({"id", "kind", "created_at"} <= set(f["map"]) for f in dang)
assert d["history"]["complete"] is True
a = json.load(open(sorted(glob.glob(sys.argv[1] + "/a.*.findings.json"))[-1]))
ret = [(f["kind"], f["map"]["id"]) for f in a["findings"]]
assert ret == [("retained_buckets", 1)], ret
assert a["findings"][0]["bytes"] > 12000000
PY
t_end

t_done
