#!/usr/bin/env bash
# Installs the Debian 12 packages Phaseless needs, only those that are missing.
#   tools/setup-deps.sh            build, run, test (doctest, pytest) and plot (matplotlib)
#   tools/setup-deps.sh --extras   also PyTorch, OpenBLAS and valgrind (benchmarks, profiles, PyTorch references)
set -euo pipefail
packages=(g++ cmake make pkg-config libboost-dev libboost-program-options-dev libprotobuf-dev protobuf-compiler
          libhdf5-dev hdf5-tools doctest-dev zlib1g-dev dataset-fashion-mnist python3 python3-h5py python3-numpy
          python3-dev pybind11-dev python3-pytest python3-matplotlib
          clang libfuzzer-14-dev)   # clang: the fuzz targets of tests/fuzz, run by the test suite
if [[ "${1:-}" == "--extras" ]]; then
  packages+=(python3-torch libopenblas0 valgrind)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} == 0 )); then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi
echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
