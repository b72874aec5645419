#!/bin/sh
# valgrind_train.sh -- Valgrind memcheck over a short LeNet-5 training run
# (`make valgrind`): STEPS steps of batch 64 (default 200) on the first
# 64*STEPS Fashion-MNIST training images, then one evaluation on TEST test
# images (default 500), in a build without AVX-512 (Valgrind cannot run it).
# oneDNN's JIT is held to ISA (default SSE41): Valgrind emulates each FMA lane
# in a helper call, which made an AVX2 step take ~8 s of CPU instead of ~0.5 s
# (AVX without FMA is in between). Fails on any memcheck error or on any byte
# definitely or indirectly lost; OpenMP runtime noise is in tests/valgrind.supp.
# NO_VALGRIND=1 runs the same training natively (to compare results).
# Usage: valgrind_train.sh NNC_BINARY
set -e
NNC=${1:?usage: valgrind_train.sh NNC_BINARY}
STEPS=${STEPS:-200}
TEST=${TEST:-500}
FM=${FM:-/usr/share/datasets/fashion-mnist}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
# be32 N: N as 4 big-endian bytes (IDX dimensions)
be32() { printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)))"; }
# subset SRC DST N ROWBYTES DIMS...: the first N records of an IDX file
subset() {
    src=$1; dst=$2; n=$3; row=$4; shift 4
    { printf '\000\000\010'; printf "$(printf '\\%03o' $(($# + 1)))"; be32 "$n"; for d in "$@"; do be32 "$d"; done
      gzip -dc "$src" | tail -c +$((9 + 4 * $#)) | head -c $((n * row)); } >"$dst"
}
N=$((STEPS * 64))
subset "$FM/train-images-idx3-ubyte.gz" "$D/train-images-idx3-ubyte" $N 784 28 28
subset "$FM/train-labels-idx1-ubyte.gz" "$D/train-labels-idx1-ubyte" $N 1
subset "$FM/t10k-images-idx3-ubyte.gz" "$D/t10k-images-idx3-ubyte" "$TEST" 784 28 28
subset "$FM/t10k-labels-idx1-ubyte.gz" "$D/t10k-labels-idx1-ubyte" "$TEST" 1
export ONEDNN_MAX_CPU_ISA=${ISA:-SSE41} DNNL_MAX_CPU_ISA=${ISA:-SSE41} OMP_WAIT_POLICY=passive
[ -n "$NO_VALGRIND" ] && exec "$NNC" train lenet5 --data "$D" --epochs 1 --batch 64 --threads 1 --quiet
exec valgrind --tool=memcheck --smc-check=stack --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --suppressions="$(dirname "$0")/valgrind.supp" \
    "$NNC" train lenet5 --data "$D" --epochs 1 --batch 64 --threads 1 --quiet
