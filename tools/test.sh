#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test through CTest.
#   tools/test.sh             optimised build in ./build
#   tools/test.sh --sanitize  AddressSanitizer + UBSan build in ./build-asan (slower)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup-deps.sh
if [[ "${1:-}" == "--sanitize" ]]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPHASELESS_SANITIZE=ON >/dev/null
  cmake --build build-asan -j"$(nproc)"
  # Leak checking stays on (the default). The CLI runs the tests start are sanitized too:
  # a report there makes its exit status non-zero and the test fail.
  UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}" ctest --test-dir build-asan --output-on-failure -j"$(nproc)"
  exit
fi
tools/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"
