#!/usr/bin/env bash
# make bench: runs every benchmark program and gathers their records into
# build/bench.json (an array).  Each program prints one JSON record per line
# (perf/lib/bench.h); anything else it prints goes to the terminal as is.
# A benchmark is never a test: nothing here fails on a missed target; the
# table at the end marks each record against its target.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OUT=$BUILD/bench.json
RAW=$(mktemp)
trap 'rm -f "$RAW"' EXIT

for prog in "$BUILD"/perf/*/bench_*; do
  [ -f "$prog" ] && [ -x "$prog" ] || continue
  echo "== $(basename "$prog")"
  "$prog" | tee -a "$RAW" | grep -v '^{' || true
done
# Lab benchmarks that need namespaces and peers are scripts beside the programs.
for script in perf/*/bench_*.sh; do
  [ -f "$script" ] || continue
  echo "== $(basename "$script")"
  BUILD=$BUILD bash "$script" | tee -a "$RAW" | grep -v '^{' || true
done

/usr/bin/python3 - "$RAW" "$OUT" <<'PYEOF'
import json, sys
recs = []
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith('{'):
        recs.append(json.loads(line))
json.dump(recs, open(sys.argv[2], 'w'), indent=1)
def meets(r):
    t, x = r.get('target'), r.get('ratio')
    if t is None or x is None:
        return 'ref'
    return 'ok' if (x <= t if r['better'] == 'lower' else x >= t) else 'MISSED'
print(f"\n{'name':34} {'value':>12} {'unit':8} {'baseline':>12} {'ratio':>7} {'target':>7}  verdict")
for r in recs:
    bv = r.get('baseline_value')
    ratio = r.get('ratio')
    tgt = r.get('target')
    cmp = '' if tgt is None else ('<=' if r['better'] == 'lower' else '>=') + f"{tgt:g}"
    print(f"{r['name']:34} {r['value']:12.3f} {r['unit']:8} "
          f"{'' if bv is None else format(bv, '12.3f'):>12} "
          f"{'' if ratio is None else format(ratio, '7.3f'):>7} {cmp:>7}  {meets(r)}")
print(f"\n{len(recs)} records written to {sys.argv[2]}")
PYEOF
