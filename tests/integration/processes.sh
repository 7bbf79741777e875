# Integration: threads, fork, exec, dlopen/dlclose and C++ new/delete under the preload
# library: no crash, no deadlock, a valid profile from every process, right numbers.
. "$(dirname "$0")/../lib.sh"

valid() { "${GO_PPROF[@]}" -raw "$1" >/dev/null 2>&1; }

t_begin threads_4x1M
out="$TMP/th"
truth=$(timeout 120 env MAPPROF_OPTIONS="rate=4096:output=$out" LD_PRELOAD="$LIB" "$TP/threads" 4 1000000)
rc=$?
t_eq "$rc" 0 "exit status"
read -r _ alloc inuse <<<"$truth"
pb=$(ls "$out".*.pb.gz 2>/dev/null | head -1)
valid "$pb" || t_fail "invalid profile"
ea=$(pprof_flat "$pb" alloc_space | flat_of thread_alloc)
awk -v e="$ea" -v t="$alloc" 'BEGIN { exit !((e - t) / t < 0.02 && (t - e) / t < 0.02) }' \
  || t_fail "alloc_space $ea vs truth $alloc"
t_end

t_begin threads_rate1_exact
out="$TMP/th1"
truth=$(timeout 120 env MAPPROF_OPTIONS="rate=1:unwind=fp:output=$out" LD_PRELOAD="$LIB" "$TP/threads" 4 200000)
read -r _ alloc inuse <<<"$truth"
pb=$(ls "$out".*.pb.gz 2>/dev/null | head -1)
t_eq "$(pprof_flat "$pb" alloc_space | flat_of thread_alloc)" "$alloc" "alloc_space"
t_eq "$(pprof_flat "$pb" inuse_space | flat_of thread_alloc)" "$inuse" "inuse_space"
t_eq "$(pprof_flat "$pb" alloc_objects | flat_of thread_alloc)" 800000 "alloc_objects"
t_end

t_begin fork_and_exec
out="$TMP/fk"
timeout 60 env MAPPROF_OPTIONS="rate=1:output=$out" LD_PRELOAD="$LIB" "$TP/forker" >"$TMP/pids"
t_eq "$?" 0 "exit status"
# each process allocates 100 x 1000 B in role_alloc() and frees half; the fork child also holds the
# parent's half it inherited
for role in parent fork-child exec-child; do
  want=50000; [ "$role" = fork-child ] && want=100000
  pid=$(awk -v r="$role" '$2 == r { print $3 }' "$TMP/pids")
  f=$(ls "$out.$pid".*.pb.gz 2>/dev/null | head -1)
  if [ -z "$pid" ] || [ ! -s "$f" ]; then t_fail "$role: no profile"; continue; fi
  valid "$f" || t_fail "$role: invalid profile"
  t_eq "$(pprof_flat "$f" inuse_space | flat_of role_alloc)" "$want" "$role inuse in role_alloc"
done
t_end

t_begin dlopen_dlclose
out="$TMP/dl"
timeout 60 env MAPPROF_OPTIONS="rate=1:output=$out" LD_PRELOAD="$LIB" "$TP/dlopener" "$TP/plugin.so" >"$TMP/dl.out"
t_eq "$?" 0 "exit status"
grep -q '^dump 0$' "$TMP/dl.out" || t_fail "mapprof_dump did not return 0: $(cat "$TMP/dl.out")"
n=$(ls "$out".*.pb.gz 2>/dev/null | wc -l)
t_eq "$n" 2 "profiles (dump + exit)"
first=$(ls "$out".*.0.pb.gz 2>/dev/null)
t_eq "$(pprof_flat "$first" inuse_space | flat_of plugin_alloc)" 10000 "plugin_alloc inuse, named"
last=$(ls "$out".*.1.pb.gz 2>/dev/null)
valid "$last" || t_fail "exit profile after dlclose invalid"
t_end

t_begin dump_api_without_preload
"$TP/dlopener" "$TP/plugin.so" >"$TMP/dl2.out" 2>&1
grep -q '^dump -1$' "$TMP/dl2.out" || t_fail "mapprof_dump without mapprof: $(cat "$TMP/dl2.out")"
t_end

t_begin cxx_new_delete
out="$TMP/cx"
timeout 60 env MAPPROF_OPTIONS="rate=1:output=$out" LD_PRELOAD="$LIB" "$TP/cxx_new" >"$TMP/cx.out"
t_eq "$?" 0 "exit status"
pb=$(ls "$out".*.pb.gz 2>/dev/null | head -1)
pprof_flat "$pb" inuse_space >"$TMP/cx.top"
pprof_flat "$pb" inuse_objects >"$TMP/cx.obj"
while read -r _ fn ib io; do
  t_eq "$(flat_of "$fn" <"$TMP/cx.top")" "$ib" "$fn inuse_space"
  t_eq "$(flat_of "$fn" <"$TMP/cx.obj")" "$io" "$fn inuse_objects"
done < <(grep '^site ' "$TMP/cx.out")
# sized_delete allocated 10 x 1000 + 512 and freed all
t_eq "$(pprof_flat "$pb" alloc_space | flat_of "sized_delete()")" 10512 "sized_delete alloc_space"
t_end

# Programs built without frame pointers: the walk meets arbitrary values in rbp and must stop
# cleanly (a wrapped bounds check once crashed CPython here).
for opts in rate=1:unwind=fp rate=1 rate=4096:unwind=fp; do
  t_begin "no_frame_pointers_${opts//[:=]/_}"
  out="$TMP/nofp"
  PYTHONMALLOC=malloc timeout 120 env MAPPROF_OPTIONS="$opts:output=$out" LD_PRELOAD="$LIB" /usr/bin/python3 -c '
d = {}
for i in range(200000): d[str(i)] = [i]
for i in range(0, 200000, 2): del d[str(i)]
print(len(d))' >"$TMP/py.out" 2>"$TMP/py.err"
  t_eq "$?" 0 "python exit status"
  t_eq "$(cat "$TMP/py.out")" 100000 "python output"
  timeout 120 env MAPPROF_OPTIONS="$opts:output=$out.pl" LD_PRELOAD="$LIB" perl -e 'my %h; $h{$_} = [$_] for 1..200000; delete $h{$_} for 1..100000; print scalar(keys %h), "\n"' >"$TMP/pl.out" 2>&1
  t_eq "$?" 0 "perl exit status"
  for f in "$out".*.pb.gz "$out".pl.*.pb.gz; do "${GO_PPROF[@]}" -raw "$f" >/dev/null 2>&1 || t_fail "invalid $f"; done
  rm -f "$out".*
  t_end
done

# _exit and _Exit run no destructor: the exit path runs in the hook first (interpose/exit.c)
t_begin exit_by__exit_writes_the_profile
for call in _exit _Exit; do
  out="$TMP/ex$call"
  timeout 60 env MAPPROF_OPTIONS="rate=1:output=$out" LD_PRELOAD="$LIB" "$TP/exiter" fork "$call" >"$TMP/ex.out"
  t_eq "$?" 0 "$call: exit status"
  pid=$(awk '$2 == "child" { print $3 }' "$TMP/ex.out")
  f=$(ls "$out.$pid".*.pb.gz 2>/dev/null | head -1)
  if [ -z "$pid" ] || [ ! -s "$f" ]; then t_fail "$call: no profile of the child"; continue; fi
  t_eq "$(pprof_flat "$f" inuse_space | flat_of child_alloc)" 100000 "$call: child_alloc inuse"
  t_eq "$(ls "$out".*.pb.gz | wc -l)" 2 "$call: profiles (parent, child)"
done
# the motivating case: every multiprocessing worker ends by os._exit
out="$TMP/expy"
PYTHONMALLOC=malloc timeout 60 env MAPPROF_OPTIONS="rate=1:output=$out" LD_PRELOAD="$LIB" /usr/bin/python3 -c '
import os
pid = os.fork()
if pid == 0:
    d = [bytearray(1000 + i) for i in range(300)]
    os._exit(0)
os.waitpid(pid, 0)'
t_eq "$?" 0 "python: exit status"
t_eq "$(ls "$out".*.pb.gz 2>/dev/null | wc -l)" 2 "python: profiles (parent, os._exit child)"
t_end

t_begin exit_by__exit_elsewhere
# a vfork child's _exit (the parent's memory, no fork handler ran) writes nothing and leaves
# the parent's state whole
out="$TMP/exv"
timeout 60 env MAPPROF_OPTIONS="rate=1:output=$out" LD_PRELOAD="$LIB" "$TP/exiter" vfork
t_eq "$?" 0 "vfork: exit status"
t_eq "$(ls "$out".*.pb.gz 2>/dev/null | wc -l)" 1 "vfork: profiles"
f=$(ls "$out".*.pb.gz 2>/dev/null | head -1)
t_eq "$(pprof_flat "$f" inuse_space | flat_of parent_alloc)" 150000 "vfork: parent_alloc inuse"
# an atexit handler's _exit: the exit path runs once
out="$TMP/exa"
timeout 60 env MAPPROF_OPTIONS="rate=1:leak_check=1:output=$out" LD_PRELOAD="$LIB" "$TP/exiter" atexit 2>"$TMP/exa.err"
t_eq "$?" 4 "atexit: exit status"
t_eq "$(ls "$out".*.pb.gz 2>/dev/null | wc -l)" 1 "atexit: profiles"
t_eq "$(grep -c 'leak check of pid' "$TMP/exa.err")" 1 "atexit: leak checks"
# quick_exit ends in glibc's internal _exit: the exit path is its last handler
out="$TMP/exq"
timeout 60 env MAPPROF_OPTIONS="rate=1:output=$out" LD_PRELOAD="$LIB" "$TP/exiter" quick
t_eq "$?" 9 "quick_exit: exit status"
f=$(ls "$out".*.pb.gz 2>/dev/null | head -1)
t_eq "$(pprof_flat "$f" inuse_space | flat_of parent_alloc)" 100000 "quick_exit: parent_alloc inuse"
# another thread's _exit while main allocates
out="$TMP/ext"
timeout 60 env MAPPROF_OPTIONS="rate=1:output=$out" LD_PRELOAD="$LIB" "$TP/exiter" thread
t_eq "$?" 6 "thread: exit status"
f=$(ls "$out".*.pb.gz 2>/dev/null | head -1)
valid "$f" || t_fail "thread: no valid profile"
# a signal handler's _exit (or exit, unsafe but common, or mapprof_dump), wherever the signal
# lands: inside glibc's malloc (its lock held) or inside our own work (then a warning and no
# profile, or EBUSY); never a hang (exit there once waited for good on a lock its own thread
# held, 1 run in 10)
for how in _exit exit dump; do
  for opts in rate=1 rate=524288; do
    out="$TMP/exh$opts" written=0
    for i in 1 2 3 4 5 6 7 8; do
      timeout 60 env MAPPROF_OPTIONS="$opts:output=$out" LD_PRELOAD="$LIB" "$TP/exiter" handler "$how" 2>"$TMP/exh.err"
      rc=$?
      # mapprof_dump in the handler: 3 when it wrote, 4 when it said EBUSY (inside our work)
      [ "$rc" = 3 ] || { [ "$how" = dump ] && [ "$rc" = 4 ]; } || t_fail "handler $how $opts: exit status $rc"
      if f=$(ls "$out".*.pb.gz 2>/dev/null | head -1) && [ -n "$f" ]; then
        valid "$f" || t_fail "handler $how $opts: invalid profile"
        written=$((written + 1))
      else
        grep -q "no exit profile" "$TMP/exh.err" || t_fail "handler $how $opts: no profile, no warning"
      fi
      rm -f "$out".*
    done
    # at the default rate the hooks' own work is a sliver of the run
    [ "$opts" = rate=1 ] || [ "$written" -ge 7 ] || t_fail "handler $how $opts: $written profiles of 8"
  done
done
t_end

# A signal that would end the program by default (SIGTERM, SIGINT, SIGHUP): the exit profile is
# written first, then the program ends as the default would.
# stop PREFIX OPTS SIGNAL MODE [MARK]: start termwait, wait for MARK on its output ("ready"),
# send SIGNAL; prints its status ("never MARK" when the program did not get that far in 10 s)
stop() {
  local mark=${5:-ready}
  rm -f "$TMP/tw.out"
  env MAPPROF_OPTIONS="$2:output=$1" LD_PRELOAD="$LIB" "$TP/termwait" "$4" >"$TMP/tw.out" 2>"$TMP/tw.err" &
  local pid=$! i
  for i in $(seq 100); do grep -q "$mark" "$TMP/tw.out" 2>/dev/null && break; sleep 0.1; done
  if ! grep -q "$mark" "$TMP/tw.out"; then
    kill -9 "$pid"; wait "$pid"; echo "never $mark"; return
  fi
  kill -s "$3" "$pid"
  # never a hang: a dump that waited would show here
  for i in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
  wait "$pid"
  echo "$?"
}

t_begin stopped_by_a_signal_writes_the_profile
for sig in TERM HUP; do
  out="$TMP/tw$sig"
  want=$((128 + $(kill -l "$sig")))
  t_eq "$(stop "$out" rate=1 "$sig" pause)" "$want" "SIG$sig: status (the default action's)"
  f=$(ls "$out".*.pb.gz 2>/dev/null | head -1)
  t_eq "$(pprof_flat "$f" inuse_space | flat_of term_alloc)" 100000 "SIG$sig: term_alloc inuse"
done
out="$TMP/twoff"
t_eq "$(stop "$out" rate=1:term=0 TERM pause)" 143 "term=0: status"
t_eq "$(ls "$out".*.pb.gz 2>/dev/null | wc -l)" 0 "term=0: profiles"
# the program's own handler is left alone (it ends by _exit: the exit path runs there)
out="$TMP/twown"
t_eq "$(stop "$out" rate=1 TERM own)" 0 "own handler: status"
grep -q "own handler" "$TMP/tw.out" || t_fail "own handler did not run"
t_eq "$(ls "$out".*.pb.gz 2>/dev/null | wc -l)" 1 "own handler: profiles"
# work of ours that cannot finish never keeps the program alive: term_timeout's timer sends the
# signal again, and so may anyone. In stuck mode a thread of the program holds the loader's
# lock for good; the CFI walk's first look at code takes it too (dl_iterate_phdr), so the main
# thread's next sampled allocation (printf's buffer, before "ready") waits inside our slow
# path, where the signal is left for the slow path's end, which never comes
out="$TMP/twstuck"
t_eq "$(stop "$out" rate=1:term_timeout=1 TERM stuck holding)" 143 "stuck: status after term_timeout"
grep -q ready "$TMP/tw.out" && t_fail "stuck: the allocation did not wait (the test tests nothing)"
env MAPPROF_OPTIONS="rate=1:output=$out" LD_PRELOAD="$LIB" "$TP/termwait" stuck >"$TMP/tw.out" 2>&1 &
pid=$!
for i in $(seq 100); do grep -q holding "$TMP/tw.out" 2>/dev/null && break; sleep 0.1; done
kill -TERM "$pid"; sleep 0.5; kill -TERM "$pid"
for i in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -9 "$pid" 2>/dev/null
wait "$pid"
t_eq "$?" 143 "stuck: status after a second SIGTERM (within 3 s)"
# wherever the signal lands in a program allocating at full speed: the default's status, and a
# profile (one that lands inside an allocation's slow path waits for its end; before, about
# half of these runs lost the profile)
for i in 1 2 3 4 5 6; do
  out="$TMP/twspin$i"
  t_eq "$(stop "$out" rate=1 TERM spin)" 143 "spin $i: status"
  f=$(ls "$out".*.pb.gz 2>/dev/null | head -1)
  valid "$f" || t_fail "spin $i: no valid profile ($(head -c 300 "$TMP/tw.err"))"
done
# ... and when it lands inside the profiler's own work, here a dump the program asked for: the
# exit profile is written on the way out of that work (before, a warning and no exit profile)
for i in 1 2 3; do
  out="$TMP/twdump$i"
  t_eq "$(stop "$out" rate=1 TERM dumping)" 143 "dumping $i: status"
  grep -q "no exit profile" "$TMP/tw.err" && t_fail "dumping $i: $(head -c 300 "$TMP/tw.err")"
  f=$(ls "$out".*.pb.gz | awk -F. '{ print $(NF - 2), $0 }' | sort -n | tail -1 | cut -d' ' -f2)
  t_eq "$("${GO_PPROF[@]}" -comments "$f" 2>&1)" "mapprof snapshot: exit" "dumping $i: the last profile"
  t_eq "$(pprof_flat "$f" inuse_space | flat_of term_alloc)" 100000 "dumping $i: term_alloc inuse"
  rm -f "$out".*
done
t_end

t_begin our_signal_handlers_are_hidden_from_the_program
# the handlers of term= and signal= stand where the program left the default: it is shown the
# default there, as without mapprof (Python installs its KeyboardInterrupt handler only over
# SIG_DFL, gdb warns of handlers it inherits); its own handler replaces ours, and SIG_DFL set
# again puts ours back, so the signal still writes the profile
want=$("$TP/termwait" shown)
got=$(MAPPROF_OPTIONS="output=$TMP/sh" LD_PRELOAD="$LIB" "$TP/termwait" shown)
t_eq "$got" "$want" "dispositions shown (signal:disposition/flags/mask size/signal()'s)"
case $want in "15:dfl/0/0/dfl "*"12:dfl/0/0/dfl sysv_signal:handler") ;; *) t_fail "not the defaults: $want" ;; esac
out="$TMP/twagain"
t_eq "$(stop "$out" rate=1 TERM again)" 143 "own handler, then SIG_DFL: status"
t_eq "$(ls "$out".*.pb.gz 2>/dev/null | wc -l)" 1 "own handler, then SIG_DFL: profiles"
py='import os, signal, time
print(signal.getsignal(signal.SIGINT).__name__, signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)
try:
    os.kill(os.getpid(), signal.SIGINT); time.sleep(5)
except KeyboardInterrupt:
    print("KeyboardInterrupt")
os.kill(os.getpid(), signal.SIGINT); time.sleep(5)'
got=$(env --default-signal=INT MAPPROF_OPTIONS="output=$TMP/py" LD_PRELOAD="$LIB" /usr/bin/python3 -c "$py" 2>/dev/null)
t_eq "$?" 130 "python: ended by the uncaught second SIGINT"
t_eq "$(echo $got)" "default_int_handler True KeyboardInterrupt" "python: handlers seen, first SIGINT caught"
t_eq "$(ls "$TMP"/py.*.pb.gz 2>/dev/null | wc -l)" 1 "python: the exit profile"
t_end

# Another thread's _exit, or a termination signal, while exit() writes the exit profile: the
# process ends after the write, not half way through it (before, it ended at once: no profile,
# and the temporary file left behind). termwait's thread acts once the temporary file shows.
# The status is the signal's when it came to the thread inside exit (that thread raises it at
# the exit path's end); otherwise the waiting thread and exit's own end race (either status).
t_begin ending_during_the_exit_dump_waits_for_it
for how in _exit term_main term_self; do
  rm -rf "$TMP/er"; mkdir "$TMP/er"
  timeout 60 env MAPPROF_OPTIONS="rate=1:output=$TMP/er/p" LD_PRELOAD="$LIB" \
    "$TP/termwait" exitrace "$how" "$TMP/er" >"$TMP/er.out" 2>"$TMP/er.err"
  rc=$?
  grep -q "racer acts" "$TMP/er.out" || t_fail "$how: the thread did not act during the dump"
  case "$how:$rc" in
    _exit:7 | _exit:0 | term_main:143 | term_self:143 | term_self:0) ;;
    *) t_fail "$how: exit status $rc" ;;
  esac
  f=$(ls "$TMP/er"/p.*.pb.gz 2>/dev/null | head -1)
  # 2^15 x 64 B from as many stacks: the whole profile. The stacks must be distinct (branch's
  # two call sites), or the dump would be too short for the thread to see its temporary file
  t_eq "$(pprof_flat "$f" inuse_space | flat_of term_alloc)" 2097152 "$how: term_alloc inuse"
  [ "$(pprof_samples "$f")" -ge 32768 ] || t_fail "$how: $(pprof_samples "$f") samples, not 2^15 stacks"
  t_eq "$(ls -A "$TMP/er" | grep -c '[.]tmp[.]')" 0 "$how: temporary files left"
done
# ... but not for ever: an exit dump that cannot finish (the program's own handler stops the
# thread inside exit) keeps the other thread's _exit waiting term_timeout seconds, no more
rm -rf "$TMP/er"; mkdir "$TMP/er"
timeout 60 env MAPPROF_OPTIONS="rate=1:term_timeout=1:output=$TMP/er/p" LD_PRELOAD="$LIB" \
  "$TP/termwait" exitrace stall "$TMP/er" >"$TMP/er.out" 2>"$TMP/er.err"
t_eq "$?" 7 "stalled exit dump: _exit's status after term_timeout"
grep -q "racer acts" "$TMP/er.out" || t_fail "stall: the thread did not act during the dump"
grep -q "still being written after 1 s" "$TMP/er.err" || t_fail "stalled exit dump: no warning"
t_end

# The stalled dump's process was ended mid-write: its temporary file stays. The next process
# profiled under that prefix removes it once it is a minute old (a writer in another pid
# namespace looks dead from here, but its file's time moves); mapprof run, at once.
t_begin temporary_files_of_killed_writers_are_swept
tmps() { ls -A "$TMP/er" | grep -c '[.]tmp[.]'; }
t_eq "$(tmps)" 1 "the stalled dump's temporary file"
left=$(ls -A "$TMP/er" | grep '[.]tmp[.]')
cp "$TMP/er/$left" "$TMP/er/${left%????????}00000000"
MAPPROF_OPTIONS="output=$TMP/er/p" LD_PRELOAD="$LIB" "$TP/chdirer" 2>"$TMP/er.err"
t_eq "$(tmps)" 2 "fresh ones kept by the next process"
touch -d '-2 min' "$TMP/er/$left"
MAPPROF_OPTIONS="output=$TMP/er/p" LD_PRELOAD="$LIB" "$TP/chdirer" 2>"$TMP/er.err"
t_eq "$(tmps)" 1 "a minute-old one removed by the next process"
[ -e "$TMP/er/$left" ] && t_fail "the old one stayed"
"$MAPPROF" run -o "$TMP/er/p" -- "$TP/chdirer" >/dev/null 2>"$TMP/er.err"
t_eq "$(tmps)" 0 "left after mapprof run"
grep -q "removed 1 temporary file left by a process killed while it wrote" "$TMP/er.err" ||
  t_fail "mapprof run did not say so: $(cat "$TMP/er.err")"
t_end

t_done
