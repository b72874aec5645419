#!/bin/sh
# test_bad_cli.sh -- bad command lines and bad files given to the CLI: each is
# refused with a non-zero exit and a message naming the flag or the file
# (the CLI rows of docs/BAD_INPUTS.md). Prints PASS:/FAIL: lines like the C
# tests. Needs $NNC (the binary); runs no training. NNC_BAD_SHOW=1 also
# prints each message (how docs/BAD_INPUTS.md was filled in).
NNC=${NNC:-build/nnc}
B=$(cd "$(dirname "$0")" && pwd)/bad
CFG=$(cd "$(dirname "$0")" && pwd)/cfg/bad
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1"; fails=$((fails + 1)); }
# expect_fail NAME CODE PATTERN CMD...: exit status CODE and PATTERN in stderr
expect_fail() {
    name=$1; code=$2; pat=$3; shift 3
    "$@" >"$T/out" 2>"$T/err"; rc=$?
    if [ "$rc" -ne "$code" ]; then fail "$name (exit $rc, expected $code)"; cat "$T/err"; return; fi
    [ -n "$NNC_BAD_SHOW" ] && echo "MSG: $(head -n 1 "$T/err")"
    if grep -qF -- "$pat" "$T/err"; then pass "$name"; else fail "$name: message lacks '$pat':"; cat "$T/err"; fi
}

# flags: usage errors exit 2
expect_fail "cli: --epochs abc" 2 "--epochs 'abc' is not an integer" $NNC train lenet5 --epochs abc
expect_fail "cli: --epochs with no value" 2 "flag --epochs needs a value" $NNC train lenet5 --epochs
expect_fail "cli: --epochs beyond 64 bits" 2 "--epochs '99999999999999999999' is not an integer" $NNC train lenet5 --epochs 99999999999999999999
expect_fail "cli: --batch -5" 2 "--batch -5 is out of range" $NNC train lenet5 --batch -5
expect_fail "cli: --batch 1e3" 2 "--batch '1e3' is not an integer" $NNC train lenet5 --batch 1e3
expect_fail "cli: --lr -1" 2 "--lr -1 is out of range" $NNC train lenet5 --lr -1
expect_fail "cli: --lr inf" 2 "--lr 'inf' is not a finite number" $NNC train lenet5 --lr inf
expect_fail "cli: --momentum 2" 2 "--momentum 2 is out of range" $NNC train lenet5 --momentum 2
expect_fail "cli: --wd -1" 2 "--wd -1 is out of range" $NNC train lenet5 --wd -1
expect_fail "cli: --val-split 1.5" 2 "--val-split 1.5 is out of range" $NNC train lenet5 --val-split 1.5
expect_fail "cli: --limit -1" 2 "--limit -1 is out of range" $NNC train lenet5 --limit -1
expect_fail "cli: --seed xyz" 2 "--seed 'xyz' is not an integer" $NNC train lenet5 --seed xyz
expect_fail "cli: --threads -2" 2 "--threads -2 is out of range" $NNC train lenet5 --threads -2
expect_fail "cli: --input 0x28x28" 2 "--input '0x28x28' must be CxHxW with positive sizes" $NNC train lenet5 --input 0x28x28
expect_fail "cli: --input overflowing int" 2 "--input '99999999999x1x1'" $NNC train lenet5 --input 99999999999x1x1
expect_fail "cli: --input with 4 sizes" 2 "--input '1x28x28x3'" $NNC train lenet5 --input 1x28x28x3

# files given to the CLI: run-time errors exit 1 and name the file
expect_fail "cli: --data is a file, not a directory" 1 "$B/idx/trailing.idx: dataset directory is not a directory" \
    $NNC train lenet5 --data "$B/idx/trailing.idx" --epochs 1
expect_fail "cli: --weights is a directory" 1 "$B: not a regular file" $NNC eval lenet5 --weights "$B"
expect_fail "cli: --weights with a gap in the data" 1 "gap.safetensors: a gap of 4 bytes" \
    $NNC eval lenet5 --weights "$B/safetensors/gap.safetensors"
expect_fail "cli: summary of a .cfg with negative filters" 1 "negative_filters.cfg:7: filters=-3 is out of range" \
    $NNC summary "$CFG/negative_filters.cfg"
expect_fail "cli: summary of a missing .cfg" 1 "$T/none.cfg: cannot open the model file" $NNC summary "$T/none.cfg"
expect_fail "cli: --save into a missing directory" 1 "$T/no/w.safetensors: cannot create temporary file" \
    $NNC train lenet5 --epochs 0 --save "$T/no/w.safetensors"
# predict: good weights, bad images
if $NNC train lenet5 --epochs 0 --save "$T/w.safetensors" --quiet >/dev/null 2>"$T/err"; then
    expect_fail "cli: predict a PNG bomb" 1 "png_bomb.png: bad PNG: IHDR: 60000x60000 cannot be held" \
        $NNC predict lenet5 --weights "$T/w.safetensors" "$B/image/png_bomb.png"
    expect_fail "cli: predict a truncated PGM" 1 "truncated.pgm: truncated pixel data" \
        $NNC predict lenet5 --weights "$T/w.safetensors" "$B/image/truncated.pgm"
    expect_fail "cli: predict a missing image" 1 "$T/none.pgm: cannot open" \
        $NNC predict lenet5 --weights "$T/w.safetensors" "$T/none.pgm"
else
    fail "cli: writing weights for the predict cases"; cat "$T/err"
fi
[ $fails -eq 0 ]
