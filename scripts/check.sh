#!/usr/bin/env bash
# make check: every stage, one honest count at the end.
#   1. build (gcc, -Werror) and the platform-header rule
#   2. C unit tests (cmocka, TAP output)
#   3. wire tests (pytest + Scapy in network namespaces, Debian's python)
#   4. the same unit and wire tests under AddressSanitizer + UBSan
#   5. every fuzz target for 20 s or 50,000 runs (clang + libFuzzer)
# Each stage prints its time.  A test program that dies before reporting all
# of its tests counts the missing ones as failed; a skipped test counts as
# failed (every test here is required).  Exit status is 0 only if nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=/usr/bin/python3
PASS=0
FAIL=0
LOG=build/check-logs
T_START=$(date +%s)

stage_begin() { STAGE="$1"; STAGE_T=$(date +%s); echo "== $STAGE"; }
stage_end() { echo "== $STAGE: $(( $(date +%s) - STAGE_T )) s"; }
ok() { PASS=$((PASS + 1)); }
bad() { FAIL=$((FAIL + 1)); echo "FAILED: $*"; }

build_dir() {   # build_dir DIR [meson options...]
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >"$LOG/setup-$(basename "$dir").log" 2>&1 ||
      { cat "$LOG/setup-$(basename "$dir").log"; return 1; }
  fi
  ninja -C "$dir" >"$LOG/ninja-$(basename "$dir").log" 2>&1 ||
    { tail -40 "$LOG/ninja-$(basename "$dir").log"; return 1; }
}

unit_tests() {  # unit_tests BUILDDIR LABEL
  local dir=$1 label=$2 t out plan okc notok
  for t in "$dir"/tests/unit/test_*; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    out="$LOG/$label-$(basename "$t").tap"
    CMOCKA_MESSAGE_OUTPUT=TAP timeout 300 "$t" >"$out" 2>&1
    plan=$(grep -oE '^1\.\.[0-9]+' "$out" | head -1 | cut -d. -f3)
    okc=$(grep -cE '^ok [0-9]+' "$out")
    notok=$(grep -cE '^not ok [0-9]+' "$out")
    PASS=$((PASS + okc)); FAIL=$((FAIL + notok))
    if [ -z "$plan" ] || [ $((okc + notok)) -lt "${plan:-0}" ]; then
      bad "$label $(basename "$t"): died before reporting all tests (see $out)"
      tail -15 "$out"
    elif [ "$notok" -gt 0 ]; then
      echo "FAILED: $label $(basename "$t"): $notok failing"; grep -E '^not ok|^# ' "$out" | head -20
    fi
  done
}

wire_tests() {  # wire_tests BUILDDIR LABEL
  local dir=$1 label=$2
  local xml="$LOG/$label-wire.xml"
  SPIN_BUILD="$ROOT/$dir" timeout 1200 "$PY" -m pytest -q -p no:cacheprovider \
    --junitxml="$xml" tests/wire >"$LOG/$label-wire.log" 2>&1
  local rc=$?
  tail -5 "$LOG/$label-wire.log"
  if [ $rc -eq 5 ]; then bad "$label wire: pytest collected no tests"; return; fi
  if [ ! -f "$xml" ]; then bad "$label wire: pytest did not run (rc $rc)"; return; fi
  read -r p f < <("$PY" - "$xml" <<'PYEOF'
import sys, xml.etree.ElementTree as ET
p = f = 0
for tc in ET.parse(sys.argv[1]).getroot().iter('testcase'):
    if any(c.tag in ('failure', 'error', 'skipped') for c in tc):
        f += 1
    else:
        p += 1
print(p, f)
PYEOF
)
  PASS=$((PASS + p)); FAIL=$((FAIL + f))
  [ "$f" -gt 0 ] && grep -E '^(FAILED|ERROR|SKIPPED)' "$LOG/$label-wire.log" | head -20
  [ $rc -ne 0 ] && [ "$f" -eq 0 ] && bad "$label wire: pytest exit $rc with no failing test"
}

fuzz_all() {
  local f name corpus work
  for f in build-fuzz/tests/fuzz/fuzz_*; do
    [ -f "$f" ] && [ -x "$f" ] || continue
    name=${f##*/fuzz_}
    corpus="tests/fuzz/corpus/$name"
    work=$(mktemp -d)
    if timeout 120 "$f" -max_total_time=20 -runs=50000 -timeout=10 -rss_limit_mb=2048 \
         -print_final_stats=1 "$work" "$corpus" >"$LOG/fuzz-$name.log" 2>&1; then
      ok; echo "fuzz $name: $(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$LOG/fuzz-$name.log" | grep -oE '[0-9]+$') runs, no crash"
    else
      bad "fuzz $name (see $LOG/fuzz-$name.log)"; tail -30 "$LOG/fuzz-$name.log"
    fi
    rm -rf "$work"
  done
}

mkdir -p build "$LOG"

stage_begin "build"
if build_dir build && bash scripts/check-sal.sh; then ok; else bad "build or platform rule"; fi
stage_end

stage_begin "unit tests"
unit_tests build unit
stage_end

stage_begin "wire tests"
wire_tests build wire
stage_end

stage_begin "sanitizer build and tests (ASan + UBSan)"
if build_dir build-asan -Db_sanitize=address,undefined -Db_lundef=false; then
  ok
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  unit_tests build-asan asan-unit
  wire_tests build-asan asan-wire
  unset ASAN_OPTIONS UBSAN_OPTIONS
else
  bad "sanitizer build"
fi
stage_end

stage_begin "fuzzers"
if CC=clang build_dir build-fuzz -Dfuzz=true -Db_lundef=false; then ok; fuzz_all; else bad "fuzz build"; fi
stage_end

echo "== total: $(( $(date +%s) - T_START )) s"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
