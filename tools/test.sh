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
  # detect_leaks=0: HDF5 and protobuf keep global state until exit by design.
  ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}" \
    ctest --test-dir build-asan --output-on-failure -j"$(nproc)"
  exit
fi
tools/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"
