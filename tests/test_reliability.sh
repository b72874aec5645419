#!/bin/sh
# test_reliability.sh -- checkpoints survive a SIGKILL inside a save, resume is
# exact, runs are reproducible, and the health and memory flags work, end to
# end through the CLI. The kill lands inside the write every time thanks to
# the writer's fault-injection point: NNC_FAULT_SAVE_STALL=BYTES makes it stop
# after BYTES bytes of a temporary file and pause. Prints PASS:/FAIL: lines
# like the C tests. Needs $NNC (the binary).
NNC=${NNC:-build/nnc}
T=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=passive
fails=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1"; fails=$((fails + 1)); }
# 600 samples in batches of 50 (12 steps an epoch), dropout, a rate that halves every epoch
F="lenet5 --limit 600 --batch 50 --eval-batch 2000 --dropout 0.3 --schedule step --step-size 1 --lr-gamma 0.5 --seed 3 --quiet"
meta() { # meta FILE KEY: a metadata value of a safetensors file (the header is JSON on one line)
    head -c 4096 "$1" | tr ',' '\n' | sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p" | head -n 1
}
# stall_and_kill NAME PATTERN BYTES ARGS...: runs nnc train with the fault hook in the
# background, waits until a temporary matching PATTERN holds BYTES bytes, SIGKILLs it
stall_and_kill() {
    name=$1; pat=$2; bytes=$3; shift 3
    NNC_FAULT_SAVE_STALL=$bytes $NNC train "$@" >"$T/stall.out" 2>&1 &
    pid=$!
    i=0
    while [ $i -lt 600 ]; do
        f=$(find "$T/ck" -name "$pat" -size +$((bytes - 1))c 2>/dev/null | head -n 1)
        [ -n "$f" ] && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.1; i=$((i + 1))
    done
    kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null; pid=
    if [ -n "$f" ] && [ "$(wc -c <"$f")" -eq "$bytes" ]; then pass "$name: killed inside the save ($bytes bytes of $(basename "$f"))"
    else fail "$name: the run never stalled in a save"; cat "$T/stall.out"; fi
}

# the reference: 2 epochs straight
$NNC train $F --epochs 2 --checkpoint "$T/straight" >/dev/null 2>"$T/err" && [ "$(meta "$T/straight/train_state.safetensors" nnc.epoch)" = 2 ] \
    && pass "2 epochs straight, checkpoint at epoch 2" || { fail "straight run"; cat "$T/err"; }

# a first checkpoint lands (epoch 1) ...
$NNC train $F --epochs 1 --checkpoint "$T/ck" >/dev/null 2>"$T/err" && cp "$T/ck/model.safetensors" "$T/epoch1.safetensors" \
    && pass "first checkpoint (epoch 1)" || { fail "first checkpoint"; cat "$T/err"; }
# ... then a resumed run is killed inside the second save, in the weights file
stall_and_kill "kill in model.safetensors" 'model.safetensors.tmp.*' 4096 $F --epochs 2 --resume "$T/ck" --checkpoint "$T/ck"
cmp -s "$T/ck/model.safetensors" "$T/epoch1.safetensors" && [ "$(meta "$T/ck/train_state.safetensors" nnc.epoch)" = 1 ] \
    && pass "after the kill the checkpoint is still epoch 1's" || fail "checkpoint changed by a killed save"
$NNC eval lenet5 --weights "$T/ck/model.safetensors" 2>"$T/err" | grep -q "test_acc=" \
    && pass "the previous checkpoint's weights still load (nnc eval)" || { fail "eval after kill"; cat "$T/err"; }
# killed again, this time in the training state: the weights file is already epoch 2's
stall_and_kill "kill in train_state.safetensors" 'train_state.safetensors.tmp.*' 300000 $F --epochs 2 --resume "$T/ck" --checkpoint "$T/ck"
[ "$(meta "$T/ck/train_state.safetensors" nnc.epoch)" = 1 ] && ! cmp -s "$T/ck/model.safetensors" "$T/epoch1.safetensors" \
    && pass "torn checkpoint: epoch-2 weights file beside the epoch-1 training state" || fail "torn checkpoint not produced"
[ -n "$(find "$T/ck" -name '*.tmp.*')" ] && pass "killed writers left their temporaries" || fail "no temporary left by the kills"
# resuming continues exactly from epoch 1, cleans the temporaries, and ends bit-identical to the straight run
$NNC train $F --epochs 2 --resume "$T/ck" --checkpoint "$T/ck" >"$T/out" 2>"$T/err" && grep -q "^epoch=2 " "$T/out" && ! grep -q "^epoch=1 " "$T/out" \
    && pass "resume after the kills runs epoch 2 only" || { fail "resume after kill"; cat "$T/out" "$T/err"; }
[ -z "$(find "$T/ck" -name '*.tmp.*')" ] && pass "stale temporaries removed by the next save" || { fail "temporaries left"; ls "$T/ck"; }
cmp -s "$T/ck/model.safetensors" "$T/straight/model.safetensors" && cmp -s "$T/ck/train_state.safetensors" "$T/straight/train_state.safetensors" \
    && pass "1 epoch + kills + resume + 1 epoch == 2 epochs straight (bitwise)" || fail "resumed run differs from the straight run"

# checkpoints every 5 steps: saving does not perturb training; a kill inside a mid-epoch save keeps epoch 1
$NNC train $F --epochs 2 --save-every 5s --checkpoint "$T/steps" >/dev/null 2>"$T/err" && cmp -s "$T/steps/model.safetensors" "$T/straight/model.safetensors" \
    && pass "--save-every 5s: same weights as the straight run" || { fail "--save-every 5s"; cat "$T/err"; }
rm -rf "$T/ck"; $NNC train $F --epochs 1 --checkpoint "$T/ck" >/dev/null 2>&1
stall_and_kill "kill in a mid-epoch save (--save-every 5s)" 'model.safetensors.tmp.*' 1000 $F --epochs 2 --save-every 5s --resume "$T/ck" --checkpoint "$T/ck"
$NNC train $F --epochs 2 --save-every 5s --resume "$T/ck" --checkpoint "$T/ck" >/dev/null 2>"$T/err" \
    && cmp -s "$T/ck/model.safetensors" "$T/straight/model.safetensors" \
    && pass "resume after a kill in a mid-epoch save == straight (bitwise)" || { fail "resume after mid-epoch kill"; cat "$T/err"; }

# determinism: the same seed and thread count, twice
$NNC train $F --epochs 1 --threads 2 --deterministic --save "$T/d1.safetensors" >/dev/null 2>"$T/err" \
    && $NNC train $F --epochs 1 --threads 2 --deterministic --save "$T/d2.safetensors" >/dev/null 2>>"$T/err" \
    && cmp -s "$T/d1.safetensors" "$T/d2.safetensors" && pass "--deterministic: two runs are bit-identical" || { fail "--deterministic"; cat "$T/err"; }

# numerical health and memory
$NNC train $F --epochs 1 --lr 1e6 >/dev/null 2>"$T/err"; rc=$?
[ $rc -ne 0 ] && grep -q "training diverged: loss is .* at epoch 1 step" "$T/err" && pass "a diverging run stops with epoch and step" || { fail "divergence"; cat "$T/err"; }
$NNC train $F --epochs 1 --lr 1e6 --detect-anomaly >/dev/null 2>"$T/err"; rc=$?
[ $rc -ne 0 ] && grep -q "epoch 1 step [0-9]*: anomaly at step [0-9]*: .* of node '.*' (" "$T/err" \
    && pass "--detect-anomaly names the op and the step" || { fail "--detect-anomaly"; cat "$T/err"; }
$NNC train $F --epochs 1 --max-memory 100K >/dev/null 2>"$T/err"; rc=$?
[ $rc -ne 0 ] && grep -q "needs [0-9]* bytes .* memory limit is 102400 bytes" "$T/err" \
    && pass "--max-memory 100K refused with what is needed and the limit" || { fail "--max-memory"; cat "$T/err"; }
$NNC train $F --epochs 1 --max-memory 1G --save "$T/m.safetensors" >/dev/null 2>"$T/err" && pass "--max-memory 1G is enough" || { fail "--max-memory 1G"; cat "$T/err"; }
for bad in "--max-memory 12Q" "--max-memory -5" "--save-every 0" "--save-every 3x" "--save-every 2"; do
    $NNC train $F --epochs 1 $bad >/dev/null 2>"$T/err"; rc=$?
    [ $rc -eq 2 ] && grep -q -- "${bad%% *}" "$T/err" && pass "refused: $bad" || { fail "not refused: $bad (rc $rc)"; cat "$T/err"; }
done
$NNC train --help >"$T/h" && grep -q -- "--save-every" "$T/h" && grep -q -- "--deterministic" "$T/h" && grep -q -- "--detect-anomaly" "$T/h" \
    && grep -q -- "--max-memory" "$T/h" && pass "train --help lists the reliability flags" || fail "train --help"
$NNC summary lenet5 | grep -q "planned memory at batch" && pass "summary shows the planned memory" || fail "summary memory"

echo "test_reliability.sh: $fails failed"
[ $fails -eq 0 ]
