# tests/lib.sh - sourced by integration tests (tests/integration/*.sh).
# Same contract as tests/check.h: "PASS name" / "FAIL name" lines, then "N passed, N failed".
# A test script calls `t_begin NAME`, any number of `t_check COND-COMMAND... -- MESSAGE`
# or `t_fail MESSAGE`, then `t_end`; `t_done` at the bottom prints the totals and sets the status.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build"
LIB="$BUILD/libmapprof.so"
MAPPROF="$BUILD/mapprof"
TP="$BUILD/tests/preload"           # target programs
T_PASSED=0; T_FAILED=0; T_CUR=""; T_CUR_FAILED=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mapprof-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

t_begin() { T_CUR=$1; T_CUR_FAILED=0; }
t_fail()  { echo "  $T_CUR: $*" >&2; T_CUR_FAILED=$((T_CUR_FAILED + 1)); }
# t_eq ACTUAL EXPECTED MESSAGE
t_eq() { [ "$1" = "$2" ] || t_fail "$3: got '$1', want '$2'"; }
# t_near ACTUAL EXPECTED TOLERANCE MESSAGE (absolute tolerance, numbers may be floats)
t_near() {
  awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }' \
    || t_fail "$4: got '$1', want '$2' +- $3"
}
t_end() {
  if [ "$T_CUR_FAILED" -eq 0 ]; then T_PASSED=$((T_PASSED + 1)); echo "PASS $T_CUR"
  else T_FAILED=$((T_FAILED + 1)); echo "FAIL $T_CUR"; fi
}
t_done() { echo "$T_PASSED passed, $T_FAILED failed"; [ "$T_FAILED" -eq 0 ]; }

# ---- reading profiles with the reference readers ----
export PPROF_TMPDIR="$TMP" HOME="${HOME:-$TMP}" PPROF_BINARY_PATH=/nonexistent
GO_PPROF=(go tool pprof)

# pprof_flat FILE SAMPLE_INDEX [extra pprof flags...]: "name<TAB>flat" per row of -top, values
# in plain units (bytes or counts). Extra flags such as -lines change what "name" is.
pprof_flat() {
  local f=$1 si=$2; shift 2
  "${GO_PPROF[@]}" -top -unit=B -nodefraction=0 -nodecount=1000000 -sample_index="$si" "$@" "$f" \
    2>"$TMP/pprof.err" | awk '
      started && NF >= 6 { v = $1; sub(/B$/, "", v); name = $6; for (i = 7; i <= NF; i++) name = name " " $i
                           sub(/ \(inline\)$/, "", name); print name "\t" v }
      /^ *flat +flat%/ { started = 1 }'
}
# flat_of NAME < pprof_flat output: the flat value of one row (0 when absent)
flat_of() { awk -F'\t' -v n="$1" '$1 == n { v = $2; found = 1 } END { print found ? v : 0 }'; }
# pprof_samples FILE: how many samples (distinct stacks) the profile holds
pprof_samples() {
  "${GO_PPROF[@]}" -raw "$1" 2>/dev/null |
    awk '/^Samples:/ { s = 1; next } /^Locations/ { s = 0 } s && /^ *[0-9].*:/ { n++ } END { print n + 0 }'
}
# pprof_total FILE SAMPLE_INDEX: the profile's total for that sample type
pprof_total() {
  "${GO_PPROF[@]}" -raw -sample_index="$2" "$1" 2>/dev/null | awk '
    /^Samples:/ { s = 1; next }
    s && /^ *[a-z_]+\/[a-z]+/ { for (i = 1; i <= NF; i++) { t = $i; sub(/\[dflt\]/, "", t); if (t ~ "^'"$2"'/") col = i } ; next }
    s && /^Locations/ { s = 0 }
    s && col && $0 ~ /:/ { split($0, a, ":"); n = split(a[1], v, " "); if (n >= col) tot += v[col] }
    END { printf "%.0f\n", tot }'
}

# ---- map inventories (.maps files) ----
# maps_field FILE ID COLUMN: a column of a map line (3 kind, 4 entries, 5 peak, 6 buckets,
# 7 slots, 8 bucket_bytes, 9 node_bytes, 10 overflow, 11 padding, 12 retained, 13 inserts,
# 14 removes)
maps_field() { awk -F'\t' -v id="$2" -v c="$3" '$1 == "map" && $2 == id { print $c }' "$1"; }
maps_ids() { awk -F'\t' '$1 == "map" { print $2 }' "$1" | sort -n | tr '\n' ' '; }
# pprof_focus_total FILE TAGFOCUS SAMPLE_INDEX: bytes pprof keeps with that filter
pprof_focus_total() {
  "${GO_PPROF[@]}" -top -unit=B -nodefraction=0 -edgefraction=0 -nodecount=1000000 -tagfocus="$2" -sample_index="$3" "$1" 2>/dev/null |
    awk '/^Showing nodes accounting for/ { v = $5; sub(/B,?$/, "", v); print v; exit }'
}
