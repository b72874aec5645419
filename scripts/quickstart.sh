#!/bin/sh
# From a fresh Debian machine to a trained LeNet-5: install what is missing,
# build, train on Fashion-MNIST and print the test accuracy of every epoch.
set -e
cd "$(dirname "$0")/.."
sh scripts/setup-debian.sh
make -j"$(nproc)"
./build/nnc train lenet5 "$@"
