#!/bin/sh
# test_cli.sh -- the command line end to end: summaries, a short training run,
# eval/predict agreement, and bad input refused with a message and a non-zero
# exit. Prints PASS:/FAIL: lines like the C tests. Needs $NNC (the binary).
NNC=${NNC:-build/nnc}
FM=/usr/share/datasets/fashion-mnist
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1"; fails=$((fails + 1)); }
# expect_fail NAME PATTERN CMD...: non-zero exit and PATTERN in stderr
expect_fail() {
    name=$1; pat=$2; shift 2
    if "$@" >"$T/out" 2>"$T/err"; then fail "$name (exit 0)"; return; fi
    if grep -q -- "$pat" "$T/err"; then pass "$name"; else fail "$name: message lacks '$pat':"; cat "$T/err"; fi
}

$NNC summary lenet5 >"$T/s" 2>&1 && grep -q "total parameters: 61,706" "$T/s" && pass "summary lenet5: 61,706" || { fail "summary lenet5"; cat "$T/s"; }
$NNC summary mlp >"$T/s" 2>&1 && grep -q "total parameters: 1,863,690" "$T/s" && pass "summary mlp: 1,863,690" || fail "summary mlp"
$NNC models | grep -q "lenet5" && pass "models lists lenet5" || fail "models"
$NNC ops | grep -q "^conv2d" && pass "ops lists conv2d" || fail "ops"
for c in train eval predict summary models ops bench; do
    $NNC $c --help >/dev/null 2>&1 && pass "$c --help" || fail "$c --help"
done

$NNC train lenet5 --epochs 0 --save "$T/init.safetensors" --quiet >/dev/null 2>"$T/err" && [ -s "$T/init.safetensors" ] \
    && pass "epochs 0 saves the initialized model" || { fail "epochs 0 --save"; cat "$T/err"; }
$NNC train lenet5 --epochs 1 --limit 6000 --save "$T/w.safetensors" --checkpoint "$T/ck" --quiet >"$T/train" 2>"$T/err" \
    && grep -q "^epoch=1 train_loss=.* test_acc=" "$T/train" && [ -s "$T/ck/model.safetensors" ] && [ -s "$T/ck/train_state.safetensors" ] \
    && pass "train 1 epoch on 6000 samples, key=value line, checkpoint" || { fail "short training run"; cat "$T/train" "$T/err"; }
[ -n "$(find "$T" -name '*.tmp*')" ] && fail "temporary files left behind" || pass "no temporary files left behind"
$NNC eval lenet5 --weights "$T/w.safetensors" --predictions "$T/pred" >"$T/eval" 2>"$T/err" && grep -q "^test_loss=.* test_acc=" "$T/eval" \
    && pass "eval prints test accuracy" || { fail "eval"; cat "$T/err"; }
# the first test image as a PGM: predict must print the class eval counted
for i in 0 1 2; do
    { printf 'P5\n28 28\n255\n'; gzip -dc "$FM/t10k-images-idx3-ubyte.gz" | tail -c +17 | head -c $(( (i + 1) * 784 )) | tail -c 784; } >"$T/img$i.pgm"
    want=$(sed -n "$((i + 1))p" "$T/pred" | cut -d' ' -f2)
    got=$($NNC predict lenet5 --weights "$T/w.safetensors" "$T/img$i.pgm" 2>"$T/err" | sed -n 's/^rank=1 class=\([0-9]*\) .*/\1/p')
    [ -n "$want" ] && [ "$want" = "$got" ] && pass "predict test image $i = eval's class ($got)" || { fail "predict image $i: eval $want predict $got"; cat "$T/err"; }
done

# --input fits the data to the model; eval rebuilds the model from the weights' input shape
$NNC train mlp --input 3x32x32 --epochs 1 --limit 1000 --save "$T/mlp32.safetensors" --quiet >"$T/out" 2>"$T/err" \
    && $NNC eval mlp --weights "$T/mlp32.safetensors" >"$T/eval32" 2>>"$T/err" && grep -q "^test_acc=\|test_acc=" "$T/eval32" \
    && pass "train --input 3x32x32, eval rebuilds the same input" || { fail "--input"; cat "$T/err"; }
expect_fail "malformed --input" "CxHxW" $NNC train lenet5 --input 3x32 --epochs 0
# a Darknet-style cfg model trains and evaluates like a zoo model
$NNC train tests/cfg/good/lenet.cfg --epochs 1 --limit 2000 --save "$T/cfg.safetensors" --quiet >"$T/out" 2>"$T/err" \
    && $NNC eval tests/cfg/good/lenet.cfg --weights "$T/cfg.safetensors" >/dev/null 2>>"$T/err" \
    && pass "train and eval a .cfg model" || { fail ".cfg model"; cat "$T/err"; }
$NNC export-cfg lenet5 -o "$T/lenet5.cfg" 2>"$T/err" && $NNC summary "$T/lenet5.cfg" 2>>"$T/err" | grep -q "total parameters: 61,706" \
    && pass "export-cfg lenet5, summary of the file: 61,706" || { fail "export-cfg"; cat "$T/err"; }

# bad input: clear message, non-zero exit
head -c 1000 "$T/w.safetensors" >"$T/trunc.safetensors"
expect_fail "truncated weights file" "trunc.safetensors" $NNC eval lenet5 --weights "$T/trunc.safetensors"
cp "$T/w.safetensors" "$T/bad.safetensors"; printf 'XXXXXXXX' | dd of="$T/bad.safetensors" bs=1 seek=0 conv=notrunc 2>/dev/null
expect_fail "corrupted header length" "bad.safetensors" $NNC eval lenet5 --weights "$T/bad.safetensors"
$NNC train mlp --epochs 0 --save "$T/mlp.safetensors" --quiet >/dev/null 2>&1
expect_fail "weights of another architecture" "mlp" $NNC eval lenet5 --weights "$T/mlp.safetensors"
expect_fail "missing weights file" "nope.safetensors" $NNC eval lenet5 --weights "$T/nope.safetensors"
expect_fail "missing data directory" "/nonexistent/fm" $NNC train lenet5 --data /nonexistent/fm --epochs 1
mkdir "$T/badidx"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do cp "$FM/$f.gz" "$T/badidx/"; done
printf '\000\000\010\003\000\000\000\001' >"$T/badidx/train-images-idx3-ubyte"; rm "$T/badidx/train-images-idx3-ubyte.gz"
expect_fail "malformed IDX file" "train-images-idx3-ubyte" $NNC train lenet5 --data "$T/badidx" --epochs 1
printf 'P5\n2 2\n255\n\001\002\003\004' >"$T/small.pgm"
expect_fail "image of the wrong size" "expects" $NNC predict mlp --weights "$T/mlp.safetensors" "$T/small.pgm"
expect_fail "not an image" "init.safetensors" $NNC predict lenet5 --weights "$T/init.safetensors" "$T/init.safetensors"
expect_fail "batch 0" "batch" $NNC train lenet5 --batch 0
expect_fail "negative epochs" "epochs" $NNC train lenet5 --epochs -1
expect_fail "NaN learning rate" "lr" $NNC train lenet5 --lr nan
expect_fail "unknown model" "lenet7" $NNC train lenet7
expect_fail "unknown flag" "--frobnicate" $NNC train lenet5 --frobnicate 3
expect_fail "unknown optimizer" "lbfgs" $NNC train lenet5 --optimizer lbfgs
# optimizers, schedules, regularization, validation (issue 3, optim slice)
$NNC train lenet5 --epochs 2 --limit 600 --optimizer adamw --schedule cosine --warmup 1 --val-split 0.2 --early-stop 1 \
    --clip-norm 1 --no-decay-bias-norm --freeze conv1 --quiet >"$T/train" 2>"$T/err" \
    && grep -q "^epoch=1 train_loss=.* val_loss=.* val_acc=.* test_acc=" "$T/train" \
    && pass "train with adamw, cosine+warm-up, validation split, early stop, clipping, freeze" || { fail "optim flags run"; cat "$T/train" "$T/err"; }
expect_fail "early stop without a validation split" "val-split" $NNC train lenet5 --early-stop 2
expect_fail "unknown schedule" "bogus" $NNC train lenet5 --schedule bogus
expect_fail "unknown momentum form" "sutskever" $NNC train lenet5 --momentum-form sutskever
expect_fail "freeze matching no parameter" "nope" $NNC train lenet5 --freeze nope --epochs 1
expect_fail "unknown command" "dance" $NNC dance
# a reconstruction model trains from the command line: loss only, below the mean predictor's (~0.125)
if $NNC train autoencoder --limit 3000 --epochs 2 --save "$T/ae.st" --quiet >"$T/ae" 2>"$T/err"; then
    l=$(sed -n 's/^epoch=2 train_loss=[0-9.]* test_loss=\([0-9.]*\) .*/\1/p' "$T/ae")
    if [ -n "$l" ] && awk "BEGIN{exit !($l < 0.07)}" && ! grep -q acc "$T/ae"; then pass "autoencoder trains (test MSE $l, no accuracy printed)"
    else fail "autoencoder test MSE '$l' (want < 0.07, no accuracy)"; cat "$T/ae"; fi
else fail "autoencoder training"; cat "$T/err"; fi
$NNC eval autoencoder --weights "$T/ae.st" >"$T/ev" 2>&1 && grep -q "reconstruction loss" "$T/ev" && pass "eval of an autoencoder reports its loss" || { fail "eval autoencoder"; cat "$T/ev"; }
expect_fail "predict refuses a model without classes" "no classes" $NNC predict autoencoder --weights "$T/ae.st" "$T/ae.st"
[ $fails -eq 0 ]
