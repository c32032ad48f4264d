#!/usr/bin/env bash
# UDP round-trip benchmarks of the first latency lab (docs/lab.md), printed as
# one JSON record per line (perf/lib/bench.h keys) for perf/run.sh:
#   udp.rtt.{block,busy}.{p50,p99}  spin's echo vs the Linux kernel echo
#   udp.rtt.floor.{block,busy}.p50  spin's echo vs the raw AF_PACKET reflector
#                                   (target ratio <= 1.1)
#   udp.rtt.dpdk.busy.p50           testpmd 5tswap, reference (vs the floor)
# Runs are interleaved row by row, RUNS (default 5) of each, COUNT (default
# 10000) round trips after 1000 of warm-up; value is the median, ratio the
# median of per-run ratios, spread (max-min)/median.  Needs root (network
# namespaces); progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
if [ "$(id -u)" != 0 ]; then
  echo "bench_udp_rtt: needs root for network namespaces; skipped" >&2
  exit 0
fi
exec /usr/bin/python3 perf/lab/udp_rtt.py --build "$BUILD" --bench \
  --rows spin,linux,raw,dpdk --runs "${RUNS:-5}" --count "${COUNT:-10000}" --warmup 1000 \
  --paced --json "$BUILD/udp_rtt.json"
