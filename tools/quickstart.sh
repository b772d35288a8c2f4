#!/usr/bin/env bash
# Installs what is missing, builds, and trains the default model (Z-IL on
# Fashion-MNIST, 784-256-256-10, one epoch at batch 1) by message passing,
# writing the trace fmnist_zil.h5 and printing the results.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup-deps.sh
tools/build.sh
build/tools/phaseless run models/fmnist_zil.textproto --out fmnist_zil.h5 "$@"
