#!/usr/bin/env bash
# The prepared GPU check: run it first whenever a CUDA machine is at hand, and put its report in
# docs/benchmarks.md. It needs no dataset and no network (random images of CIFAR-10's shape, a stand-in
# Inception for the FID timing) and finishes within 8 minutes on one H100/H200: every section has its own
# time limit, so one slow part cannot eat the others' time; a section cut short says so in the report.
#
#   bash benchmarks/gpu_check.sh [REPORT.md]        (default: gpu_check.md, or $OUT/gpu_check.md when $OUT is set)
#
# Sections:
#   1. the CUDA tests (tests/cuda): every architecture trains in bf16 with EMA, R1 and DiffAugment, and samples;
#      --compile agrees with eager;
#   2. the classic pytorch/examples DCGAN loop against ganzoo (fp32, bf16, bf16 + compile) at batch 256, with the
#      fraction of the card's bf16 peak;
#   3. dcgan, sngan, biggan and stylegan2 at their recipes' settings and batch 256, bf16, --compile off and on;
#   4. the wall-clock time of a 10k-sample FID through ganzoo's fid metric.
set -u
cd "$(dirname "$0")/.."
report="${1:-${OUT:-.}/gpu_check.md}"
name="$(python -c 'import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device")')"
# Dense bf16 peak in TFLOP/s, for the fraction-of-peak columns (H100 and H200 SXM: 989; A100: 312).
case "$name" in
  *H100*|*H200*) peak=989 ;;
  *A100*) peak=312 ;;
  *L40S*) peak=362 ;;
  *) peak=0 ;;
esac
peak_option=()
[ "$peak" != 0 ] && peak_option=(--peak-tflops "$peak")

section() {  # section TITLE SECONDS COMMAND...: run COMMAND under a time limit, its output fenced in the report
  local title="$1" limit="$2"; shift 2
  echo "## $title" >> "$report"
  echo '```' >> "$report"
  local start=$SECONDS
  timeout "$limit" "$@" >> "$report" 2>&1
  local status=$?
  echo '```' >> "$report"
  if [ "$status" = 124 ]; then
    echo "(cut at its ${limit} s limit)" >> "$report"
  elif [ "$status" != 0 ]; then
    echo "(exit status $status)" >> "$report"
  fi
  echo "($((SECONDS - start)) s)" >> "$report"
  echo >> "$report"
}

{
  echo "# ganzoo GPU check: $name"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(python -c 'import torch; print("torch", torch.__version__)')"
  echo
} > "$report"

section "CUDA tests" 100 python -m pytest -q -p no:cacheprovider tests/cuda
section "DCGAN against the classic loop, batch 256" 80 \
  python benchmarks/train_throughput.py --models dcgan:cifar10 --synthetic --device cuda --batch-size 256 \
    --steps 20 --rounds 3 --compile "${peak_option[@]}"
section "The zoo at its recipes' settings, batch 256, bf16, eager" 90 \
  python benchmarks/zoo_throughput.py --recipes dcgan-cifar10,sngan-cifar10,biggan-cifar10,stylegan2-cifar10 \
    --device cuda --batch-size 256 --precision bf16 --steps 5 --rounds 2 "${peak_option[@]}"
section "The zoo with --compile" 150 \
  python benchmarks/zoo_throughput.py --recipes dcgan-cifar10,sngan-cifar10,biggan-cifar10,stylegan2-cifar10 \
    --device cuda --batch-size 256 --precision bf16 --steps 5 --rounds 2 --compile "${peak_option[@]}"
section "FID of 10k samples (stand-in Inception-v3)" 60 \
  python benchmarks/fid_timing.py --device cuda --num-samples 10000

cat "$report"
