#!/usr/bin/env bash
# TCP benchmarks of the latency lab (docs/lab.md), one JSON record per line
# (perf/lib/bench.h keys) for perf/run.sh:
#   tcp.rtt.{block,busy}.p50   spin's tcp-echo vs the Linux kernel TCP echo
#   tcp.rtt.floor.busy.p50     spin's TCP echo vs the raw AF_PACKET (UDP)
#                              reflector in the same slot (target <= 1.3)
#   tcp.rtt.tcpfloor.busy.p50  the raw reflector answering TCP vs the UDP one
#   tcp.rtt.over_tcpfloor.busy.p50  spin vs the TCP-answering raw reflector
#   tcp.connect.per_s          connections/s spin accepts vs a Linux listener,
#                              same client; spin blocking with a 20 us linger,
#                              Linux blocking (target >= 0.8)
#   tcp.connect.block.per_s    the same, spin plainly blocking (reference)
#   tcp.connect.busy.per_s     the same, busy-polling both ends (reference)
# RUNS (default 5) interleaved runs of COUNT (default 10000) round trips and
# CONNS (default 3000) connections each.  Needs root (network namespaces);
# progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
if [ "$(id -u)" != 0 ]; then
  echo "bench_tcp: needs root for network namespaces; skipped" >&2
  exit 0
fi
exec /usr/bin/python3 perf/tcp/tcp_bench.py --build "$BUILD" --bench \
  --runs "${RUNS:-5}" --count "${COUNT:-10000}" --warmup 1000 --conns "${CONNS:-3000}" \
  --json "$BUILD/tcp_bench.json"
