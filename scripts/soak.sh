#!/usr/bin/env bash
# make soak: the longer runs that do not fit make check's 20 minutes.
#   - every fuzz target for SOAK_FUZZ_SECONDS (default 300) each
#   - the unit tests SOAK_REPEAT times (default 20), catching rare races
#   - the wire tests again, SOAK_WIRE_REPEAT times (default 3)
# Every run is bounded in time; the last line counts like make check's.
set -uo pipefail
cd "$(dirname "$0")/.."
FUZZ_S=${SOAK_FUZZ_SECONDS:-300}
REPEAT=${SOAK_REPEAT:-20}
WIRE_REPEAT=${SOAK_WIRE_REPEAT:-3}
PASS=0; FAIL=0
[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzz=true -Db_lundef=false >/dev/null
ninja -C build-fuzz >/dev/null || { echo "fuzz build failed"; exit 1; }
for f in build-fuzz/tests/fuzz/fuzz_*; do
  [ -f "$f" ] && [ -x "$f" ] || continue
  name=${f##*/fuzz_}; work=$(mktemp -d)
  if timeout $((FUZZ_S + 60)) "$f" -max_total_time="$FUZZ_S" -timeout=10 "$work" "tests/fuzz/corpus/$name" >/dev/null 2>&1
  then PASS=$((PASS + 1)); else FAIL=$((FAIL + 1)); echo "FAILED: fuzz $name"; fi
  rm -rf "$work"
done
for i in $(seq "$REPEAT"); do
  for t in build/tests/unit/test_*; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    if CMOCKA_MESSAGE_OUTPUT=TAP timeout 300 "$t" >/dev/null 2>&1
    then PASS=$((PASS + 1)); else FAIL=$((FAIL + 1)); echo "FAILED: $t (round $i)"; fi
  done
done
for i in $(seq "$WIRE_REPEAT"); do
  # SPIN_SOAK=1: the full-size runs (100,000-SYN flood, 10 MB at 5% loss).
  if SPIN_SOAK=1 timeout 1800 /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/wire >/dev/null 2>&1
  then PASS=$((PASS + 1)); else FAIL=$((FAIL + 1)); echo "FAILED: wire tests (round $i)"; fi
done
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
