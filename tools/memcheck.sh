#!/usr/bin/env bash
# memcheck.sh - run rcgc test programs under Valgrind memcheck, with NO
# suppression file: any error or definite leak fails the run.
#
#   tools/memcheck.sh                      build build/memcheck (RCGC_TRACK_VALGRIND=ON,
#                                          RCGC_DEBUG=2) and run the default test list
#   tools/memcheck.sh test_alloc_domain    only these tests (names under tests/unit)
#   BUILD=build/x tools/memcheck.sh ...    use (and configure) another build dir
#   MODES="default malloc" ...             RCGC_MALLOC values to run each test with
#                                          (default: "default malloc")
#   tools/memcheck.sh --selftest           prove the pool's client requests work: a
#                                          use-after-free inside pooled memory must be
#                                          reported as an invalid read
#
# RCGC_TRACK_VALGRIND makes the pool describe its blocks to memcheck
# (src/internal/track.h), so pooled blocks are checked like malloc'd ones;
# RCGC_MALLOC=malloc bypasses the pool altogether. Needs the Debian package
# `valgrind` (tools/ensure-deps.sh valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build/memcheck}
MODES=${MODES:-"default malloc"}
JOBS=${JOBS:-2}
selftest=0
if [ "${1:-}" = "--selftest" ]; then selftest=1; shift; fi
tests=("$@")
[ $selftest -eq 1 ] && tests=(test_alloc_debug)
if [ ${#tests[@]} -eq 0 ]; then
  tests=(test_alloc_domain test_alloc_trace test_alloc_debug)
fi

tools/ensure-deps.sh valgrind
cmake -S . -B "$BUILD" -DRCGC_TRACK_VALGRIND=ON -DRCGC_DEBUG=2 -DRCGC_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target "${tests[@]}" >/dev/null

if [ $selftest -eq 1 ]; then
  bin=$(find "$BUILD/tests" -maxdepth 2 -type f -name test_alloc_debug -perm -u+x | head -n1)
  log=$(mktemp)
  RCGC_MALLOC=default RCGC_TEST_POOL_UAF=1 valgrind --tool=memcheck --log-file="$log" "$bin" || true
  if grep -q "Invalid read" "$log"; then
    echo "memcheck selftest: pooled use-after-free reported"
    rm -f "$log"
    exit 0
  fi
  echo "memcheck selftest: pooled use-after-free NOT reported (pool lacks track.h calls?)" >&2
  cat "$log" >&2
  rm -f "$log"
  exit 1
fi

status=0
for t in "${tests[@]}"; do
  bin=$(find "$BUILD/tests" -maxdepth 2 -type f -name "$t" -perm -u+x | head -n1)
  if [ -z "$bin" ]; then
    echo "memcheck: no binary for $t under $BUILD/tests" >&2
    status=1
    continue
  fi
  for mode in $MODES; do
    log=$(mktemp)
    # Children forked by misuse tests die on purpose: memcheck follows forks,
    # so only the parent's verdict (--error-exitcode) decides; the test
    # itself checks the children's reports.
    if RCGC_MALLOC=$mode valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite --show-leak-kinds=definite --track-origins=yes \
        --child-silent-after-fork=yes --log-file="$log" "$bin" >/dev/null 2>&1; then
      echo "memcheck: $t (RCGC_MALLOC=$mode): clean"
    else
      echo "memcheck: $t (RCGC_MALLOC=$mode): FAILED" >&2
      cat "$log" >&2
      status=1
    fi
    rm -f "$log"
  done
done
exit $status
