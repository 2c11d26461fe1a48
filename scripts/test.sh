#!/usr/bin/env bash
# Command (2): set everything up, then run the whole test suite: unit + integration tests on the
# normal build, then the same suite again on an ASan+UBSan build, then the worker pool test on a
# ThreadSanitizer build.
#   STT_TEST_SKIP_ASAN=1 scripts/test.sh   # only the normal build (no ASan, no TSan)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# setup installs the reference faster-whisper on x86-64: there its faithfulness test must run,
# not skip (tests/integ/test_whisper_faithful.py).
if [ "$(uname -m)" = x86_64 ]; then export STT_REQUIRE_FAITHFUL=1; fi
JOBS="${STT_TEST_JOBS:-2}"
(cd build && ctest --output-on-failure -j"$JOBS")
if [ "${STT_TEST_SKIP_ASAN:-0}" != 1 ]; then
  STT_BUILD_DIR=build-asan STT_CMAKE_ARGS="-DSTT_SANITIZE=ON" scripts/setup.sh
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
  (cd build-asan && ctest --output-on-failure -j"$JOBS")
  # ThreadSanitizer where our code shares memory between threads (null engine): the worker
  # pool, and the stream core on a recognizer (its loader thread's hand-off of the model, the
  # workers' hand-back of jobs to the stream's callbacks). TSan is not meant for the whole suite
  # (uninstrumented libwebsockets and pocketsphinx would only add noise).
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTT_TSAN=ON >/dev/null
  cmake --build build-tsan --target unit_core_test_pool unit_core_test_stream -j"$(nproc)"
  (cd build-tsan && TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" \
    ctest --output-on-failure -R 'unit\.core\.test_(pool|stream)$')
fi
echo "all test suites passed"
