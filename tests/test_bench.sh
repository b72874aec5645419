#!/bin/sh
# test_bench.sh -- `nnc bench` end to end, for its output and never its
# speed: every workload runs for a tiny --time and prints its key=value line
# with the MACs bench.py counts for it; a table runs each measurement in a
# child; --vs-pytorch degrades to nnc-only with a note when the peer is
# missing, and reads a peer's RESULT line (a stand-in peer, so torch is not
# needed); --profile prints its rows; bad input is refused. Needs $NNC.
NNC=${NNC:-build/nnc}
export OMP_WAIT_POLICY=passive
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1"; }
NUM='[0-9][0-9.]*'
Q="--time 0.05 --warmup 0 --repeat 1"

# workload, extra flags, expected line head, MACs per image (or token) as bench.py counts them
check() {
    w=$1; flags=$2; head=$3; macs=$4; unit=${5:-img_per_s}
    if $NNC bench $w $Q $flags >"$T/o" 2>"$T/e"; then
        re="^$head $unit=$NUM min=$NUM max=$NUM repeats=1 macs_per_[a-z]*=$macs params=[0-9]* gflops=$NUM peak_rss_mb=$NUM threads=[0-9]*\$"
        if [ "$(wc -l <"$T/o")" -eq 1 ] && grep -Eq "$re" "$T/o"; then pass "bench $w${flags:+ $flags}: one line, $macs MACs"
        else fail "bench $w $flags output:"; cat "$T/o"; fi
    else fail "bench $w $flags exited $?"; cat "$T/e"; fi
}
check W1 "" "workload=W1 model=lenet5 mode=train batch=64" 416520
check W1 "--mode infer" "workload=W1 model=lenet5 mode=infer batch=256" 416520
check W2 "" "workload=W2 model=mlp mode=train batch=128" 1861632
check W3 "--batch 8" "workload=W3 model=resnet20 mode=train batch=8" 40813184
check W4 "--batch 2" "workload=W4 model=densenet-bc100 mode=train batch=2" 287929692
check W4d40 "--batch 4" "workload=W4d40 model=densenet-bc mode=train batch=4" 72365352
check W5 "--batch 4" "workload=W5 model=vgg11-bn-32 mode=train batch=4" 152769536
check W7 "--batch 4" "workload=W7 model=alexnet-small-32 mode=train batch=4" 182220800
check W6 "" "workload=W6 model=char-rnn mode=train batch=32" 114688 tokens_per_s
check W6bi "" "workload=W6bi model=char-rnn-bi mode=train batch=32" 622592 tokens_per_s
check "--model nin" "--batch 2" "workload=model model=nin mode=train batch=2" "[0-9]*"

# single-image latency: median and spread in microseconds per call
if $NNC bench W3 --mode latency $Q >"$T/o" 2>"$T/e" &&
    grep -Eq "^workload=W3 model=resnet20 mode=latency batch=1 median_us=$NUM min_us=$NUM max_us=$NUM repeats=1 " "$T/o"
then pass "bench W3 --mode latency"; else fail "bench W3 --mode latency:"; cat "$T/o" "$T/e"; fi

# a table: one child per measurement, three rows for W1
if $NNC bench W1 --mode all $Q >"$T/o" 2>"$T/e" && [ "$(grep -c '^workload=W1 ' "$T/o")" -eq 3 ] &&
    grep -q '^| W1 LeNet-5 | train img/s, batch 64 | \*\*' "$T/o" && grep -q '^| W1 LeNet-5 | latency batch 1, median us |' "$T/o"
then pass "bench W1 --mode all prints three lines and a table"; else fail "bench W1 --mode all:"; cat "$T/o" "$T/e"; fi

# --vs-pytorch without the peer script: a note, nnc numbers, status 0
if $NNC bench W2 --vs-pytorch --peer-script "$T/nope/bench.py" $Q >"$T/o" 2>"$T/e" &&
    grep -q "peer script $T/nope/bench.py not found" "$T/o" && grep -q '^| W2 MLP' "$T/o" && ! grep -q 'PyTorch median' "$T/o"
then pass "--vs-pytorch with a missing peer script: note and nnc-only table"; else fail "--vs-pytorch, missing script:"; cat "$T/o" "$T/e"; fi

# a stand-in peer: the interpreter answers the torch probe and prints bench.py's RESULT line
cat >"$T/python" <<'EOF'
#!/bin/sh
if [ "$1" = "-c" ]; then echo "TORCH 1.13.1"; exit 0; fi
echo "$* LD=$LD_LIBRARY_PATH CT=${OPENBLAS_CORETYPE-unset}" >>"$(dirname "$0")/args"
echo "warming up"
echo "RESULT {\"workload\": \"W2\", \"value\": 1000.0, \"unit\": \"img/s\", \"batch\": 128, \"peak_rss_mb\": 400.0, \"threads\": 2, \"blas_lib\": \"openblas-openmp/libopenblas.so.0\", \"args\": \"$*\"}"
EOF
chmod +x "$T/python"
: >"$T/bench.py"
$NNC bench W2 --vs-pytorch --peer-python "$T/python" --peer-script "$T/bench.py" --time 0.05 --warmup 0 --repeat 2 >"$T/o" 2>"$T/e"
rc=$?
if dpkg-query -W -f='${Status}' libopenblas0-openmp 2>/dev/null | grep -q "install ok installed"; then
    # two alternating pairs; the peer's median 1000 img/s and peak 400 MB; ratios against them
    if [ $rc -eq 0 ] && [ "$(grep -c '^peer=PyTorch workload=W2 mode=train value=1000.0 peak_rss_mb=400.0' "$T/o")" -eq 2 ] &&
        [ "$(grep -c '^workload=W2 ' "$T/o")" -eq 2 ] &&
        grep -Eq '^\| W2 MLP 784-1024-1024-10 \| train img/s, batch 128 \| \*\*[0-9.]+\*\* \| [0-9.]+-[0-9.]+ \| [0-9]+ \| [0-9.]+ \| 1000 \| 1000-1000 \| 400 \| [0-9.]+x \| [0-9.]+x \|$' "$T/o"
    then
        nnc=$(sed -n 's/^| W2 MLP[^*]*\*\*\([0-9.]*\)\*\*.*/\1/p' "$T/o"); ratio=$(sed -n 's/.*| 400 | \([0-9.]*\)x |.*/\1/p' "$T/o")
        if awk "BEGIN{r=$nnc/1000; exit !(r - $ratio < 0.01 && $ratio - r < 0.01)}"; then pass "--vs-pytorch reads the peer's RESULT line; ratio $ratio = $nnc/1000"
        else fail "--vs-pytorch ratio $ratio for nnc $nnc vs 1000"; cat "$T/o"; fi
    else fail "--vs-pytorch with a stand-in peer (exit $rc):"; cat "$T/o" "$T/e"; fi
    # config A's environment and bench.py's flags
    if grep -q "^$T/bench.py --workload W2 --mode train --min-time 0.05 --threads [0-9]* LD=/usr/lib/x86_64-linux-gnu/openblas-openmp CT=unset\$" "$T/args"
    then pass "the peer runs in config A's environment with bench.py's flags"; else fail "peer command line:"; cat "$T/args"; fi
else
    if [ $rc -eq 0 ] && grep -q "libopenblas0-openmp" "$T/o"; then pass "--vs-pytorch without the OpenMP OpenBLAS: a note, skipped"
    else fail "--vs-pytorch without libopenblas0-openmp:"; cat "$T/o" "$T/e"; fi
fi

# --profile: per op type and per layer rows, the data wait
if $NNC bench W1 --profile --time 0.05 --warmup 0 >"$T/o" 2>"$T/e" &&
    grep -Eq "^profile workload=W1 mode=train batch=64 steps=[0-9]+ step_ms=$NUM forward_ms=$NUM backward_ms=$NUM update_ms=$NUM data_wait_ms=0.000 " "$T/o" &&
    grep -Eq '^conv2d +2 +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+% +[0-9.]+$' "$T/o" &&
    grep -Eq '^linear +3 ' "$T/o" && grep -Eq '^[0-9]+ +conv1 +conv2d ' "$T/o" && grep -Eq '^[0-9]+ +fc3 +linear ' "$T/o"
then pass "--profile prints op-type and layer rows"; else fail "--profile:"; cat "$T/o" "$T/e"; fi
if $NNC bench W6 --profile --time 0.05 --warmup 0 >"$T/o" 2>"$T/e" && grep -Eq '^rnn +1 ' "$T/o"
then pass "--profile W6 has the rnn row"; else fail "--profile W6:"; cat "$T/o" "$T/e"; fi

# bad input: clear messages, status 2
bad() {
    name=$1; pat=$2; shift 2
    if "$@" >"$T/o" 2>"$T/e"; then fail "$name (exit 0)"; return; fi
    if grep -q -- "$pat" "$T/e"; then pass "$name"; else fail "$name: message lacks '$pat':"; cat "$T/e"; fi
}
bad "unknown workload refused" "unknown workload 'W9'" $NNC bench W9
bad "a training-only workload has no infer mode" "W2 has no mode 'infer'" $NNC bench W2 --mode infer
bad "unknown mode refused" "unknown mode 'fast'" $NNC bench W1 --mode fast
bad "--profile with --vs-pytorch refused" "--profile takes one workload" $NNC bench W1 --profile --vs-pytorch
bad "no workload" "give one WORKLOAD" $NNC bench
bad "unknown model named" "unknown model 'nosuch'" $NNC bench --model nosuch $Q
bad "W6's fixed batch is not overridden" "batch is fixed" $NNC bench W6 --batch 4
bad "--options without --model refused" "--options goes with --model" $NNC bench W1 --options depth=40
