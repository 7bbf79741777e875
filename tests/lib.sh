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
