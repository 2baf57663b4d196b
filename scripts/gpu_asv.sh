#!/bin/bash
# The asv quick suite and `hakl bench --quick` on the CUDA device, then the dashboard page.
#   source scripts/gpu_env.sh; bash scripts/gpu_asv.sh [SECONDS_PER_FAMILY]
# One asv invocation per family so a family that runs long loses only its own results.
# Writes $OUT/asv-results.tgz (asv results + dispatch log), $OUT/bench-records.tgz and
# $OUT/index.html (the page hakl report makes for this machine).
set -u
limit=${1:-90}
machine=$(python3 -c "import hakl.bench as h; print(h.machine_name('cuda'))")
export HAKL_BENCH_DEVICES=${HAKL_BENCH_DEVICES:-cuda}
timeout 150 python3 -m hakl bench --quick --device cuda --records /tmp/records
cd asv_bench
python3 -m asv machine --yes --machine "$machine" >/dev/null
for family in machine $(python3 -c "import hakl.kernels as k; print(*(f.__name__.split('.')[-1] for f in k.FAMILIES))"); do
  echo "== asv $family ($(date +%T))"
  timeout "$limit" python3 -m asv run --python=same --quick --show-stderr --machine "$machine" \
      --set-commit-hash "$(git rev-parse HEAD)" --bench "$family" 2>&1 | grep -v "^ *\[" | tail -n 60
done
cd ..
tar czf "$OUT/asv-results.tgz" -C asv_bench results
tar czf "$OUT/bench-records.tgz" -C /tmp records
python3 -m hakl report --results asv_bench/results --records /tmp/records --out /tmp/pages
cp /tmp/pages/"$machine"/index.html "$OUT/index.html"
