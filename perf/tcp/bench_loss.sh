#!/usr/bin/env bash
# TCP loss recovery (docs/protocols/tcp.md), one JSON record per line for
# perf/run.sh:
#   tcp.loss5.goodput        10 MB from spin at 5% loss + 2% reordering (fault
#                            node, same seed), SACK recovery vs NewReno
#                            without SACK (target ratio >= 1.5)
#   tcp.loss5.goodput.cubic  the same with CUBIC (reference)
# RUNS (default 5) interleaved runs of each row.  Needs root (network
# namespaces); progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
if [ "$(id -u)" != 0 ]; then
  echo "bench_loss: needs root for network namespaces; skipped" >&2
  exit 0
fi
exec /usr/bin/python3 perf/tcp/loss_bench.py --build "$BUILD" --runs "${RUNS:-5}" \
  --json "$BUILD/tcp_loss_bench.json"
