#!/usr/bin/env bash
# The platform rule: kernel/, netgraph/ and protocols/ reach Linux only
# through kernel/sal/hosted.  Outside that folder they may include only
# freestanding C headers and project headers.  Prints offenders; exit 1 if any.
set -uo pipefail
cd "$(dirname "$0")/.."
allowed='stddef.h|stdint.h|stdbool.h|stdarg.h|stdatomic.h|limits.h|stdalign.h|stdnoreturn.h|float.h'
bad=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<' kernel netgraph protocols \
        --include='*.c' --include='*.h' 2>/dev/null |
      grep -v '^kernel/sal/hosted/' |
      grep -vE "<($allowed)>" || true)
if [ -n "$bad" ]; then
  echo "platform rule broken: system headers outside kernel/sal/hosted:"
  echo "$bad"
  exit 1
fi
exit 0
