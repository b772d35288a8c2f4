#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each from its seed corpus.
#   tests/fuzz/run.sh                      2,000 runs per target (what the test suite does)
#   tests/fuzz/run.sh --seconds 600 [--jobs 2]   a longer campaign: 10 minutes per target
#   tests/fuzz/run.sh --seconds 600 --targets build   validated models must build (links the whole library)
# Options: --build DIR (default build-fuzz), --runs N, --seconds S, --targets "model idx trace",
# --keep DIR (keep the grown corpus there instead of a temporary folder). A finding stops the
# run with libFuzzer's report and the crashing input saved in the current folder; exit 1.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="$root/build-fuzz" runs=2000 seconds=0 targets="model idx trace" keep="" jobs=1
while (( $# )); do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --targets) targets="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    *) echo "run.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
clangxx="$(command -v clang++-14 || command -v clang++ || true)"
clangc="$(command -v clang-14 || command -v clang || true)"
if [[ -z "$clangxx" || -z "$clangc" ]]; then
  echo "run.sh: clang is not installed; tools/setup-deps.sh installs it (packages clang, libfuzzer-14-dev)" >&2
  exit 1
fi
launcher=()
if command -v ccache > /dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache); fi
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER="$clangc" -DCMAKE_CXX_COMPILER="$clangxx" \
      -DPHASELESS_FUZZ=ON -DPHASELESS_NATIVE=OFF -DPHASELESS_BUILD_TESTS=OFF -DPHASELESS_PYTHON=OFF "${launcher[@]}" > /dev/null
build_targets=()
for t in $targets; do build_targets+=("fuzz_$t"); done
cmake --build "$build" -j2 --target "${build_targets[@]}"

work="${keep:-$(mktemp -d)}"
[[ -n "$keep" ]] || trap 'rm -rf "$work"' EXIT
seeds_model=("$root/tests/fuzz/corpus/model" "$root/tests/models/good" "$root/tests/models/bad")
seeds_build=("${seeds_model[@]}" "$root/models")
seeds_idx=("$root/tests/fuzz/corpus/idx")
seeds_trace=("$root/tests/fuzz/corpus/trace")
# The trace target runs in fork mode, where libFuzzer goes on after a crash or timeout,
# with leak checks off, because Debian's HDF5 1.10 has bugs on corrupt files that the
# reader cannot catch: it loops forever or reads out of bounds decoding a damaged global
# heap (H5HG_read, reached through any variable-length string), and it leaks parts of its
# metadata cache when it gives up on a file. Each saved input is then run again: a crash
# or timeout whose innermost frame is in libhdf5 is counted as the library's, any other
# fails the run.
extra_model=() extra_idx=() extra_build=() extra_trace=(-fork=1 -ignore_timeouts=1 -ignore_crashes=1)
timeout_model=30 timeout_idx=30 timeout_build=30 timeout_trace=2

# Prints "hdf5" when the innermost frame of the report for input $2 of target $1, past
# the sanitizer's own frames (an intercepted memcpy), is in libhdf5, else the report.
innermost() {
  local report frame
  report="$(ASAN_OPTIONS=detect_leaks=0 timeout 60 "$build/tests/fuzz/fuzz_$1" -timeout=2 "$2" 2>&1 || true)"
  frame="$(grep -E "^ +#[0-9]+ " <<< "$report" | grep -vE "__sanitizer|__interceptor_|__asan|__ubsan|fuzzer::|libc\.so|AlarmCallback| in (malloc|calloc|realloc) " | head -1 || true)"
  if [[ "$frame" == *libhdf5* ]]; then echo hdf5; else echo "$report" | tail -40; fi
}
for t in $targets; do
  mkdir -p "$work/$t"
  declare -n seeds="seeds_$t" extra="extra_$t" unit_timeout="timeout_$t"
  asan="${ASAN_OPTIONS:-}"
  [[ "$t" == trace ]] && asan="detect_leaks=0${asan:+:$asan}"
  limits=(-runs="$runs")
  (( seconds > 0 )) && limits=(-max_total_time="$seconds")
  (( runs == 0 )) && (( seconds > 0 )) && limits=(-max_total_time="$seconds")
  echo "fuzz_$t: ${limits[*]}, jobs $jobs, corpus $work/$t + ${#seeds[@]} seed folders"
  parallel=()
  (( jobs > 1 )) && parallel=(-jobs="$jobs" -workers="$jobs")
  # -seed=1: the suite's short run is the same sequence of inputs every time.
  status=0
  mkdir -p "$work/artifacts"
  ASAN_OPTIONS="$asan" "$build/tests/fuzz/fuzz_$t" -seed=1 -artifact_prefix="$work/artifacts/" -timeout="$unit_timeout" -rss_limit_mb=3072 -print_final_stats=1 "${parallel[@]}" "${extra[@]}" \
      "${limits[@]}" "$work/$t" "${seeds[@]}" > "$work/fuzz_$t.log" 2>&1 || status=$?
  grep -E "^(stat::|Done|==|SUMMARY|ERROR|INFO: fuzzed|.*runtime error|.*deadly signal)" "$work/fuzz_$t.log" | head -40 || true
  if [[ "$t" == trace ]]; then
    # In fork mode libFuzzer exits non-zero whenever any input crashed, even an ignored one
    # inside libhdf5: the verdict comes from the artifacts, and a non-zero exit with no
    # artifact at all (the fuzzer itself failed) still fails.
    library=0 artifacts=0 fuzzer_status=$status
    status=0
    for f in "$work/artifacts/"crash-* "$work/artifacts/"timeout-* "$work/artifacts/"oom-*; do
      [[ -e "$f" ]] || continue
      artifacts=$((artifacts + 1))
      verdict="$(innermost "$t" "$f")"
      if [[ "$verdict" == hdf5 ]]; then library=$((library + 1)); rm -f "$f"; continue; fi
      echo "$verdict"; cp "$f" .; status=1
      echo "fuzz_trace: FINDING outside libhdf5: $(basename "$f") (saved here)" >&2
    done
    echo "fuzz_trace: $library inputs crashed or hung inside libhdf5 (library bugs on corrupt files, counted, not failed)"
    (( artifacts == 0 && fuzzer_status != 0 )) && status=$fuzzer_status
  fi
  if (( status != 0 )); then
    tail -60 "$work/fuzz_$t.log"
    cp "$work/artifacts/"* . 2>/dev/null || true
    echo "fuzz_$t: FINDING (exit $status); the input is saved here as crash-* / timeout-* / oom-* / leak-*" >&2
    exit 1
  fi
done
echo "fuzz: all targets clean"
