#!/bin/sh
# test_seq_cli.sh -- the sequence tasks end to end, short but real: a char
# model learns a small text (held-out bits per character fall) and samples;
# seq2seq-add learns 2-digit additions; seqmnist trains an LSTM over image
# rows; bad input refused. Prints PASS:/FAIL: lines. Needs $NNC.
NNC=${NNC:-build/nnc}
FM=/usr/share/datasets/fashion-mnist
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1"; }
expect_fail() {
    name=$1; pat=$2; shift 2
    if "$@" >"$T/out" 2>"$T/err"; then fail "$name (exit 0)"; return; fi
    if grep -q -- "$pat" "$T/err"; then pass "$name"; else fail "$name: message lacks '$pat':"; cat "$T/err"; fi
}

# a small corpus with structure: numbered sentences
i=0; : >"$T/text"
while [ $i -lt 400 ]; do echo "the cat sat on mat $((i % 7)); the dog ran to log $((i % 5))." >>"$T/text"; i=$((i + 1)); done
if $NNC train charrnn --text "$T/text" --hidden 64 --embed 16 --seq-len 32 --batch 16 --epochs 3 --lr 0.01 \
        --save "$T/char.st" --quiet >"$T/c" 2>"$T/err"; then
    b1=$(sed -n 's/^epoch=1 .*heldout_bpc=\([0-9.]*\).*/\1/p' "$T/c"); b3=$(sed -n 's/^epoch=3 .*heldout_bpc=\([0-9.]*\).*/\1/p' "$T/c")
    if [ -n "$b1" ] && [ -n "$b3" ] && awk "BEGIN{exit !($b3 < $b1 && $b3 < 1.5)}"; then pass "charrnn learns a small text (heldout bpc $b1 -> $b3)"
    else fail "charrnn heldout bpc $b1 -> $b3 (want falling, < 1.5)"; cat "$T/c"; fi
else fail "charrnn training"; cat "$T/err"; fi
$NNC sample --model "$T/char.st" --length 80 --prime "the " --temperature 0.5 >"$T/s" 2>"$T/err" \
    && [ "$(wc -c <"$T/s")" -ge 80 ] && grep -q "the" "$T/s" && pass "sample generates text" || { fail "sample"; cat "$T/s" "$T/err"; }
$NNC sample --model "$T/char.st" --length 20 --temperature 0 >"$T/s1" 2>/dev/null && $NNC sample --model "$T/char.st" --length 20 --temperature 0 >"$T/s2" 2>/dev/null \
    && cmp -s "$T/s1" "$T/s2" && pass "greedy sampling is deterministic" || fail "greedy sampling differs run to run"
if $NNC train charrnn --text "$T/text" --hidden 32 --embed 8 --seq-len 16 --batch 8 --epochs 2 --out-dropout 0.3 \
        --save "$T/chard.st" --quiet >"$T/c" 2>"$T/err" && grep -q '^epoch=2 .*heldout_bpc=' "$T/c" \
        && $NNC sample --model "$T/chard.st" --length 20 >/dev/null 2>>"$T/err"; then pass "charrnn with --out-dropout trains, and its model samples"
else fail "charrnn --out-dropout"; cat "$T/err"; fi
expect_fail "charrnn: --out-dropout outside [0, 0.99] refused" "out-dropout" $NNC train charrnn --text "$T/text" --out-dropout 1.5
expect_fail "charrnn: missing corpus named" "/nonexistent/text" $NNC train charrnn --text /nonexistent/text
: >"$T/empty"
expect_fail "charrnn: empty corpus refused" "is empty" $NNC train charrnn --text "$T/empty"
expect_fail "charrnn: unknown cell refused" "--cell" $NNC train charrnn --text "$T/text" --cell transformer
expect_fail "sample: prime outside the vocabulary" "not in the model's vocabulary" $NNC sample --model "$T/char.st" --prime "XYZ"
$NNC train lenet5 --epochs 0 --save "$T/lenet.st" --quiet >/dev/null 2>&1
expect_fail "sample: weights of another model refused" "not a character model" $NNC sample --model "$T/lenet.st"

if $NNC train seq2seq-add --digits 2 --hidden 64 --embed 16 --batch 64 --steps 500 --epochs 3 --eval-pairs 512 --lr 0.005 >"$T/a" 2>"$T/err"; then
    acc=$(sed -n 's/^epoch=3 .*heldout_exact=\([0-9.]*\).*/\1/p' "$T/a")
    if [ -n "$acc" ] && awk "BEGIN{exit !($acc >= 0.9)}"; then pass "seq2seq-add learns 2-digit sums (held-out exact match $acc)"
    else fail "seq2seq-add exact match $acc (want >= 0.9)"; cat "$T/a"; fi
else fail "seq2seq-add training"; cat "$T/err"; fi
expect_fail "seq2seq-add: bad --order refused" "--order" $NNC train seq2seq-add --order middle

if [ -d "$FM" ]; then
    if $NNC train seqmnist --limit 6000 --epochs 1 --quiet >"$T/m" 2>"$T/err"; then
        acc=$(sed -n 's/^epoch=1 .*test_acc=\([0-9.]*\).*/\1/p' "$T/m")
        if [ -n "$acc" ] && awk "BEGIN{exit !($acc >= 0.45)}"; then pass "seqmnist LSTM over rows learns (test_acc $acc after 6000 images)"
        else fail "seqmnist test_acc $acc (want >= 0.45)"; cat "$T/m"; fi
    else fail "seqmnist training"; cat "$T/err"; fi
fi
