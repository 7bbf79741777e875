# Integration: `mapprof check` as CI uses it. Exit statuses, the JSON (against Valgrind
# memcheck's classification of the same program), JUnit XML and SARIF, gates, suppressions.
. "$(dirname "$0")/../lib.sh"
cd "$TMP" || exit 1      # mapprof check writes its live-at-exit profile into the working directory

leaky="$TP/leaky"

# "definite-bytes definite-blocks indirect-bytes indirect-blocks" by memcheck, into $want.
# memcheck is conservative: now and then a stale word in a root it scans looks like a pointer
# into a lost list, and it reports blocks possibly lost or reachable that every other run
# reports lost (seen on leakmany and hmleak; no program here makes an interior or hidden
# pointer). Such a run is no reference: when it disagrees with GOT, memcheck runs again, up to
# three times in all, and shows each disagreeing run's loss records.
vs_memcheck() {
  local got=$1 try; shift
  for try in 1 2 3; do
    valgrind --leak-check=full --show-leak-kinds=all "$@" 2>"$TMP/vg.log" >/dev/null
    want=$(awk '/definitely lost:/ { gsub(",", "", $4); gsub(",", "", $7); d = $4; db = $7 }
      /indirectly lost:/ { gsub(",", "", $4); gsub(",", "", $7); i = $4; ib = $7 }
      END { print d + 0, db + 0, i + 0, ib + 0 }' "$TMP/vg.log")
    [ "$got" = "$want" ] && return
    echo "    memcheck run $try: $want" >&2
    grep -E "are (definitely|indirectly|possibly) lost|still reachable in" "$TMP/vg.log" | sed 's/^/    memcheck: /' >&2
  done
}

# summary_of JSON: "definite-bytes definite-blocks indirect-bytes indirect-blocks" of a report
summary_of() {
  python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print(s["definite_bytes"], s["definite_blocks"], s["indirect_bytes"], s["indirect_blocks"])' "$1" 2>&1
}
# mp_summary CMD...: the same, of mapprof check's report on CMD
mp_summary() {
  "$MAPPROF" check --quiet --json "$TMP/corpus.json" -- "$@" >/dev/null 2>&1
  summary_of "$TMP/corpus.json"
}

t_begin slow_paths_leave_no_block_copies
# under the leak check, after each malloc and free no copy of the block's address stays on the
# stack below the caller (it would make a lost block look reachable), with either unwinder
for u in libunwind fp; do
  out=$(MAPPROF_OPTIONS="leak_check=1:unwind=$u:leak_report=$TMP/sc:output=$TMP/sc" LD_PRELOAD="$LIB" "$TP/stackclean" 2>/dev/null)
  t_eq "$?:$out" "0:clean" "unwind=$u"
done
t_end

t_begin check_leaky_program_fails_gate
"$MAPPROF" check --json "$TMP/l.json" --junit "$TMP/l.xml" --sarif "$TMP/l.sarif" -o "$TMP/live" -- "$leaky" >"$TMP/out" 2>"$TMP/err"
t_eq "$?" 23 "exit status"
# the profile of what was live at exit: the lost 3 x 100 B of lose_plain among it
pb=$(ls "$TMP"/live.*.pb.gz 2>/dev/null | head -1)
t_eq "$(pprof_flat "$pb" inuse_space | flat_of lose_plain)" 300 "live-at-exit profile"
read -r _ db dn ib in_ _ <"$TMP/out"
summary=$(summary_of "$TMP/l.json")
t_eq "$summary" "$db $dn $ib $in_" "JSON summary against the program's truth"
grep -q "^definite leak: 300 bytes in 3 blocks allocated at lose_plain" "$TMP/err" || t_fail "text report: $(head -3 "$TMP/err")"
t_end

t_begin check_agrees_with_valgrind
vs_memcheck "$summary" "$leaky"
t_eq "$summary" "$want" "definite/indirect bytes and blocks, mapprof vs memcheck"
t_end

t_begin check_last_blocks_before_mallocs_top_chunk
# the last block's tail may hold the header of malloc's top chunk, which malloc's own state
# points at: no pointer of the program's (memcheck: both blocks lost, whatever the size)
for n in 24 40 100 1000 1008; do
  got=$(mp_summary "$TP/lastleak" "$n")
  t_eq "$got" "$((16 + n)) 2 0 0" "size $n: definite, indirect"
done
for n in 24 1008; do
  got=$(mp_summary "$TP/lastleak" "$n")
  vs_memcheck "$got" "$TP/lastleak" "$n"
  t_eq "$got" "$want" "size $n: mapprof vs memcheck"
done
t_end

t_begin check_registers_of_exits_caller_are_roots
# at exit(), the only pointer to a block is in main's rbx, saved by exit's callees in frames
# the scan skips (they hold stale words): reachable, as memcheck says; without it, lost
"$MAPPROF" check --quiet --json "$TMP/lr.json" -- "$TP/leakregs" >/dev/null 2>&1
t_eq "$?" 0 "held in a register: exit status"
got=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print(s["definite_bytes"], s["reachable_bytes"], s["reachable_blocks"])' "$TMP/lr.json" 2>&1)
t_eq "$got" "0 40 1" "held in a register: definite bytes, reachable bytes and blocks"
got=$(mp_summary "$TP/leakregs" lose)
t_eq "$got" "40 1 0 0" "register cleared: definite"
vs_memcheck "$got" "$TP/leakregs" lose
t_eq "$got" "$want" "register cleared: mapprof vs memcheck"
t_end

t_begin check_pointers_in_the_programs_own_mappings
# memory the program mapped is a root, also when the kernel merged it into one line of the maps
# with a chunk malloc mapped for a big block, or with the profiler's own pages
"$MAPPROF" check --quiet --json "$TMP/mm.json" -- "$TP/leakmmap" >/dev/null 2>"$TMP/err"
t_eq "$?" 0 "next to a mapped chunk: exit status"
grep -q "did not land" "$TMP/err" && t_fail "the test program could not set itself up"
t_eq "$(summary_of "$TMP/mm.json")" "0 0 0 0" "next to a mapped chunk: definite, indirect"
got=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print(s["reachable_bytes"], s["reachable_blocks"])' "$TMP/mm.json" 2>&1)
t_eq "$got" "$((1048576 + 62)) 3" "next to a mapped chunk: reachable (the big block and the two)"
t_eq "$(mp_summary "$TP/leakmmap" lose)" "62 2 0 0" "nothing kept: definite"
"$MAPPROF" check --quiet --json "$TMP/ma.json" -- "$TP/leakmmap" alone >/dev/null 2>&1
t_eq "$?" 0 "a page mapped alone: exit status (77: it stayed a line of its own, the test tests nothing)"
t_eq "$(summary_of "$TMP/ma.json")" "0 0 0 0" "a page mapped alone: definite, indirect"
t_end

t_begin check_stacks_of_ended_threads_are_not_roots
# a joined thread's stack stays mapped (glibc caches it) with its last pointers on it: the block
# only it held is lost, as memcheck says; a live thread later started on that same stack is a
# root again (the program exits 77 if glibc gave it another stack)
got=$(mp_summary "$TP/leakdead")
t_eq "$got" "40 1 0 0" "ended thread: definite"
vs_memcheck "$got" "$TP/leakdead"
t_eq "$got" "$want" "ended thread: mapprof vs memcheck"
"$MAPPROF" check --quiet --json "$TMP/ld.json" -- "$TP/leakdead" reuse >/dev/null 2>&1
t_eq "$?" 23 "stack reused: exit status (77: not reused)"
got=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print(s["definite_bytes"], s["definite_blocks"], s["reachable_bytes"], s["reachable_blocks"])' "$TMP/ld.json" 2>&1)
t_eq "$got" "40 1 24 1" "stack reused: definite, and the live thread's block reachable"
# every signal blocked: the check cannot tell where the threads stand, and leaves every stack a
# root: the live thread's block, on the ended thread's stack, is no leak (the ended thread's is,
# unless its stale pointer outlived the live thread's frames there: a root then)
"$MAPPROF" check --quiet --json "$TMP/ld.json" -- "$TP/leakdead" blocked >/dev/null 2>&1
case $? in 0 | 23) ;; *) t_fail "signals blocked: exit status (77: stack not reused)" ;; esac
got=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print(s["definite_bytes"] in (0, 40), s["reachable_bytes"] in (24, 64))' "$TMP/ld.json" 2>&1)
t_eq "$got" "True True" "signals blocked: definite only the ended thread's block, the live thread's reachable"
# a thread started while the check parks the others (by one that ignored the park until then)
# on the ended thread's stack, holding a block there in a local: parked too, its block is
# reachable (it was a false definite leak when the check read the thread list only once)
"$MAPPROF" check --quiet --json "$TMP/ld.json" -- "$TP/leakdead" late >/dev/null 2>"$TMP/late.err"
t_eq "$?" 23 "thread started late: exit status"
grep -q "not reused" "$TMP/late.err" && t_fail "thread started late: glibc gave it another stack"
got=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print(s["definite_bytes"], s["definite_blocks"], s["reachable_bytes"], s["reachable_blocks"])' "$TMP/ld.json" 2>&1)
t_eq "$got" "40 1 24 1" "thread started late: definite, and its block reachable"
# memory that held an ended thread's stack and lives again: mapped anew by the program at the
# same place, a stack the program gave and then used as a buffer, and an ended thread's cached
# stack that a live thread stands on while it runs on a coroutine stack (77: not set up)
for mode in remap user coroutine; do
  "$MAPPROF" check --quiet --json "$TMP/ls.json" -- "$TP/leakstacks" "$mode" >/dev/null 2>&1
  t_eq "$?" 0 "$mode: exit status"
  t_eq "$(summary_of "$TMP/ls.json")" "0 0 0 0" "$mode: definite, indirect"
done
vs_memcheck "0 0 0 0" "$TP/leakstacks" remap
t_eq "$want" "0 0 0 0" "remap: memcheck"
# a thread that ended and was never joined: its result, in glibc's descriptor at the top of its
# stack, is reachable
got=$(mp_summary "$TP/leakdead" unjoined)
t_eq "$got" "0 0 0 0" "unjoined: definite, indirect"
vs_memcheck "$got" "$TP/leakdead" unjoined
t_eq "$got" "$want" "unjoined: mapprof vs memcheck"
t_end

t_begin check_runs_after_every_destructor
# a library the program links ends after libmapprof.so: its destructor frees one block and drops
# the last pointer to another, so the check waits for exit's very end (memcheck looks later still)
got=$(mp_summary "$TP/leakfini")
t_eq "$got" "48 1 0 0" "definite, indirect"
vs_memcheck "$got" "$TP/leakfini"
t_eq "$got" "$want" "mapprof vs memcheck"
t_eq "$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print(s["reachable_bytes"], s["reachable_blocks"])' "$TMP/corpus.json" 2>&1)" "0 0" "the freed block is none"
# ... and when that destructor ends the process by _exit, with no flush to wait for
FINILIB_EXIT=1 "$MAPPROF" check --quiet --json "$TMP/fe.json" -- "$TP/leakfini" >/dev/null 2>&1
t_eq "$?" 3 "_exit in a later destructor: the program's status"
t_eq "$(summary_of "$TMP/fe.json")" "48 1 0 0" "_exit in a later destructor: definite, indirect"
t_end

t_begin check_json_shape
python3 - "$TMP/l.json" <<'PY' || t_fail "JSON shape"
import json, sys
d = json.load(open(sys.argv[1]))
kinds = sorted(set(l["kind"] for l in d["leaks"]))
assert kinds == ["definite", "indirect"], kinds
for l in d["leaks"]:
    assert l["bytes"] > 0 and l["blocks"] > 0
    assert all(set(["function", "file", "line"]) <= set(f) for f in l["stack"]), l
    assert l["stack"][0]["function"].startswith("lose_"), l["stack"][0]
    assert l["failed"] is True
PY
t_end

t_begin check_junit
python3 - "$TMP/l.xml" <<'PY' || t_fail "JUnit XML"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = root.findall(".//testcase")
failed = [c for c in cases if c.find("failure") is not None]
assert len(cases) == 5 and len(failed) == 5, (len(cases), len(failed))
assert root.find("testsuite").get("failures") == "5"
assert all(c.get("name").startswith("lose_") for c in cases)
PY
t_end

t_begin check_sarif
line=$(grep -n 'sink = malloc(100)' "$ROOT/tests/preload/leaky.c" | cut -d: -f1)
python3 - "$TMP/l.sarif" "$line" <<'PY' || t_fail "SARIF"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["version"] == "2.1.0"
run = d["runs"][0]
assert run["tool"]["driver"]["name"] == "mapprof"
res = run["results"]
assert len(res) == 5
for r in res:
    assert r["ruleId"] in ("definite", "indirect") and r["message"]["text"] and r["level"] == "error"
    loc = r["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"].endswith("leaky.c"), loc
plain = [r for r in res if "300 bytes" in r["message"]["text"]][0]
assert plain["locations"][0]["physicalLocation"]["region"]["startLine"] == int(sys.argv[2]), plain
PY
t_end

t_begin check_clean_program_passes
"$MAPPROF" check --json "$TMP/c.json" -- "$TP/known" >/dev/null 2>"$TMP/err"
t_eq "$?" 0 "exit status"
t_eq "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["leaks"]))' "$TMP/c.json")" 0 "leaks in a clean program"
t_end

t_begin check_gates_and_suppressions
"$MAPPROF" check --quiet --max-leak-bytes 1000 -- "$leaky" >/dev/null 2>&1
t_eq "$?" 0 "588 leaked bytes under --max-leak-bytes 1000"
"$MAPPROF" check --quiet --max-leak-bytes 500 -- "$leaky" >/dev/null 2>&1
t_eq "$?" 23 "588 leaked bytes over --max-leak-bytes 500"
"$MAPPROF" check --quiet --fail-on indirect --error-exitcode 9 -- "$leaky" >/dev/null 2>&1
t_eq "$?" 9 "--error-exitcode"
printf '# our test leaks\nfun:lose_*\n' >"$TMP/supp"
"$MAPPROF" check --quiet --suppressions "$TMP/supp" -- "$leaky" >/dev/null 2>&1
t_eq "$?" 0 "all findings suppressed"
printf 'file:*leaky.c\n' >"$TMP/supp2"
"$MAPPROF" check --quiet --suppressions "$TMP/supp2" --json "$TMP/s.json" -- "$leaky" >/dev/null 2>&1
t_eq "$?" 0 "suppressed by file"
"$MAPPROF" check --fail-on bogus -- true >/dev/null 2>"$TMP/err"
t_eq "$?" 2 "bad --fail-on"
# a suppressions path that is not a text file: one line, before the program runs (it read
# /dev/zero forever)
timeout 20 "$MAPPROF" check --suppressions /dev/zero -- true >/dev/null 2>"$TMP/err"
t_eq "$?" 2 "--suppressions /dev/zero"
grep -q "suppressions /dev/zero: line 1 is longer" "$TMP/err" || t_fail "reason: $(cat "$TMP/err")"
[ "$(wc -l <"$TMP/err")" = 1 ] || t_fail "not one line: $(cat "$TMP/err")"
t_end

t_begin check_gate_dangling
# a GLib table whose 10 values are freed while their entries stay (tests/preload/dangling.c)
"$MAPPROF" check --quiet -- "$TP/dangling" >/dev/null 2>&1
t_eq "$?" 0 "dangling references under the default gate"
"$MAPPROF" check --fail-on dangling --json "$TMP/d.json" --junit "$TMP/d.xml" --sarif "$TMP/d.sarif" -- "$TP/dangling" >/dev/null 2>"$TMP/err"
t_eq "$?" 23 "--fail-on dangling"
grep -q "^mapprof: map gate failed (dangling: 10 findings)" "$TMP/err" || t_fail "gate message: $(tail -2 "$TMP/err")"
grep -q "^dangling: an entry of map ghash 1 (created at main) has its value 0x[0-9a-f]* pointing into a block freed at free_some" "$TMP/err" ||
  t_fail "text report: $(grep -m1 '^dangling' "$TMP/err")"
line=$(grep -n 'g_free(g_hash_table_lookup(t,' "$ROOT/tests/preload/dangling.c" | cut -d: -f1)
python3 - "$TMP/d.json" "$TMP/d.xml" "$TMP/d.sarif" "$line" <<'PY' || t_fail "dangling findings in the reports"
import json, sys, xml.etree.ElementTree as ET
d = json.load(open(sys.argv[1]))
dg = [l for l in d["leaks"] if l["kind"] == "dangling"]
assert len(dg) == 10 and d["summary"]["dangling"] == 10, (len(dg), d["summary"])
assert len(set(l["pointer"] for l in dg)) == 10
for l in dg:
    assert l["failed"] and l["map"]["kind"] == "ghash" and l["map"]["id"] == 1 and l["field"] == "value", l
    assert l["certain"] and l["stack"][0]["function"] == "free_some", l["stack"][0]
    assert "main" in [f["function"] for f in l["map_created_at"]], l["map_created_at"]
assert not any(l["failed"] for l in d["leaks"] if l["kind"] != "dangling")
cases = ET.parse(sys.argv[2]).getroot().findall(".//testcase")
failed = [c.find("failure") for c in cases if c.find("failure") is not None]
assert len(failed) == 10 and all(f.get("type") == "dangling" for f in failed), len(failed)
run = json.load(open(sys.argv[3]))["runs"][0]
assert "dangling" in [r["id"] for r in run["tool"]["driver"]["rules"]]
res = [r for r in run["results"] if r["ruleId"] == "dangling"]
assert len(res) == 10 and all(r["level"] == "error" for r in res)
for r in res:
    loc = r["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"].endswith("dangling.c") and loc["region"]["startLine"] == int(sys.argv[4]), loc
PY
# two processes: each one's findings come from its own snapshots
"$MAPPROF" check --quiet --fail-on dangling --json "$TMP/d2.json" -- sh -c "'$TP/dangling' >/dev/null; '$TP/dangling' >/dev/null; :" >/dev/null 2>&1
t_eq "$?" 23 "--fail-on dangling, two processes"
t_eq "$(python3 -c 'import json,sys,collections; c = collections.Counter(l["pid"] for l in json.load(open(sys.argv[1]))["leaks"] if l["kind"] == "dangling"); print(sorted(c.values()))' "$TMP/d2.json")" "[10, 10]" "dangling references by process"
t_end

t_begin check_gate_growth
# diffmaps' "cache" map grows at each of the program's own snapshots (mapprof_dump) and never
# loses an entry; its "evicting" map grows too but evicts
# (its snapshots go under a prefix with glob characters in it, which must match only itself)
mkdir -p "$TMP/g[1]*"
"$MAPPROF" check --fail-on growth --json "$TMP/g.json" --sarif "$TMP/g.sarif" -o "$TMP/g[1]*/live" -- "$TP/diffmaps" >/dev/null 2>"$TMP/err"
t_eq "$?" 23 "--fail-on growth, the program's snapshots"
grep -q "^growth: map annotated 3 created at u64map_new only grew, 1000 -> 3000 entries over 4 snapshots" "$TMP/err" ||
  t_fail "text report: $(grep -m1 '^growth' "$TMP/err")"
line=$(grep -n '^DEFINE_MAP(u64map' "$ROOT/tests/preload/diffmaps.c" | cut -d: -f1)
python3 - "$TMP/g.sarif" "$line" <<'PY' || t_fail "growth in SARIF"
import json, sys
res = [r for r in json.load(open(sys.argv[1]))["runs"][0]["results"] if r["ruleId"] == "growth"]
assert len(res) == 1 and res[0]["level"] == "error", res
loc = res[0]["locations"][0]
# the map's creation site: u64map_new, defined by DEFINE_MAP in diffmaps.c
assert loc["physicalLocation"]["artifactLocation"]["uri"].endswith("diffmaps.c"), loc
assert loc["physicalLocation"]["region"]["startLine"] == int(sys.argv[2]), loc
assert loc["logicalLocations"][0]["fullyQualifiedName"] == "u64map_new", loc
PY
python3 - "$TMP/g.json" <<'PY' || t_fail "growth finding"
import json, sys
d = json.load(open(sys.argv[1]))
g = [(l["map"]["id"], l["entries_from"], l["map"]["entries"], l["snapshots"], l["failed"], l["stack"][0]["function"])
     for l in d["leaks"] if l["kind"] == "growth"]
# d0, d1, d2 and the exit snapshot, where the map did not change
assert g == [(3, 1000, 3000, 4, True, "u64map_new")], g
assert d["summary"]["growth"] == 1 and not any(l["failed"] for l in d["leaks"] if l["kind"] != "growth")
PY
# hmgrow: a map that gains a key every 10 ms, snapshots by --interval; it is freed before exit
"$MAPPROF" check --fail-on growth --interval 1 --json "$TMP/g2.json" -- "$TP/hmgrow" 3.5 >/dev/null 2>&1
t_eq "$?" 23 "--fail-on growth --interval 1"
python3 - "$TMP/g2.json" <<'PY' || t_fail "growth over interval snapshots"
import json, sys
g = [l for l in json.load(open(sys.argv[1]))["leaks"] if l["kind"] == "growth"]
assert len(g) == 1 and g[0]["map"]["kind"] == "mphash" and g[0]["snapshots"] >= 3, g
assert 0 < g[0]["entries_from"] < g[0]["map"]["entries"] <= 350, g
PY
"$MAPPROF" check --quiet --fail-on growth --interval 1 -- "$TP/hmgrow" 3.5 flat >/dev/null 2>&1
t_eq "$?" 0 "a map that stopped growing after the first second"
"$MAPPROF" check --fail-on growth -- "$TP/hmgrow" 0.2 >/dev/null 2>"$TMP/err"
t_eq "$?" 0 "one snapshot: no growth judged"
grep -q "growth needs 3 snapshots or more" "$TMP/err" || t_fail "no word about too few snapshots: $(tail -2 "$TMP/err")"
"$MAPPROF" check --interval 0 -- true >/dev/null 2>&1
t_eq "$?" 2 "bad --interval"
t_end

t_begin check_command_status_and_signals
"$MAPPROF" check --quiet -- sh -c 'exit 3' >/dev/null 2>&1
t_eq "$?" 3 "the command's own failure"
# reports of an earlier run (here, a leaky one) are not left to pass for this one's
"$MAPPROF" check --quiet --json "$TMP/k.json" --junit "$TMP/k.xml" --sarif "$TMP/k.sarif" -- "$leaky" >/dev/null 2>&1
t_eq "$(ls "$TMP"/k.json "$TMP"/k.xml "$TMP"/k.sarif 2>/dev/null | wc -l)" 3 "an earlier run's reports"
# ... but a usage error, which runs nothing, leaves them alone
"$MAPPROF" check --quiet -o "$TMP/a:b" --json "$TMP/k.json" --junit "$TMP/k.xml" --sarif "$TMP/k.sarif" -- "$leaky" >/dev/null 2>&1
t_eq "$?" 2 "a bad -o: usage error"
t_eq "$(ls "$TMP"/k.json "$TMP"/k.xml "$TMP"/k.sarif 2>/dev/null | wc -l)" 3 "a bad -o: the earlier run's reports kept"
"$MAPPROF" check --quiet --json "$TMP/k.json" --junit "$TMP/k.xml" --sarif "$TMP/k.sarif" -- sh -c 'kill -9 $$' >/dev/null 2>"$TMP/err"
t_eq "$?" 137 "killed by a signal"
grep -q "no leak check" "$TMP/err" || t_fail "no word about the missing check: $(cat "$TMP/err")"
t_eq "$(ls "$TMP"/k.json "$TMP"/k.xml "$TMP"/k.sarif 2>/dev/null | wc -l)" 0 "reports left from the earlier run"
# SIGTERM (left at its default; dash resets it, bash does not): no leak check either, but the
# profile of what was live is there
"$MAPPROF" check --quiet -o "$TMP/ct" -- bash -c 'kill -TERM $$' >/dev/null 2>"$TMP/err"
t_eq "$?" 143 "stopped by SIGTERM"
grep -q "no leak check" "$TMP/err" || t_fail "SIGTERM: no word about the missing check: $(cat "$TMP/err")"
t_eq "$(ls "$TMP"/ct.*.pb.gz 2>/dev/null | wc -l)" 1 "SIGTERM: profiles"
t_end

# The corpus: each program's definite and indirect bytes and blocks equal memcheck's.
export G_SLICE=always-malloc
for prog in leakmaps leakcxx hmleak leakmany "leakthreads" "leakthreads x" leakiter; do
  t_begin "corpus_vs_memcheck_${prog// /_}"
  got=$(mp_summary $TP/$prog)
  vs_memcheck "$got" $TP/$prog
  t_eq "$got" "$want" "$prog: definite and indirect, mapprof vs memcheck"
  t_end
done

t_begin corpus_leaked_maps_are_one_finding
"$MAPPROF" check --quiet --json "$TMP/m.json" -- "$TP/leakmaps" >/dev/null 2>&1
"$MAPPROF" check --quiet --json "$TMP/x.json" -- "$TP/leakcxx" >/dev/null 2>&1
python3 - "$TMP/m.json" "$TMP/x.json" <<'PY' || t_fail "leaked maps"
import json, sys
m = json.load(open(sys.argv[1]))["leaks"]
maps = sorted((l["map"]["kind"], l["map"]["entries"], l["kind"]) for l in m if l.get("map", {}).get("whole"))
assert maps == [("annotated", 10, "definite"), ("ghash", 50, "definite")], maps
# nothing of the lost GHashTable is reported apart from its finding
assert not [l for l in m if l["kind"] in ("definite", "indirect") and not l.get("map", {}).get("whole") and not l["suppressed"]], m
retained = [l for l in m if l["kind"] == "map-retained"]
assert len(retained) == 1 and retained[0]["blocks"] == 20 and retained[0]["map"]["kind"] == "ghash", retained
x = json.load(open(sys.argv[2]))["leaks"]
assert len(x) == 1 and x[0]["map"]["kind"] == "std_unordered" and x[0]["map"]["entries"] == 100, x
assert x[0]["blocks"] == 202, x[0]
PY
# the map's finding suppressed: its definite part (the map object) and its indirect part (its
# arrays and nodes) both leave the summary, each from its own class
echo 'fun:lose_map*' >"$TMP/supp_map"
"$MAPPROF" check --suppressions "$TMP/supp_map" --json "$TMP/xs.json" -- "$TP/leakcxx" >/dev/null 2>"$TMP/err"
t_eq "$?" 0 "leakcxx, its map suppressed: exit status"
t_eq "$(summary_of "$TMP/xs.json")" "0 0 0 0" "leakcxx, its map suppressed: JSON summary"
grep -q "^SUMMARY: definite 0 bytes in 0 blocks; indirect 0 bytes in 0 blocks;" "$TMP/err" ||
  t_fail "leakcxx, its map suppressed: $(grep SUMMARY "$TMP/err")"
"$MAPPROF" check --quiet --json "$TMP/h.json" -- "$TP/hmleak" >/dev/null 2>&1
t_eq "$?" 23 "hmleak exit status"
"$MAPPROF" check -- "$TP/hmleak" 2>&1 >/dev/null | grep -q "^definite leak: map mphash created at new_ptr_map: 30 entries" \
  || t_fail "text headline names the program's creation site"
python3 - "$TMP/h.json" <<'PY' || t_fail "leaked hashmap"
import json, sys
h = json.load(open(sys.argv[1]))["leaks"]
lost = [l for l in h if l["kind"] in ("definite", "indirect") and not l["suppressed"]]
# one finding: the map struct, its bucket array and the 30 values only its entries point to
assert len(lost) == 1 and lost[0]["kind"] == "definite" and lost[0]["map"]["kind"] == "mphash", lost
assert lost[0]["map"]["whole"] and lost[0]["map"]["entries"] == 30 and lost[0]["blocks"] == 32, lost[0]
ret = [l for l in h if l["kind"] == "map-retained"]
assert len(ret) == 1 and ret[0]["blocks"] == 20 and ret[0]["map"]["kind"] == "mphash", ret
PY
t_end

t_begin corpus_fork_each_process_checked
# the child ends by exit, then by _exit (which runs no destructor: the hook runs the check)
for how in exit _exit; do
  "$MAPPROF" check --quiet --json "$TMP/f.json" -- "$TP/leakfork" "$how" >/dev/null 2>&1
  t_eq "$?" 23 "$how: exit status"
  python3 - "$TMP/f.json" <<'PY' || t_fail "fork, child by $how"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["summary"]["processes"] == 2, d["summary"]
per_pid = {}
for l in d["leaks"]:
    if l["kind"] == "definite":
        per_pid[l["pid"]] = per_pid.get(l["pid"], 0) + l["bytes"]
assert sorted(per_pid.values()) == [111, 333], per_pid
PY
done
t_end

t_done
