#!/usr/bin/env bash
# make demo (after deps and build): two parts.
#   1. The graph (issue 2): build/demo.pcap, a deterministic mix of frames
#      (scripts/gen_demo_pcap.py), replayed 1000 times through the protocol
#      graph by the in-memory replay device; prints the per-node counters and
#      writes the live graph as build/demo.dot (and build/demo.png with
#      graphviz).
#   2. The first latency table (issue 3, docs/lab.md): UDP round trips with
#      16-byte payloads between a Linux client namespace and each responder
#      (Linux kernel UDP echo, raw AF_PACKET reflector, DPDK testpmd, spin's
#      echo) over veth, both ends blocking and both ends busy-polling, 10,000
#      measured round trips after 1,000 of warm-up; table on stdout, all
#      figures in build/demo.json.
# Everything it creates (namespaces, veths, processes, DPDK run files, temp
# files) is removed at the end, also on failure or Ctrl-C (perf/lab/topo.py).
# Needs root for the namespaces.  Takes well under 3 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=/usr/bin/python3
T0=$(date +%s)

echo "== part 1: the protocol graph on a replayed capture"
"$PY" scripts/gen_demo_pcap.py "$BUILD/demo.pcap" 1000
if "$BUILD/spin" replay "$BUILD/demo.pcap" --loops 1000 \
     --dot "$BUILD/demo.dot" --png "$BUILD/demo.png"; then
  echo "graph: $BUILD/demo.dot$( [ -f "$BUILD/demo.png" ] && echo ", $BUILD/demo.png")"
else
  echo "demo: 'spin replay' failed (status $?); going on with the latency table"
fi

echo
echo "== part 2: UDP round-trip latency (the SPIN paper's Table 6, on veth)"
if [ "$(id -u)" != 0 ]; then
  echo "demo: the latency table needs root (network namespaces); skipped"
  exit 0
fi
"$PY" perf/lab/udp_rtt.py --build "$BUILD" --table --rows linux,raw,dpdk,spin \
  --modes block,busy --runs 1 --count 10000 --warmup 1000 --paced --json "$BUILD/demo.json"
echo "figures: $BUILD/demo.json; demo took $(( $(date +%s) - T0 )) s"
