# Integration: a C++ program under libmapprof.so. Its pprof profile must be self-contained for
# every mapping a sample touches (go tool pprof never asks for a binary), C++ names demangled
# (no "_Z" names, qualified names such as std::...), the legacy file read by google-pprof, and
# google-pprof and go tool pprof agreeing on the in-use total.
. "$(dirname "$0")/../lib.sh"

out="$TMP/cxx"
MAPPROF_OPTIONS="rate=1:output=$out:formats=pb,legacy" LD_PRELOAD="$LIB" "$TP/cxx_new" >"$TMP/truth" 2>"$TMP/stderr"
rc=$?
pb=$(ls "$out".*.pb.gz 2>/dev/null | head -1)
heap=$(ls "$out".*.heap 2>/dev/null | head -1)

t_begin cxx_profile_written
t_eq "$rc" 0 "exit status"
[ -s "$pb" ] || t_fail "no pprof file"
[ -s "$heap" ] || t_fail "no legacy file"
t_end

t_begin cxx_pprof_self_contained
"${GO_PPROF[@]}" -raw "$pb" >"$TMP/raw" 2>"$TMP/raw.err" || t_fail "pprof -raw failed: $(head -2 "$TMP/raw.err")"
grep -qi 'not available\|symbolization failed' "$TMP/raw.err" && t_fail "pprof wanted binaries: $(head -2 "$TMP/raw.err")"
# every mapping referenced by a location (M=id) carries [FN]
for m in $(awk '/^Locations/ { l = 1; next } /^Mappings/ { l = 0 } l && /M=/ { for (i = 1; i <= NF; i++) if ($i ~ /^M=/) { sub(/M=/, "", $i); print $i } }' "$TMP/raw" | sort -u); do
  line=$(awk -v id="$m" '/^Mappings/ { s = 1; next } s && $1 == id ":" { print; exit }' "$TMP/raw")
  case "$line" in *"[FN]"*) ;; *) t_fail "mapping $m not marked symbolized: $line" ;; esac
done
grep -q '^1: .*cxx_new' <(sed -n '/^Mappings/,$p' "$TMP/raw") || t_fail "main binary is not mapping 1"
t_end

t_begin cxx_names_demangled
awk '/^Locations/ { l = 1; next } /^Mappings/ { l = 0 } l' "$TMP/raw" >"$TMP/locs"
grep -Eq '(^| )_Z[A-Za-z0-9_]+' "$TMP/locs" && t_fail "mangled names: $(grep -E '(^| )_Z' "$TMP/locs" | head -2)"
grep -q 'plain_new()' "$TMP/locs" || t_fail "no demangled plain_new(): $(head -5 "$TMP/locs")"
grep -q 'std::' "$TMP/locs" || t_fail "no qualified std:: name"
t_end

t_begin cxx_totals_agree
pb_in=$(pprof_total "$pb" inuse_space)
heap_in=$(google-pprof --text --show_bytes "$TP/cxx_new" "$heap" 2>/dev/null | awk '/^Total:/ { print $2 }')
t_near "$heap_in" "$pb_in" 1 "google-pprof legacy total vs pprof total"
want=0
while read -r _ _ ib _; do want=$((want + ib)); done < <(grep '^site ' "$TMP/truth")
[ "$pb_in" -ge "$want" ] || t_fail "pprof in-use total $pb_in below the program's own $want"
t_end

t_done
