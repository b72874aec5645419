#!/bin/sh
# test_cfg_cli.sh -- issue 4's criterion end to end: for every zoo model,
# `nnc export-cfg NAME` then `nnc summary FILE.cfg` prints the same table as
# `nnc summary NAME` (every column but the layer names, which the file's
# scopes may shorten, and the model's name; input and classes compared), also
# at another input size for the recurrent, LeNet-1998 and autoencoder models.
# Prints PASS:/FAIL: lines. Needs $NNC.
NNC=${NNC:-build/nnc}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# the table without the model's name and the layer-name column
table() { $NNC summary "$@" 2>&1 | awk 'NR == 1 { sub(/^model [^,]*,/, "model,"); print; next } { $2 = ""; print }'; }
check() { # name, then extra flags for both commands
    name=$1; shift
    if ! $NNC export-cfg "$name" "$@" -o "$T/m.cfg" 2>"$T/err"; then echo "FAIL: export-cfg $name${*:+ $*}"; cat "$T/err"; return; fi
    table "$name" "$@" >"$T/a"
    table "$T/m.cfg" "$@" >"$T/b"
    if cmp -s "$T/a" "$T/b" && [ "$(wc -l <"$T/a")" -gt 4 ]; then echo "PASS: export-cfg $name${*:+ $*}: same summary"
    else echo "FAIL: export-cfg $name${*:+ $*}: summaries differ"; diff "$T/a" "$T/b" | head -8; fi
}
models=$($NNC models 2>/dev/null | awk 'NR > 1 { print $1 }')
[ -n "$models" ] || echo "FAIL: nnc models lists nothing"
for m in $models; do check "$m"; done
check seqmnist-gru --input 3x12x10 --classes 4
check lenet5-1998 --input 1x32x32 --classes 7
check autoencoder --input 3x16x16
check conv-autoencoder --input 2x12x8
