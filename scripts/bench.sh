#!/usr/bin/env bash
# make bench: mapprof side by side with its peers, the way a user comparing tools would.
#
# For each workload, every configuration runs once per round, rounds repeated, and each run of
# a configuration comes right after a run of its baseline (the uninstrumented program; plain
# tcmalloc for gperftools' heap profiler; plain jemalloc for jemalloc's profiler): A B A C ..
# The time ratio of a cell is the median over rounds of each run's time over its own
# baseline's, run seconds before it: this machine's speed drifts by 2x over minutes, and a
# pair taken together drifts far less than two medians taken a minute apart. The spread of
# those per-round ratios is printed, and a verdict whose target lies inside it is marked as
# within the noise. Peak RSS (/usr/bin/time -f '%e %M') is the ratio of medians; the bytes the
# tool wrote to disk are the median.
# Then three probes: metadata per tracked block at rate=1, the time to dump 100k stacks, and
# (with valgrind) the instructions each workload executes, counted by cachegrind at a tenth of
# the scale: a figure this machine's drift cannot move, to tell a change from the noise; for
# the default rate also the work alone (twice the size minus once: fixed costs left out).
# Prints one table and writes the same to build/bench.json. Never part of make test.
#
#   BENCH_QUICK=1        ~2 minute run: scale 0.2, 3 rounds, valgrind on one workload
#   BENCH_SCALE=F        workload size multiplier (default 1: each workload ~1-2 s uninstrumented)
#   BENCH_RUNS=N         rounds (default 5)
#   BENCH_VALGRIND=0     skip valgrind (and the instruction counts)
#   BENCH_SLOW_FRACTION  scale of the full-tracking peers relative to the others (default 0.1)
#   BENCH_ONLY="a b"     only these workloads (churn cxxchurn threadchurn perl python hashmap)
#   BENCH_CONFIGS="a b"  only these configurations (baselines are added as needed)
#   BENCH_JSON=FILE      where the JSON goes (default build/bench.json)
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
  SCALE=${BENCH_SCALE:-0.2}; RUNS=${BENCH_RUNS:-3}; VG_ONLY=${BENCH_VALGRIND_ONLY:-churn}
else
  SCALE=${BENCH_SCALE:-1}; RUNS=${BENCH_RUNS:-5}; VG_ONLY=${BENCH_VALGRIND_ONLY:-}
fi
VALGRIND=${BENCH_VALGRIND:-1}
# Full-tracking peers 20-130x slower than native (gperftools' heap profiler, jemalloc at
# lg_prof_sample:0, valgrind) run at SLOW (1/10) of the scale, against baselines (*_small) run
# at that scale in the same rounds: their ratios include more of the fixed start-up cost.
SLOW=${BENCH_SLOW_FRACTION:-0.1}
SLOW_SCALE=$(awk -v s="$SCALE" -v f="$SLOW" 'BEGIN { print s * f }')
JSON=${BENCH_JSON:-$ROOT/build/bench.json}
LIB=$ROOT/build/libmapprof.so
CLI=$ROOT/build/mapprof
B=$ROOT/build/tests/bench
LIBDIR=/usr/lib/x86_64-linux-gnu
TCMALLOC=$LIBDIR/libtcmalloc.so.4
JEMALLOC=$LIBDIR/libjemalloc.so.2
PY=/usr/bin/python3   # Debian's python (PYTHONMALLOC=malloc reaches the system malloc)
TMP=$(mktemp -d /tmp/mapprof-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
RESULTS=$TMP/results   # workload config round seconds maxrss_kb bytes_written exit_status
PAIRS=$TMP/pairs       # workload config round seconds baseline_seconds (the run just before)
: >"$RESULTS"; : >"$PAIRS"

# scaled BASE [SCALE]: BASE times the scale (fractional); scaled_int rounds, at least 1.
scaled() { awk -v b="$1" -v s="${2:-$SCALE}" 'BEGIN { printf "%.3f", b * s }'; }
scaled_int() { awk -v b="$1" -v s="${2:-$SCALE}" 'BEGIN { n = int(b * s + 0.5); print n < 1 ? 1 : n }'; }

# ---- Workloads: name -> environment and command; the last argument is the size. ----
# perl and python: ARG thousand keys, in hashes of up to 100k keys each (build, look up a third,
# delete 90%, keep the rest alive).
PERL_SCRIPT='my $total = int(shift() * 1000); my ($sum, %keep) = (0);
for (my $r = 0; $r * 100000 < $total; $r++) {
  my $k = $total - $r * 100000; $k = 100000 if $k > 100000;
  my %h;
  $h{"user:$r:$_:session"} = [$_, "v$_"] for 1 .. $k;
  $sum += $h{"user:$r:$_:session"}[0] for grep { $_ % 3 == 0 } 1 .. $k;
  delete $h{"user:$r:$_:session"} for grep { $_ % 10 } 1 .. $k;
  $keep{$r} = \%h;
}
print "perl: $sum\n";'
PY_SCRIPT='import sys
total, s, keep = int(float(sys.argv[1]) * 1000), 0, []
for r in range((total + 99999) // 100000):
    k, h = min(100000, total - r * 100000), {}
    for i in range(k):
        h["user:%d:%d:session" % (r, i)] = [i, "v%d" % i]
    for i in range(0, k, 3):
        s += h["user:%d:%d:session" % (r, i)][0]
    for i in range(k):
        if i % 10:
            del h["user:%d:%d:session" % (r, i)]
    keep.append(h)
print("python:", s)'
# From files, not -e/-c: heaptrack records the command line in its data stream, and a newline
# in an argument breaks its reader ("failed to parse line").
printf '%s\n' "$PERL_SCRIPT" >"$TMP/hashes.pl"
printf '%s\n' "$PY_SCRIPT" >"$TMP/dicts.py"

# HASHMAP_BENCH: the program on the project's own hashmap/ library (usage: PROG [OPS_MILLIONS]).
HASHMAP_BENCH=${BENCH_HASHMAP_PROG:-$B/hashmap_churn}
workloads=(churn cxxchurn threadchurn perl python)
if [ -f build/libhashmap.a ] && [ -x "$HASHMAP_BENCH" ]; then workloads+=(hashmap); fi
[ -n "${BENCH_ONLY:-}" ] && read -ra workloads <<<"$BENCH_ONLY"
# What the runs need, built by `make bench` (run directly, a missing one would only show as a
# table of failed cells).
for f in "$LIB" "$CLI" "$B/churn" "$B/cxxchurn" "$B/threadchurn"; do
  [ -x "$f" ] || { echo "bench: $f is missing; run make bench" >&2; exit 2; }
done

# workload_cmd NAME SCALE -> sets WENV (array of VAR=value) and WCMD (array)
workload_cmd() {
  local s=$2
  WENV=()
  case $1 in
    churn) WCMD=("$B/churn" "$(scaled_int 4 "$s")") ;;   # whole millions only
    cxxchurn) WCMD=("$B/cxxchurn" "$(scaled 2.5 "$s")") ;;
    threadchurn) WCMD=("$B/threadchurn" "$(scaled 10 "$s")") ;;
    perl) WCMD=(/usr/bin/perl "$TMP/hashes.pl" "$(scaled 600 "$s")") ;;
    python) WENV=(PYTHONMALLOC=malloc); WCMD=("$PY" "$TMP/dicts.py" "$(scaled 300 "$s")") ;;
    hashmap) WCMD=("$HASHMAP_BENCH" "$(scaled_int 4 "$s")") ;;
    *) echo "bench: unknown workload $1" >&2; return 1 ;;
  esac
}

# ---- Configurations ----
# jemalloc's profiler exists only when the library was built with --enable-prof.
JE_PROF=0
if [ -f "$JEMALLOC" ]; then
  je_out=$(env LD_PRELOAD="$JEMALLOC" MALLOC_CONF=prof:true,stats_print:true /bin/true 2>&1)
  if grep -q 'config.prof: true' <<<"$je_out" && ! grep -q 'Invalid conf pair' <<<"$je_out"; then
    JE_PROF=1
  fi
fi
configs=(plain mapprof_default mapprof_nomaps mapprof_nodangling mapprof_rate1_fp mapprof_rate1_libunwind mapprof_check)
command -v heaptrack >/dev/null && configs+=(heaptrack)
[ -f "$TCMALLOC" ] && configs+=(tcmalloc_small gperftools_heapprof)
[ -f "$JEMALLOC" ] && configs+=(jemalloc jemalloc_prof jemalloc_small jemalloc_prof_lg0)
if [ "$VALGRIND" = 1 ] && command -v valgrind >/dev/null; then configs+=(plain_small valgrind); fi
[ -n "${BENCH_CONFIGS:-}" ] && read -ra configs <<<"plain $BENCH_CONFIGS"
baseline_of() {
  case $1 in
    gperftools_heapprof) echo tcmalloc_small ;;
    jemalloc_prof) echo jemalloc ;;
    jemalloc_prof_lg0) echo jemalloc_small ;;
    valgrind) echo plain_small ;;
    *) echo plain ;;
  esac
}
# make sure every configuration's baseline runs too
for c in "${configs[@]}"; do
  b=$(baseline_of "$c")
  [[ " ${configs[*]} " == *" $b "* ]] || configs+=("$b")
done

# config_cmd CONFIG DIR -> sets PRE (environment, VAR=value) and WRAP (a command to run the
# workload under) for that configuration, its output going to DIR.
config_cmd() {
  local c=$1 dir=$2
  PRE=() WRAP=()
  case $c in
    plain|plain_small) ;;
    mapprof_default) PRE=(LD_PRELOAD="$LIB" MAPPROF_OPTIONS="output=$dir/p") ;;
    mapprof_nomaps) PRE=(LD_PRELOAD="$LIB" MAPPROF_OPTIONS="maps=0:output=$dir/p") ;;
    mapprof_nodangling) PRE=(LD_PRELOAD="$LIB" MAPPROF_OPTIONS="dangling=0:output=$dir/p") ;;
    mapprof_rate1_fp) PRE=(LD_PRELOAD="$LIB" MAPPROF_OPTIONS="rate=1:unwind=fp:output=$dir/p") ;;
    mapprof_rate1_libunwind) PRE=(LD_PRELOAD="$LIB" MAPPROF_OPTIONS="rate=1:unwind=libunwind:output=$dir/p") ;;
    mapprof_check) WRAP=("$CLI" check --) ;;
    heaptrack) WRAP=(heaptrack -o "$dir/ht") ;;
    tcmalloc|tcmalloc_small) PRE=(LD_PRELOAD="$TCMALLOC") ;;
    gperftools_heapprof) PRE=(LD_PRELOAD="$TCMALLOC" HEAPPROFILE="$dir/hp") ;;
    jemalloc|jemalloc_small) PRE=(LD_PRELOAD="$JEMALLOC") ;;
    jemalloc_prof) PRE=(LD_PRELOAD="$JEMALLOC" MALLOC_CONF="prof:true,prof_final:true,prof_prefix:$dir/jeprof") ;;
    jemalloc_prof_lg0) PRE=(LD_PRELOAD="$JEMALLOC" MALLOC_CONF="prof:true,prof_final:true,lg_prof_sample:0,prof_prefix:$dir/jeprof") ;;
    valgrind) WRAP=(valgrind --leak-check=full --log-file="$dir/vg.log") ;;
  esac
}

# run_one WORKLOAD CONFIG ROUND: one timed run in a fresh directory; appends to RESULTS.
run_one() {
  local w=$1 c=$2 r=$3 dir=$TMP/run scale=$SCALE
  LAST_SECS=
  rm -rf "$dir"; mkdir -p "$dir"
  config_cmd "$c" "$dir"
  case $c in
    *_small|valgrind|gperftools_heapprof|jemalloc_prof_lg0) scale=$SLOW_SCALE ;;
    jemalloc_prof*) [ "$JE_PROF" = 1 ] || return ;;
  esac
  workload_cmd "$w" "$scale" || return
  # wall time from bash's clock (/usr/bin/time's %e has 10 ms steps); peak RSS from time's %M
  local t0=$EPOCHREALTIME st bytes secs kb
  ( cd "$dir" && exec timeout 900 /usr/bin/time -f '%e %M' -o "$TMP/time" \
      env "${WENV[@]}" "${PRE[@]}" "${WRAP[@]}" "${WCMD[@]}" >"$TMP/stdout" 2>"$TMP/stderr" )
  st=$?
  secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f", b - a }')
  bytes=$(find "$dir" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
  read -r _ kb < <(grep -E '^[0-9.]+ [0-9]+$' "$TMP/time" | tail -1)
  if [ "$st" != 0 ] && ! { [ "$c" = mapprof_check ] && [ "$st" = 23 ]; }; then
    echo "bench: $w/$c exit status $st: $(tail -c 300 "$TMP/stderr" | tr '\n' ' ')" >&2
  fi
  [ -n "${kb:-}" ] || return
  echo "$w $c $r $secs $kb $bytes $st" >>"$RESULTS"
  LAST_SECS=$secs
}

echo "mapprof bench: workloads ${workloads[*]}; scale $SCALE; $RUNS rounds; configurations alternate within each round"
[ "$JE_PROF" = 1 ] || echo "jemalloc: built without profiling; its profiler rows are n/a"
start=$SECONDS
for w in "${workloads[@]}"; do
  cfgs=()
  for c in "${configs[@]}"; do
    case $c in valgrind|plain_small)   # plain_small is valgrind's baseline only
      [ -n "$VG_ONLY" ] && [[ " $VG_ONLY " != *" $w "* ]] && continue ;;
    esac
    cfgs+=("$c")
  done
  for ((r = 0; r < RUNS; r++)); do
    prev= prev_secs=
    for c in "${cfgs[@]}"; do
      b=$(baseline_of "$c")
      # the *_small runs are baselines of the full-tracking peers only: no pair of their own
      if [ "$c" != plain ] && [[ $c != *_small ]] && [ "$prev" != "$b" ]; then
        run_one "$w" "$b" "$r"; prev=$b prev_secs=$LAST_SECS
      fi
      base_secs=$prev_secs
      run_one "$w" "$c" "$r"
      [ -n "$LAST_SECS" ] && [ "$prev" = "$b" ] && [ -n "$base_secs" ] && [ "$c" != plain ] &&
        echo "$w $c $r $LAST_SECS $base_secs" >>"$PAIRS"
      prev=$c prev_secs=$LAST_SECS
    done
  done
  echo "  $w done ($((SECONDS - start)) s)"
done

# ---- Probe: profiler metadata per tracked block at rate=1 (peak RSS difference / live blocks).
NBLOCKS=$(scaled_int 2000000)
for ((r = 0; r < RUNS; r++)); do
  for c in plain rate1_fp; do
    if [ $c = plain ]; then pre=(); else pre=(LD_PRELOAD="$LIB" MAPPROF_OPTIONS="rate=1:unwind=fp:at_exit=0"); fi
    /usr/bin/time -f '%e %M' -o "$TMP/time" env "${pre[@]}" "$B/liveblocks" "$NBLOCKS" >/dev/null 2>&1
    echo "$c $(tail -1 "$TMP/time")" >>"$TMP/meta"
  done
done

# ---- Probe: one dump of 100k distinct stacks (timed inside the program around mapprof_dump).
NSTACKS=100000
for ((r = 0; r < RUNS; r++)); do
  rm -rf "$TMP/ms"; mkdir -p "$TMP/ms"
  env LD_PRELOAD="$LIB" MAPPROF_OPTIONS="rate=1:unwind=fp:at_exit=0:output=$TMP/ms/p" \
    "$B/manystacks" "$NSTACKS" >"$TMP/ms.out" 2>/dev/null
  s=$(sed -n 's/.*dump \([0-9.-]*\) seconds.*/\1/p' "$TMP/ms.out")
  bytes=$(find "$TMP/ms" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
  echo "${s:--1} $bytes" >>"$TMP/stacks"
done

# ---- Probe: instructions executed (cachegrind), uninstrumented and under mapprof. Hash seeds
# fixed, so perl and python run the same way each time. A run counts fixed costs too (the
# program's start, our start and exit dump: the table's "fixed" column, from the same runs),
# which at a tenth of the scale weigh ten times what they do in the timed runs; so plain and
# the default rate also run at twice the size (the workload's last argument doubled), and the
# difference of the two counts is the cost of that much work alone.
: >"$TMP/instr"
# instructions CONFIG: cachegrind's count for one run of WCMD under CONFIG, or nothing
instructions() {
  rm -rf "$TMP/ir"; mkdir -p "$TMP/ir"
  config_cmd "$1" "$TMP/ir"
  valgrind --tool=cachegrind --cache-sim=no --trace-children=yes --cachegrind-out-file=/dev/null \
    env PYTHONHASHSEED=0 PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0 "${WENV[@]}" "${PRE[@]}" "${WCMD[@]}" 2>&1 >/dev/null |
    sed -n 's/^==[0-9]*== I *refs: *\([0-9,]*\).*/\1/p' | tr -d , | tail -1
}
if [ "$VALGRIND" = 1 ] && command -v valgrind >/dev/null; then
  for w in "${workloads[@]}"; do
    workload_cmd "$w" "$SLOW_SCALE" || continue
    for c in plain mapprof_default mapprof_rate1_fp mapprof_rate1_libunwind; do
      ir=$(instructions "$c")
      [ -n "$ir" ] && [ "$ir" -gt 0 ] && echo "$w $c $ir" >>"$TMP/instr"
    done
    WCMD[-1]=$(awk -v n="${WCMD[-1]}" 'BEGIN { print n * 2 }')
    for c in plain mapprof_default; do
      ir=$(instructions "$c")
      [ -n "$ir" ] && [ "$ir" -gt 0 ] && echo "$w ${c}_x2 $ir" >>"$TMP/instr"
    done
  done
fi

# ---- Report: one table on stdout, the same data as JSON.
mkdir -p "$(dirname "$JSON")"
"$PY" - "$RESULTS" "$TMP/meta" "$TMP/stacks" "$JSON" "$SCALE" "$RUNS" "$JE_PROF" "$NBLOCKS" "$NSTACKS" "$SLOW" "$PAIRS" "$TMP/instr" <<'EOF'
import json, statistics, sys
res, meta, stacks, out, scale, runs, je_prof, nblocks, nstacks = sys.argv[1:10]
pairs = {}
for line in open(sys.argv[11]):
    w, c, r, s, bs = line.split()
    if float(bs) > 0: pairs.setdefault((w, c), []).append(float(s) / float(bs))
base = {"gperftools_heapprof": "tcmalloc_small", "jemalloc_prof": "jemalloc",
        "jemalloc_prof_lg0": "jemalloc_small", "valgrind": "plain_small"}
slow = {"gperftools_heapprof", "jemalloc_prof_lg0", "valgrind", "plain_small", "tcmalloc_small", "jemalloc_small"}
expected_status = {"mapprof_check": {0, 23}, "valgrind": {0}}
targets = {"mapprof_default": 1.03, "mapprof_rate1_fp": 1.5}
cells, order_w, order_c = {}, [], []
for line in open(res):
    w, c, r, s, kb, nbytes, st = line.split()
    cells.setdefault((w, c), []).append((float(s), int(kb), int(nbytes), int(st)))
    if w not in order_w: order_w.append(w)
    if c not in order_c: order_c.append(c)
med = lambda xs: statistics.median(xs) if xs else None
def quartiles(xs):
    """first and third quartile (inclusive method), None under 3 values"""
    if len(xs) < 3: return None
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[2]
def summary(w, c):
    v = cells.get((w, c))
    if not v: return None
    return {"runs": len(v), "median_s": med([x[0] for x in v]), "median_rss_kb": med([x[1] for x in v]),
            "written_bytes": med([x[2] for x in v]), "exit_status": sorted({x[3] for x in v})}
rows = []
for w in order_w:
    ht = vg = None
    for c in order_c:
        s = summary(w, c)
        if s is None:
            if c.startswith("jemalloc_prof") and je_prof == "0":
                rows.append({"workload": w, "config": c, "na": "built without profiling"})
            continue
        b = summary(w, base.get(c, "plain"))
        pr = pairs.get((w, c), [])
        s.update({"workload": w, "config": c, "baseline": base.get(c, "plain"),
                  "time_ratio": 1.0 if c == "plain" else med(pr), "time_ratios_by_round": pr,
                  "time_ratio_middle_half": quartiles(pr),
                  "time_ratio_of_medians": s["median_s"] / b["median_s"] if b and b["median_s"] else None,
                  "rss_ratio": s["median_rss_kb"] / b["median_rss_kb"] if b else None})
        if c == "heaptrack": ht = s["time_ratio"]
        if c == "valgrind": vg = s["time_ratio"]
        rows.append(s)
    for s in rows:
        if s["workload"] != w or not s.get("time_ratio"): continue
        if s["config"] == "mapprof_rate1_libunwind" and ht:
            s["target"] = "<= %.2fx (half of heaptrack)" % (ht / 2); limit = ht / 2
        elif s["config"] == "mapprof_check" and vg:
            s["target"] = "<= %.2fx (valgrind / 10)" % (vg / 10); limit = vg / 10
        elif s["config"] in targets:
            s["target"] = "<= %.2fx" % targets[s["config"]]; limit = targets[s["config"]]
        else: continue
        s["met"] = s["time_ratio"] <= limit
        # the target inside the middle half of the per-round ratios: the verdict is the noise's
        q = s["time_ratio_middle_half"]
        s["within_noise"] = q is not None and q[0] <= limit <= q[1]
# map tracking's own cost: default-rate profiling with maps known vs with maps=0, in whole
# and without recording entries' pointers (dangling=0)
map_cost, inventory_cost = {}, {}
for w in order_w:
    a, b, c = summary(w, "mapprof_default"), summary(w, "mapprof_nomaps"), summary(w, "mapprof_nodangling")
    if a and b and b["median_s"]:
        map_cost[w] = a["median_s"] / b["median_s"]
    if c and b and b["median_s"]:
        inventory_cost[w] = c["median_s"] / b["median_s"]
m = {}
for line in open(meta):
    c, s, kb = line.split()
    m.setdefault(c, []).append(int(kb))
per_block = (med(m["rate1_fp"]) - med(m["plain"])) * 1024 / int(nblocks) if m.get("rate1_fp") and m.get("plain") else None
instr = {}
for line in open(sys.argv[12]):
    w, c, n = line.split()
    instr.setdefault(w, {})[c] = int(n)
instructions = {w: dict(v, **{c + "_ratio": v[c] / v["plain"] for c in v
                              if c != "plain" and not c.endswith("_x2") and v.get("plain")})
                for w, v in instr.items()}
for v in instructions.values():     # the doubled work alone: fixed costs left out
    if {"plain", "plain_x2", "mapprof_default", "mapprof_default_x2"} <= set(v) and v["plain_x2"] > v["plain"]:
        work = v["mapprof_default_x2"] - v["mapprof_default"]
        plain_work = v["plain_x2"] - v["plain"]
        v["mapprof_default_work_ratio"] = work / plain_work
        v["mapprof_default_fixed"] = (v["mapprof_default"] - v["plain"]) - (work - plain_work)
dumps = [tuple(map(float, l.split())) for l in open(stacks)]
dump_s = med([d[0] for d in dumps if d[0] >= 0])
doc = {"scale": float(scale), "rounds": int(runs), "cells": rows,
       "map_tracking_cost": map_cost, "map_inventory_cost": inventory_cost, "map_tracking_target": 1.02,
       "metadata_bytes_per_block_rate1": per_block, "metadata_blocks": int(nblocks),
       "metadata_target_bytes": 32, "metadata_met": per_block is not None and per_block <= 32,
       "dump_stacks": int(nstacks), "dump_seconds_median": dump_s,
       "dump_profile_bytes": med([d[1] for d in dumps]), "dump_target_s": 1.0,
       "dump_met": dump_s is not None and dump_s < 1.0,
       "instructions": instructions, "instructions_scale": float(scale) * float(sys.argv[10])}
json.dump(doc, open(out, "w"), indent=1)
print("\n%-12s %-24s %5s %9s %8s %13s %8s %11s  %s" % ("workload", "configuration", "runs", "median_s",
      "time_x", "(middle half)", "rss_x", "written", "target"))
for s in rows:
    if "na" in s:
        print("%-12s %-24s %s" % (s["workload"], s["config"], "n/a (" + s["na"] + ")")); continue
    fmt = lambda x: "%7.2fx" % x if x is not None else "    n/a"
    wr = s["written_bytes"]
    wr = "%.1f MB" % (wr / 1e6) if wr >= 1e5 else "%d B" % wr
    tg = ""
    if "target" in s:
        tg = "%s %s%s" % (s["target"], "met" if s["met"] else "MISSED",
                          " (within the noise)" if s["within_noise"] else "")
    q = s.get("time_ratio_middle_half")
    spread = "%5.2f-%-5.2f" % q if q else ""
    if s["config"] in slow: tg = "(at %g of the scale, vs %s)" % (float(scale) * float(sys.argv[10]), s["baseline"])
    bad = [x for x in s["exit_status"] if x not in expected_status.get(s["config"], {0})]
    if bad: tg = ("FAILED: exit status %s; " % ",".join(map(str, bad))) + tg
    print("%-12s %-24s %5d %9.3f %8s %13s %8s %11s  %s" % (s["workload"], s["config"], s["runs"], s["median_s"],
          fmt(s["time_ratio"]), spread, fmt(s["rss_ratio"]), wr, tg))
print("\nmap tracking at the default rate vs maps=0, target <= 1.02x: whole (entries' pointers recorded) | inventory only (dangling=0)")
for w in order_w:
    r, q = map_cost.get(w), inventory_cost.get(w)
    f = lambda x: ("%6.3fx %-6s" % (x, "met" if x <= 1.02 else "MISSED")) if x is not None else "   n/a       "
    print("  %-12s %s | %s" % (w, f(r), f(q)))
print("\nmetadata per tracked block at rate=1 (unwind=fp, %d live 32-byte blocks, peak RSS difference): %s  target <= 32 B %s"
      % (int(nblocks), "%.1f B" % per_block if per_block is not None else "n/a",
         "met" if doc["metadata_met"] else "MISSED"))
print("dump of %d distinct stacks: median %s, profile %.1f MB  target < 1 s %s"
      % (int(nstacks), "%.3f s" % dump_s if dump_s is not None else "n/a", doc["dump_profile_bytes"] / 1e6,
         "met" if doc["dump_met"] else "MISSED"))
if instructions:
    print("\ninstructions executed (cachegrind, at %g of the scale; a count the machine's drift does not move): ratio to the uninstrumented run"
          % (float(scale) * float(sys.argv[10])))
    print("  (default, work alone: the extra instructions of a run at twice the size, over the uninstrumented")
    print("  run's, so start-up and the exit dump are left out; target <= %.2fx; fixed: those left-out"
          % targets["mapprof_default"])
    print("  instructions of ours, millions)")
    print("  %-12s %16s %10s %10s %10s %11s %11s" % ("workload", "uninstrumented", "default", "rate=1 fp",
                                                     "libunwind", "work alone", "fixed (M)"))
    for w in order_w:
        v = instructions.get(w)
        if not v or not v.get("plain"): continue
        f = lambda k: "%9.3fx" % v[k] if k in v else "       n/a"
        wr = v.get("mapprof_default_work_ratio")
        fixed = v.get("mapprof_default_fixed")
        print("  %-12s %16s %s %s %s  %s %6s %-6s" % (w, "{:,}".format(v["plain"]), f("mapprof_default_ratio"),
                                                    f("mapprof_rate1_fp_ratio"), f("mapprof_rate1_libunwind_ratio"),
                                                    f("mapprof_default_work_ratio"),
                                                    "n/a" if fixed is None else "%.1f" % (fixed / 1e6),
                                                    "" if wr is None else "met" if wr <= targets["mapprof_default"] else "MISSED"))
print("JSON: " + out)
EOF
echo "bench: $((SECONDS - start)) s"

if [ -f tests/bench/hashmap_bench.sh ]; then
  echo; bash tests/bench/hashmap_bench.sh
fi
