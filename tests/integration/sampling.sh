# Integration: sampling is unbiased. At rate 4096 a workload of >= 10,000 x rate bytes gets
# estimates within 5% of the program's truth, and across 20 seeds the spread of the estimates
# matches what Poisson sampling predicts (the program computes the prediction itself).
. "$(dirname "$0")/../lib.sh"

rate=4096
total=$((10000 * rate))
: >"$TMP/results"
t_begin sampling_within_5_percent
for seed in $(seq 1 20); do
  out="$TMP/s$seed"
  truth=$(MAPPROF_OPTIONS="rate=$rate:seed=$seed:output=$out" LD_PRELOAD="$LIB" "$TP/sampling" $rate $total $seed)
  read -r _ alloc inuse sd_alloc sd_inuse <<<"$truth"
  pb=$(ls "$out".*.pb.gz 2>/dev/null | head -1)
  [ -s "$pb" ] || { t_fail "seed $seed: no profile"; continue; }
  ea=$(pprof_flat "$pb" alloc_space | flat_of work_alloc)
  ei=$(pprof_flat "$pb" inuse_space | flat_of work_alloc)
  echo "$alloc $inuse $sd_alloc $sd_inuse $ea $ei" >>"$TMP/results"
  awk -v e="$ea" -v t="$alloc" 'BEGIN { exit !((e - t) / t < 0.05 && (t - e) / t < 0.05) }' \
    || t_fail "seed $seed: alloc_space estimate $ea vs truth $alloc"
  awk -v e="$ei" -v t="$inuse" 'BEGIN { exit !((e - t) / t < 0.05 && (t - e) / t < 0.05) }' \
    || t_fail "seed $seed: inuse_space estimate $ei vs truth $inuse"
done
t_end

t_begin sampling_spread_matches_poisson
# Relative errors across seeds: their standard deviation against the predicted one. With 20
# seeds the sample sd lies within [0.68, 1.31] of the truth 95% of the time; allow [0.5, 1.6].
verdict=$(awk '{ ra = ($5 - $1) / $3; ri = ($6 - $2) / $4; sa += ra; qa += ra * ra; si += ri; qi += ri * ri; n++ }
  END { if (n < 20) { print "only " n " runs"; exit }
        va = sqrt(qa / n - (sa / n) ^ 2); vi = sqrt(qi / n - (si / n) ^ 2)
        printf "alloc z-sd %.2f mean %.2f; inuse z-sd %.2f mean %.2f", va, sa / n, vi, si / n
        if (va < 0.5 || va > 1.6 || vi < 0.5 || vi > 1.6 || sa / n > 1.2 || sa / n < -1.2 || si / n > 1.2 || si / n < -1.2) print " BAD" }' "$TMP/results")
echo "  spread: $verdict"
case "$verdict" in *BAD*|only*) t_fail "$verdict" ;; esac
t_end

t_done
