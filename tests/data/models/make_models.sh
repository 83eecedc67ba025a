#!/usr/bin/env bash
# Regenerate the shipped score models of tests/data/models (README.md there): four small
# networks for the 2D blob and two for the 2D checkerboard under VP (T = 1), trained by
# denoising score matching with and without a Fokker-Planck residual penalty, then print
# the residual comparison.
# Deterministic given the seeds (one thread, float64); about 15 minutes on one core.
#
#   bash tests/data/models/make_models.sh            (from anywhere)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$root"
export OMP_NUM_THREADS=1
python=/usr/bin/python3
out=tests/data/models
common=(--process VP --iterations 2000 --batch 512 --lr 2e-3 --lr-final 1e-4 --seed 1
        --print-every 500)

train() {
  local name="$1" data="$2"
  shift 2
  echo "== $name"
  local start=$SECONDS
  "$python" postprocess/train_score.py --data "$data" "${common[@]}" "$@" --out "$out/$name"
  echo "   ($((SECONDS - start)) s wall clock)"
}

train blob-vp-direct.pt blob --model direct
train blob-vp-direct-fp.pt blob --model direct --score-penalty 0.02 --penalty-batch 64 \
  --penalty-every 2
train blob-vp-potential.pt blob --model potential
train blob-vp-potential-fp.pt blob --model potential --log-penalty 0.002 --penalty-batch 64 \
  --penalty-every 2
train checkerboard-vp-direct.pt checkerboard --model direct
train checkerboard-vp-direct-fp.pt checkerboard --model direct --score-penalty 0.02 \
  --penalty-batch 64 --penalty-every 2

echo "== the score-form residual with and without the penalty"
"$python" postprocess/scorefp_torch.py residual --times 0.1,0.3,0.6,1.0 --samples 2000 --seed 0 \
  "$out/blob-vp-direct.pt" "$out/blob-vp-direct-fp.pt" \
  "$out/blob-vp-potential.pt" "$out/blob-vp-potential-fp.pt" \
  "$out/checkerboard-vp-direct.pt" "$out/checkerboard-vp-direct-fp.pt"
