#!/usr/bin/env bash
# Instructions per training sample of each engine, counted by callgrind on a build for
# x86-64-v3 (AVX2; valgrind cannot run AVX-512), training loop only, as the difference
# of two sample counts (so loading, building the network and the first sample's
# warm-up cancel out).
#
#   tools/callgrind_per_sample.sh [--model M] [--samples "1000 2000"] [--engines "hand sync event"]
#                                 [--set PATH=VALUE]... [--profile DIR]
#
# --profile DIR keeps the callgrind files of the larger count and writes
# callgrind_annotate's function list per engine there (where the instructions go).
# Needs valgrind (tools/setup-deps.sh --extras). Builds into build-v3/ (ccache if present).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model="$root/models/fmnist_zil.textproto"
samples="1000 2000"
engines="hand sync event"
profile=""
sets=()
while (( $# )); do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --samples) samples=$2; shift 2 ;;
    --engines) engines=$2; shift 2 ;;
    --set) sets+=(--set "$2"); shift 2 ;;
    --profile) profile=$2; shift 2 ;;
    -h|--help) sed -n 2,12p "$0"; exit 0 ;;
    *) echo "callgrind_per_sample.sh: unknown argument '$1'; allowed: --model --samples --engines --set --profile" >&2; exit 2 ;;
  esac
done
command -v valgrind >/dev/null || { echo "callgrind_per_sample.sh: valgrind is missing; run tools/setup-deps.sh --extras" >&2; exit 2; }
read -r n1 n2 <<<"$samples"
[[ -n "${n1:-}" && -n "${n2:-}" && $n2 -gt $n1 ]] || { echo "callgrind_per_sample.sh: --samples needs two counts, the second larger" >&2; exit 2; }

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$root" -B "$root/build-v3" -DCMAKE_BUILD_TYPE=Release -DPHASELESS_NATIVE=OFF \
  -DCMAKE_CXX_FLAGS="-march=x86-64-v3" -DPHASELESS_BUILD_TESTS=OFF "${launcher[@]}" >/dev/null
cmake --build "$root/build-v3" -j2 --target phaseless_profile >/dev/null
exe="$root/build-v3/tools/phaseless_profile"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Only n2 rows are loaded (data.train_subset), so a run spends its time training.
count() {   # engine samples -> instructions in phaseless_training_loop
  local out="$tmp/cg.$1.$2"
  valgrind --tool=callgrind --collect-atstart=no --toggle-collect=phaseless_training_loop \
    --callgrind-out-file="$out" "$exe" "$model" --engine "$1" --samples "$2" \
    --set "data.train_subset=$n2" "${sets[@]}" >/dev/null 2>"$tmp/log" ||
    { cat "$tmp/log" >&2; exit 4; }
  sed -n 's/^summary: *//p; s/^totals: *//p' "$out" | head -1 | awk '{print $1}'
}
printf "%-8s %16s %16s %14s\n" engine "Ir @ $n1" "Ir @ $n2" "Ir / sample"
for e in $engines; do
  a=$(count "$e" "$n1")
  b=$(count "$e" "$n2")
  printf "%-8s %16d %16d %14.0f\n" "$e" "$a" "$b" "$(echo "($b - $a) / ($n2 - $n1)" | bc -l)"
  if [[ -n "$profile" ]]; then
    mkdir -p "$profile"
    cp "$tmp/cg.$e.$n2" "$profile/callgrind.$e.out"
    callgrind_annotate --inclusive=no "$profile/callgrind.$e.out" 2>/dev/null | head -60 >"$profile/$e.txt"
  fi
done
