#!/usr/bin/env bash
# TCP bulk throughput (docs/apps/iperf3.md, "Benchmarks"), one JSON record per
# line (perf/lib/bench.h keys) for perf/run.sh:
#   tcp.bulk.rx_gbps.nooffload  iperf3 client -> spin's iperf3 server vs a
#   tcp.bulk.tx_gbps.nooffload  Linux iperf3 server (tx: -R, the server
#                               sends); TSO/GSO/GRO off (target >= 0.5)
#   tcp.bulk.rx_gbps, tcp.bulk.tx_gbps   the same with offloads on both
#                               sides, spin's interface with `tso` (>= 0.3)
# RUNS (default 5) interleaved spin/Linux pairs per record, each run
# `iperf3 -t SECONDS` (default 3).  Needs root (network namespaces) and
# iperf3 (scripts/deps.sh); progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
if [ "$(id -u)" != 0 ]; then
  echo "bench_bulk: needs root for network namespaces; skipped" >&2
  exit 0
fi
exec /usr/bin/python3 perf/tcp/bulk_bench.py --build "$BUILD" --bench \
  --runs "${RUNS:-5}" --seconds "${SECONDS_PER_RUN:-3}" --json "$BUILD/bulk_bench.json"
