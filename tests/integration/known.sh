# Integration: a program with known allocations at rate=1. go tool pprof must show exactly the
# program's own numbers per function, the right lines, the inlined frame, with no binary
# needed; google-pprof on the legacy file must agree.
. "$(dirname "$0")/../lib.sh"

out="$TMP/known"
MAPPROF_OPTIONS="rate=1:output=$out:formats=pb,legacy" LD_PRELOAD="$LIB" "$TP/known" >"$TMP/truth" 2>"$TMP/stderr"
rc=$?
pb=$(ls "$out".*.pb.gz 2>/dev/null | head -1)
heap=$(ls "$out".*.heap 2>/dev/null | head -1)

t_begin known_runs
t_eq "$rc" 0 "exit status"
[ -s "$pb" ] || t_fail "no pprof file"
[ -s "$heap" ] || t_fail "no legacy file"
[ -s "$TMP/stderr" ] && t_fail "unexpected stderr: $(head -3 "$TMP/stderr")"
t_end

for si in inuse_space inuse_objects alloc_space alloc_objects; do
  pprof_flat "$pb" "$si" >"$TMP/top.$si"
done
t_begin pprof_values_per_function
while read -r _ fn _ ib io ab ao _; do
  t_eq "$(flat_of "$fn" <"$TMP/top.inuse_space")" "$ib" "$fn inuse_space"
  t_eq "$(flat_of "$fn" <"$TMP/top.inuse_objects")" "$io" "$fn inuse_objects"
  t_eq "$(flat_of "$fn" <"$TMP/top.alloc_space")" "$ab" "$fn alloc_space"
  t_eq "$(flat_of "$fn" <"$TMP/top.alloc_objects")" "$ao" "$fn alloc_objects"
done < <(grep '^site ' "$TMP/truth")
t_end

t_begin pprof_needs_no_binary
grep -qi 'not available\|no such file\|could not' "$TMP/pprof.err" && t_fail "pprof: $(head -2 "$TMP/pprof.err")"
"${GO_PPROF[@]}" -raw "$pb" >"$TMP/raw" 2>"$TMP/raw.err" || t_fail "pprof -raw failed"
# names everywhere (pprof_lines checks the program's files and lines); file and line flags are
# set only on a mapping whose every location has them, and _start (crt1.o) has none
sed -n '/^Mappings/,$p' "$TMP/raw" | grep -q "^1: .*/known .*\[FN\]" || t_fail "main mapping without functions: $(grep -A3 '^Mappings' "$TMP/raw" | head -4)"
t_end

# libc's frames are named from its symbol tables (the libc6-dbg .symtab included, for static
# functions such as __libc_start_call_main) without reading its DWARF; libc_lines=1 reads it.
# libc6-dbg comes with valgrind, which install-deps.sh installs.
t_begin libc_names_without_dwarf
libc_frame() { awk '/__libc_start_call_main/ && / M=/ { $1 = $2 = $3 = ""; print; exit }' "$1"; }
got=$(libc_frame "$TMP/raw")
case "$got" in
  *" __libc_start_call_main :0 "*) ;;
  *) t_fail "default: want __libc_start_call_main without a file, got '$got'" ;;
esac
sed -n '/^Mappings/,$p' "$TMP/raw" | grep '/libc\.so' | grep -q '\[FL\]' && t_fail "default: libc mapping claims file names"
MAPPROF_OPTIONS="rate=1:libc_lines=1:output=$TMP/lines1" LD_PRELOAD="$LIB" "$TP/known" >/dev/null 2>&1
t_eq "$?" 0 "exit status (libc_lines=1)"
"${GO_PPROF[@]}" -raw "$(ls "$TMP/lines1".*.pb.gz 2>/dev/null | head -1)" >"$TMP/raw1" 2>/dev/null || t_fail "pprof -raw (libc_lines=1)"
got=$(libc_frame "$TMP/raw1")
case "$got" in
  *" __libc_start_call_main "*libc_start_call_main.h:[1-9]*) ;;
  *) t_fail "libc_lines=1: want __libc_start_call_main at libc_start_call_main.h:N, got '$got'" ;;
esac
t_end

t_begin pprof_lines
pprof_flat "$pb" inuse_space -lines >"$TMP/lines"
while read -r _ fn fileline _ _ _ _ lib; do
  line=${fileline##*:}
  ib=$lib
  got=$(awk -F'\t' -v f="$fn" -v l=":$line" 'index($1, f " ") == 1 && substr($1, length($1) - length(l) + 1) == l { print $2 }' "$TMP/lines")
  t_eq "$got" "$ib" "$fn at line $line"
done < <(grep '^site ' "$TMP/truth")
t_end

t_begin pprof_inline_frame
read -r _ inner outer fileline < <(grep '^inline ' "$TMP/truth")
"${GO_PPROF[@]}" -traces -sample_index=inuse_space "$pb" >"$TMP/traces" 2>/dev/null
awk -v i="$inner" -v o="$outer" '$0 ~ i" \\(inline\\)" || ($1 == i && /inline/) { want = 1; next } want && $1 == o { ok = 1 } { want = 0 } END { exit !ok }' "$TMP/traces" \
  || t_fail "no '$inner (inline)' directly above '$outer' in -traces"
t_end

t_begin google_pprof_legacy_agrees
google-pprof --text --show_bytes --inuse_space "$TP/known" "$heap" >"$TMP/gp" 2>"$TMP/gp.err" || t_fail "google-pprof failed: $(tail -2 "$TMP/gp.err")"
while read -r _ fn _ ib _; do
  got=$(awk -v f="$fn" '$6 == f { print $1 }' "$TMP/gp")
  t_near "${got:-0}" "$ib" 1 "google-pprof $fn inuse"
done < <(grep '^site ' "$TMP/truth" | grep -v inlined_c)
t_end

# Separate debug info by .gnu_debuglink (in .debug/ beside the binary) is found without
# debuginfod: libdw's standard search would dlopen libdebuginfod (and libcurl, TLS libraries)
# into the host program at every dump, and fetch over the network with DEBUGINFOD_URLS set.
t_begin debuglink_without_debuginfod
mkdir -p "$TMP/dl/.debug"
objcopy --only-keep-debug "$TP/known" "$TMP/dl/.debug/known.debug" &&
  objcopy --strip-debug --add-gnu-debuglink="$TMP/dl/.debug/known.debug" "$TP/known" "$TMP/dl/known" ||
  t_fail "objcopy failed"
# with: 1 the right debug file; wrong: another program's under the same name (its CRC does
# not match: not used); 0: no debug info anywhere (still no debuginfod)
for with in 1 wrong 0; do
  [ "$with" = wrong ] && { objcopy --only-keep-debug "$TP/leaky" "$TMP/dl/.debug/known.debug" || t_fail "objcopy leaky"; }
  [ "$with" = 0 ] && rm -f "$TMP/dl/.debug/known.debug"
  rm -f "$TMP/dl/p".* "$TMP/dl/ld".*
  DEBUGINFOD_URLS=http://127.0.0.1:9 LD_DEBUG=files LD_DEBUG_OUTPUT="$TMP/dl/ld" \
    MAPPROF_OPTIONS="rate=1:output=$TMP/dl/p" LD_PRELOAD="$LIB" "$TMP/dl/known" >/dev/null 2>"$TMP/dl/stderr"
  t_eq "$?" 0 "exit status (debug file present: $with)"
  grep -l 'libdebuginfod\|libcurl' "$TMP/dl/ld".* >/dev/null 2>&1 && t_fail "libdebuginfod loaded (debug file present: $with)"
  pbd=$(ls "$TMP/dl/p".*.pb.gz 2>/dev/null | head -1)
  [ -s "$pbd" ] || { t_fail "no profile (debug file present: $with)"; continue; }
  pprof_flat "$pbd" inuse_space -lines >"$TMP/dl/lines"
  read -r _ fn fileline _ < <(grep '^site ' "$TMP/truth" | head -1)
  if [ "$with" = 1 ]; then
    grep -q "^$fn .*${fileline##*/}" "$TMP/dl/lines" || t_fail "no $fn at ${fileline##*/} from the debuglink file: $(head -3 "$TMP/dl/lines")"
  else
    # the name alone (from the symbol table), no file:line
    grep -q "^$fn"$'\t' "$TMP/dl/lines" || t_fail "no bare $fn ($with): $(head -3 "$TMP/dl/lines")"
  fi
done
t_end

t_done
