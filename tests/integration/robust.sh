# Integration: the host program always finishes with its own exit status. Bad options and an
# unwritable output directory get a warning on stderr and no partial files; SIGUSR2 arriving
# during heavy allocation writes valid profiles and leaves no temporary files behind.
. "$(dirname "$0")/../lib.sh"

t_begin bad_options
MAPPROF_OPTIONS="rate=banana:nosuch=1:output=$TMP/bad" LD_PRELOAD="$LIB" "$TP/robust" 0 2>"$TMP/err"
t_eq "$?" 7 "exit status"
grep -q "mapprof: .*'rate'" "$TMP/err" || t_fail "no warning naming rate: $(cat "$TMP/err")"
grep -q "mapprof: .*'nosuch'" "$TMP/err" || t_fail "no warning naming nosuch"
ls "$TMP"/bad.*.pb.gz >/dev/null 2>&1 || t_fail "defaults kept: a profile is still written"
t_end

t_begin cli_run_bad_flags_exit_2
# each refused with one line and exit 2, before the program runs (it would leave a file)
for args in "--rate abc" "--rate 0" "--rate 1099511627777" "--interval 99999999999" "--unwind dwarf" "--bogus 1"; do
  # shellcheck disable=SC2086
  "$MAPPROF" run $args -- sh -c ": >'$TMP/ran'" >/dev/null 2>"$TMP/err"
  t_eq "$?" 2 "mapprof run $args"
  [ "$(wc -l <"$TMP/err")" = 1 ] || t_fail "$args: not one line: $(cat "$TMP/err")"
  [ ! -e "$TMP/ran" ] || t_fail "$args: the program ran"
done
# an output directory that cannot take the profiles: the same, before the program runs
: >"$TMP/plainfile"
for out in "$TMP/nodir/p" "$TMP/plainfile/p"; do
  "$MAPPROF" run -o "$out" -- sh -c ": >'$TMP/ran'" >/dev/null 2>"$TMP/err"
  t_eq "$?" 2 "mapprof run -o $out"
  t_eq "$(wc -l <"$TMP/err")" 1 "-o $out: lines"
  grep -q "output directory ${out%/p}: " "$TMP/err" || t_fail "-o $out: $(cat "$TMP/err")"
  [ ! -e "$TMP/ran" ] || t_fail "-o $out: the program ran"
done
# a command that cannot run: one line and the shell's status (127 not found, 126 not runnable),
# from run and check alike
chmod 644 "$TMP/plainfile"
for cmd in "$TMP/nosuch:127" "no-such-command-here:127" "$TMP/plainfile:126" "$TMP:126"; do
  for sub in run check; do
    "$MAPPROF" $sub -o "$TMP/cmd" -- "${cmd%:*}" >/dev/null 2>"$TMP/err"
    t_eq "$?" "${cmd##*:}" "mapprof $sub -- ${cmd%:*}"
    t_eq "$(wc -l <"$TMP/err")" 1 "$sub ${cmd%:*}: lines"
    grep -q "^mapprof: cannot run ${cmd%:*}: " "$TMP/err" || t_fail "$sub ${cmd%:*}: $(cat "$TMP/err")"
  done
done
"$MAPPROF" run --rate 1 -o "$TMP/ok" -- sh -c ": >'$TMP/ran'" >/dev/null 2>&1
t_eq "$?" 0 "mapprof run --rate 1"
[ -e "$TMP/ran" ] || t_fail "the program did not run with good flags"
t_end

t_begin cli_help_for_every_command
# -h or --help, alone or among a command's options: the usage on stdout, nothing on stderr,
# status 0; after -- it is the program's own argument
for args in "--help" "-h" "help" "run --help" "run --rate 5 -h" "check --help" "report -h" "diff --help"; do
  # shellcheck disable=SC2086
  "$MAPPROF" $args >"$TMP/out" 2>"$TMP/err"
  t_eq "$?" 0 "mapprof $args: status"
  grep -q "^usage: mapprof run" "$TMP/out" || t_fail "mapprof $args: no usage on stdout"
  t_eq "$(wc -c <"$TMP/err")" 0 "mapprof $args: stderr bytes"
done
got=$("$MAPPROF" run --quiet -o "$TMP/help" -- sh -c 'echo "$1"' sh --help 2>/dev/null)
t_eq "$got" "--help" "after --: the program's argument"
t_end

t_begin cli_run_lists_only_this_runs_profiles
# three runs in the same second under one prefix: each lists the one profile it wrote, not the
# earlier runs' (their times are within the same second); also under a prefix with glob
# characters, which match only themselves
for dir in lst "lst[1]"; do
  mkdir -p "$TMP/$dir"
  for n in 1 2 3; do
    "$MAPPROF" run -o "$TMP/$dir/p*" -- sh -c 'echo $$ >"$1"' sh "$TMP/pid$n" >/dev/null 2>"$TMP/err$n"
    t_eq "$?" 0 "$dir: run $n"
  done
  for n in 1 2 3; do
    t_eq "$(grep -c 'wrote' "$TMP/err$n")" 1 "$dir: run $n: profiles listed"
    t_eq "$(grep 'wrote' "$TMP/err$n")" "mapprof: wrote $TMP/$dir/p*.$(cat "$TMP/pid$n").0.pb.gz" \
      "$dir: run $n: the one listed"
  done
  t_eq "$(ls "$TMP/$dir" | wc -l)" 3 "$dir: profiles in the directory"
done
t_end

t_begin cli_warns_of_programs_preload_cannot_reach
# a statically linked program runs, unprofiled, after one warning line naming it
(cd "$TMP" && "$MAPPROF" run -o "$TMP/st" -- "$TP/chdirer_static") >/dev/null 2>"$TMP/err"
t_eq "$?" 0 "exit status (the program's)"
t_eq "$(grep -c "warning: $TP/chdirer_static is statically linked" "$TMP/err")" 1 "warning"
"$MAPPROF" check -- "$TP/chdirer_static" >/dev/null 2>"$TMP/err"
t_eq "$?" 2 "check: exit status"
grep -q "statically linked" "$TMP/err" || t_fail "check: no warning: $(cat "$TMP/err")"
# a dynamically linked one, found on PATH or by its path: no warning
"$MAPPROF" run -o "$TMP/dy" -- "$TP/chdirer" >/dev/null 2>"$TMP/err"
grep -q warning "$TMP/err" && t_fail "a warning for a dynamic program: $(cat "$TMP/err")"
PATH="$TP:$PATH" "$MAPPROF" run -o "$TMP/dy" -- chdirer >/dev/null 2>"$TMP/err"
grep -q warning "$TMP/err" && t_fail "a warning for a dynamic program on PATH: $(cat "$TMP/err")"
t_end

t_begin unwritable_output
mkdir -p "$TMP/ro" && chmod 555 "$TMP/ro"
# root writes anywhere: there, aim below a regular file instead (ENOTDIR)
if [ "$(id -u)" = 0 ]; then : >"$TMP/notadir"; target="$TMP/notadir/p"; else target="$TMP/ro/p"; fi
MAPPROF_OPTIONS="output=$target" LD_PRELOAD="$LIB" "$TP/robust" 0 2>"$TMP/err"
t_eq "$?" 7 "exit status"
t_eq "$(grep -c 'mapprof: cannot write' "$TMP/err")" 1 "one warning"
t_eq "$(ls -A "$TMP/ro" | wc -l)" 0 "files left in the unwritable directory"
t_end

t_begin relative_output_stays_where_it_was_given
# a daemon changes directory to / after its start: relative prefixes (given, and the default)
# name files in the directory the program started in
mkdir -p "$TMP/cd/rel"
(cd "$TMP/cd" && MAPPROF_OPTIONS="rate=1:output=rel/p" LD_PRELOAD="$LIB" "$TP/chdirer") 2>"$TMP/err"
t_eq "$?" 0 "exit status"
t_eq "$(cat "$TMP/err")" "" "warnings"
f=$(ls "$TMP"/cd/rel/p.*.pb.gz 2>/dev/null | head -1)
t_eq "$(pprof_flat "$f" inuse_space | flat_of after_chdir)" 5000 "after_chdir inuse in rel/"
(cd "$TMP/cd" && MAPPROF_OPTIONS="rate=1" LD_PRELOAD="$LIB" "$TP/chdirer") 2>"$TMP/err"
t_eq "$?" 0 "default prefix: exit status"
f=$(ls "$TMP"/cd/mapprof.*.pb.gz 2>/dev/null | head -1)
t_eq "$(pprof_flat "$f" inuse_space | flat_of before_chdir)" 10000 "default prefix: before_chdir inuse"
t_end

t_begin signal_handler_frees_inside_our_locks
# a SIGALRM handler frees blocks that map entries point to, every 100 us, while main works on
# the map (and, with "threads", short threads start and end): its frees land inside the live
# table's, the dangling table's and the stack table's critical sections, which each once
# waited for good on a lock of their own thread. Real allocations go to bumpalloc.so, which
# a handler may call (glibc's malloc is not reentrant: it aborts on its own tcache).
# With "reload", a thread loads and unloads a plugin meanwhile: every unload makes the walks
# read their rules again inside dl_iterate_phdr, whose lock a handler's walk then met (6 runs
# of 6 hung before a re-entered free stopped walking).
for run in "rate=1:dangling=all" "rate=1:dangling=all threads" "rate=1:dangling=all threads" \
           "rate=1:dangling=all threads" "rate=1:dangling=all reload" \
           "rate=1:dangling=all reload" "rate=4096" "rate=4096 threads"; do
  read -r opts mode <<<"$run"
  [ "$mode" = reload ] && mode="reload $TP/plugin.so"
  # shellcheck disable=SC2086
  timeout -k 5 60 env MAPPROF_OPTIONS="$opts:output=$TMP/sf" LD_PRELOAD="$LIB $TP/bumpalloc.so" \
    "$TP/sigfree" 1 $mode >"$TMP/sf.out" 2>"$TMP/err"
  t_eq "$?" 0 "$run: exit status"
  read -r _ frees <"$TMP/sf.out"
  [ "${frees:-0}" -ge 1000 ] || t_fail "$run: ${frees:-no} frees in the handler"
  f=$(ls "$TMP"/sf.*.pb.gz 2>/dev/null | head -1)
  "${GO_PPROF[@]}" -raw "$f" >/dev/null 2>&1 || t_fail "$run: no valid profile"
  rm -f "$TMP"/sf.*
done
t_end

t_begin sigusr2_during_allocation
out="$TMP/sig/p"
mkdir -p "$TMP/sig"
timeout 120 env MAPPROF_OPTIONS="rate=4096:output=$out" LD_PRELOAD="$LIB" "$TP/robust" 20 2>"$TMP/err"
t_eq "$?" 7 "exit status"
n=$(ls "$TMP/sig" | grep -c '\.pb\.gz$')
[ "$n" -ge 2 ] || t_fail "expected several profiles (signals + exit), got $n"
others=$(ls -A "$TMP/sig" | grep -vc '\.pb\.gz$')
t_eq "$others" 0 "temporary or partial files"
for f in "$TMP"/sig/*.pb.gz; do
  "${GO_PPROF[@]}" -raw "$f" >/dev/null 2>&1 || t_fail "invalid profile $f"
done
t_end

t_begin threads_asking_their_own_attributes
# pthread_getattr_np allocates under the lock of the thread it describes; the unwinders ask it
# for the stack bounds on a thread's first sample, and once waited there on themselves (the
# JVM hung at start)
for u in fp libunwind; do
  out=$(timeout 60 env MAPPROF_OPTIONS="rate=1:unwind=$u:output=$TMP/ga" LD_PRELOAD="$LIB" "$TP/getattr" 2>"$TMP/err")
  t_eq "$?" 0 "unwind=$u: exit status (124: hung)"
  t_eq "$out" "ok 80" "unwind=$u: output"
done
t_end

t_begin dump_leaves_host_heap_alone
# glibc's statistics of a fragmented heap, before and after two dumps through the API: the
# symbolizer's and encoder's allocations come from the profiler's private heap
MAPPROF_OPTIONS="output=$TMP/hn" LD_PRELOAD="$LIB" "$TP/heapneutral" >"$TMP/hn.out" 2>&1
t_eq "$?" 0 "exit status ($(tr '\n' ' ' <"$TMP/hn.out"))"
t_eq "$(ls "$TMP"/hn.*.pb.gz 2>/dev/null | wc -l)" 3 "profiles (two dumps and exit)"
for f in "$TMP"/hn.*.pb.gz; do
  "${GO_PPROF[@]}" -raw "$f" >/dev/null 2>&1 || t_fail "invalid profile $f"
done
t_end

t_begin symlink_not_followed
mkdir -p "$TMP/ln"
echo precious >"$TMP/precious"
# the first file name the program will pick is <prefix>.<pid>.0.pb.gz: the pid is unknown in
# advance, so plant links for a range after ours; pids are assigned increasingly.
base=$(sh -c 'echo $$')
for p in $(seq $((base + 1)) $((base + 40))); do ln -s "$TMP/precious" "$TMP/ln/p.$p.0.pb.gz"; done
MAPPROF_OPTIONS="output=$TMP/ln/p" LD_PRELOAD="$LIB" "$TP/robust" 0 2>"$TMP/err"
t_eq "$?" 7 "exit status"
t_eq "$(cat "$TMP/precious")" precious "symlink target untouched"
t_end

t_begin closed_descriptors_are_not_ours_to_write
MAPPROF_OPTIONS="output=$TMP/fd" LD_PRELOAD="$LIB" "$TP/fdcloser" "$TMP/victim" 2>"$TMP/err"
t_eq "$?" 0 "exit status"
t_eq "$(cat "$TMP/victim")" ok "the program's file holds only what it wrote"
t_end

for opts in rate=4096 rate=1:unwind=fp rate=1; do
  t_begin "stress_threads_fork_exec_signals_${opts//[:=]/_}"
  mkdir -p "$TMP/stress"
  timeout 120 env MAPPROF_OPTIONS="$opts:output=$TMP/stress/p" LD_PRELOAD="$LIB" "$TP/stress" 2 >"$TMP/stress.out" 2>"$TMP/stress.err"
  t_eq "$?" 0 "exit status (124 would be a hang)"
  grep -q 'stress done' "$TMP/stress.out" || t_fail "did not finish"
  bad=0
  for f in "$TMP"/stress/*.pb.gz; do "${GO_PPROF[@]}" -raw "$f" >/dev/null 2>&1 || bad=$((bad + 1)); done
  t_eq "$bad" 0 "invalid profiles"
  t_eq "$(ls -A "$TMP/stress" | grep -vc '\.pb\.gz$')" 0 "temporary files left"
  rm -rf "$TMP/stress"
  t_end
done

t_done
