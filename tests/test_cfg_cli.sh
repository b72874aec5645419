#!/bin/sh
# test_cfg_cli.sh -- issue 4's criterion end to end: for every zoo model,
# `nnc export-cfg NAME` then `nnc summary FILE.cfg` prints the same table as
# `nnc summary NAME` (every column but the layer names, which the file's
# scopes may shorten, and the model's name; input and classes compared), also
# at another input size for the recurrent, LeNet-1998 and autoencoder models.
# Then [net]'s training options as `nnc train FILE.cfg` applies them
# (tools/nnc/cfg_recipe.c): compared with the same run given by flags.
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

# ---- [net] training options (issue 4): a run from the file's keys must equal
# the run given by the flags they stand for (epoch lines without the timing)
export OMP_WAIT_POLICY=passive
epochs() { grep '^epoch=' "$1" | sed 's/ time_s=.*//'; }
net() { # [net] keys (one per argument) + a small MLP -> $T/net.cfg
    { echo "[net]"; echo "width=28"; echo "height=28"; echo "channels=1"; for k in "$@"; do echo "$k"; done
      printf '[connected]\noutput=16\nactivation=relu\n[connected]\noutput=10\nactivation=linear\n[softmax]\n'; } >"$T/net.cfg"
}
run() { $NNC train "$@" --limit 64 --threads 1 --quiet; }
net batch=32 learning_rate=0.02 momentum=0.8 decay=0.001 policy=steps steps=2,3 scales=.5,.5 max_batches=6
# 64 samples, batch 32: 2 batches an epoch; steps 2,3 -> drops after epochs 1 and 2; max_batches 6 -> 3 epochs
run "$T/net.cfg" >"$T/o1" 2>"$T/e1"
cp "$T/net.cfg" "$T/net1.cfg"
net
run "$T/net.cfg" --batch 32 --lr 0.02 --momentum 0.8 --wd 0.001 --schedule multistep --lr-steps 2,3 --lr-gamma 0.5 --epochs 3 >"$T/o2" 2>"$T/e2"
if grep -qx 'cfg \[net\]: batch=32 lr=0.02 momentum=0.8 decay=0.001 max_batches=6 -> 3 epochs policy=steps -> multistep --lr-steps 2,3 x0.5' "$T/o1" \
    && grep -q ' batch=32 epochs=3 ' "$T/o1" && [ "$(epochs "$T/o1" | wc -l)" -eq 3 ] && [ "$(epochs "$T/o1")" = "$(epochs "$T/o2")" ]; then
    echo "PASS: [net] batch/lr/momentum/decay/steps/max_batches train as the same flags"
else echo "FAIL: [net] options not applied as the flags"; cat "$T/o1" "$T/e1" "$T/o2" "$T/e2" | head -20; fi
# a file without training keys prints no line and keeps nnc's defaults (batch 64, 5 epochs)
if ! grep -q '^cfg \[net\]' "$T/o2" && $NNC train "$T/net.cfg" --limit 64 --epochs 0 --quiet 2>&1 | grep -q ' batch=64 epochs=0 '; then
    echo "PASS: [net] without training keys changes nothing"
else echo "FAIL: [net] without training keys"; cat "$T/o2"; fi
# flags win over the file's keys
run "$T/net1.cfg" --lr 0.1 --batch 16 --epochs 1 --schedule none >"$T/o1" 2>"$T/e1"
run "$T/net.cfg" --lr 0.1 --batch 16 --epochs 1 --schedule none --momentum 0.8 --wd 0.001 >"$T/o2" 2>"$T/e2"
if grep -q 'batch=32 (--batch wins) lr=0.02 (--lr wins) momentum=0.8 decay=0.001 max_batches=6 (--epochs wins) policy=steps (--schedule wins)' "$T/o1" \
    && grep -q ' batch=16 epochs=1 ' "$T/o1" && [ -n "$(epochs "$T/o1")" ] && [ "$(epochs "$T/o1")" = "$(epochs "$T/o2")" ]; then
    echo "PASS: command-line flags win over [net]"
else echo "FAIL: flags over [net]"; cat "$T/o1" "$T/e1" "$T/o2" "$T/e2" | head -20; fi
# adam=1 is Adam with B1/B2/eps: PyTorch's values train as --optimizer adam, other betas differently
net adam=1 B1=0.9 b2=0.999 eps=1e-8 learning_rate=0.003 batch=32
run "$T/net.cfg" --epochs 2 >"$T/o1" 2>"$T/e1"
net adam=1 B1=0.8 b2=0.99 eps=1e-6 learning_rate=0.003 batch=32
run "$T/net.cfg" --epochs 2 >"$T/o3" 2>"$T/e3"
net batch=32
run "$T/net.cfg" --epochs 2 --optimizer adam --lr 0.003 >"$T/o2" 2>"$T/e2"
if grep -q 'adam B1=0.9 B2=0.999 eps=1e-08 lr=0.003' "$T/o1" && grep -q 'adam B1=0.8 B2=0.99 eps=1e-06 lr=0.003' "$T/o3" \
    && [ -n "$(epochs "$T/o1")" ] && [ "$(epochs "$T/o1")" = "$(epochs "$T/o2")" ] && [ "$(epochs "$T/o1")" != "$(epochs "$T/o3")" ]; then
    echo "PASS: [net] adam=1 trains with Adam and the file's betas"
else echo "FAIL: [net] adam=1"; cat "$T/o1" "$T/e1" "$T/o2" | head -20; fi
# the other policies' conversions (64 samples, batch 32: 2 batches an epoch; one epoch unless said)
conv() { # expected line fragment, then [net] keys
    want=$1; shift
    case "$*" in *max_batches*) ;; *) set -- "$@" max_batches=2 ;; esac
    net batch=32 "$@"
    if $NNC train "$T/net.cfg" --limit 64 --threads 1 --quiet >"$T/o" 2>"$T/e" && grep -q "^cfg \[net\]: .*$want" "$T/o"; then
        echo "PASS: [net] $* -> $want"
    else echo "FAIL: [net] $*: expected '$want'"; cat "$T/o" "$T/e"; fi
}
conv 'policy=exp -> exp x0.81 per epoch' policy=exp gamma=0.9
conv 'policy=step -> step every 3 epochs x0.5' policy=step step=5 gamma=0.5
conv 'max_batches=6 -> 3 epochs policy=poly -> poly power 2 over 3 epochs' policy=poly power=2 max_batches=6
conv 'burn_in=3 -> 2 linear warm-up epochs policy=constant -> no schedule' burn_in=3 policy=constant
conv 'policy=steps -> multistep --lr-steps 3 x0.1 (base lr scaled to 0.01)' learning_rate=0.1 policy=steps steps=-1,4 scales=.1,.1
net batch=32 subdivisions=4
$NNC train "$T/net.cfg" --limit 64 --epochs 0 --quiet >"$T/o" 2>"$T/e"
grep -q 'subdivisions=4: nnc has no gradient accumulation' "$T/e" && echo "PASS: [net] subdivisions > 1 warns" || { echo "FAIL: subdivisions warning"; cat "$T/e"; }
# policies nnc cannot follow are refused, naming them
for p in sigmoid random sgdr; do
    net policy=$p
    if ! $NNC train "$T/net.cfg" --limit 64 --epochs 1 --quiet >"$T/o" 2>"$T/e" && grep -q "unsupported: .*policy=$p" "$T/e" && ! grep -q '^epoch=' "$T/o"; then
        echo "PASS: [net] policy=$p refused"
    else echo "FAIL: [net] policy=$p not refused"; cat "$T/e"; fi
done
net policy=steps steps=2,3 scales=.1,.5
if ! $NNC train "$T/net.cfg" --limit 64 --epochs 1 --quiet >"$T/o" 2>"$T/e" && grep -q "unsupported: .*different scales" "$T/e"; then
    echo "PASS: [net] steps with different scales refused"
else echo "FAIL: [net] different scales"; cat "$T/e"; fi
net policy=sgdr
$NNC train "$T/net.cfg" --limit 64 --epochs 0 --schedule none --quiet >"$T/o" 2>"$T/e" && grep -q 'policy=sgdr (--schedule wins)' "$T/o" \
    && echo "PASS: --schedule overrides an unsupported policy" || { echo "FAIL: --schedule over policy=sgdr"; cat "$T/o" "$T/e"; }
# an exported zoo model trains like the zoo one: lenet5-1998 with its own rate 0.003 (same seed, same initial weights)
$NNC export-cfg lenet5-1998 -o "$T/l98.cfg" 2>"$T/e"
$NNC train "$T/l98.cfg" --limit 2000 --epochs 1 --threads 1 --quiet >"$T/o1" 2>"$T/e1"
$NNC train lenet5-1998 --limit 2000 --epochs 1 --threads 1 --quiet >"$T/o2" 2>"$T/e2"
if grep -q '^learning_rate=0.003$' "$T/l98.cfg" && grep -q 'lr=0.003 ' "$T/o1" && [ -n "$(epochs "$T/o1")" ] && [ "$(epochs "$T/o1")" = "$(epochs "$T/o2")" ]; then
    echo "PASS: exported lenet5-1998 trains as the zoo's (lr 0.003)"
else echo "FAIL: exported lenet5-1998 trains differently"; cat "$T/o1" "$T/e1" "$T/o2" "$T/e2" | head; fi
