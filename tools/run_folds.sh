#!/usr/bin/env bash
# 5-fold cross-validation of the shipped two-stage recipe: one model per official fold, then the table.
#   stage 1: 10 epochs from ImageNet, lr 5e-4
#   stage 2: 3 epochs from stage 1, lr 1e-4, camera-like augmentation and a MEBeauty-dev train head
# Usage: tools/run_folds.sh [FOLDS...]   (default: 1 2 3 4 5; MEBEAUTY_DIR, default ../shared/MEBeauty-dev)
# Resumable: a finished stage is skipped, an interrupted one resumes from its checkpoint. On 2 CPU cores
# one fold takes about 75 minutes (a 4,400-image epoch ~4-5 minutes, a stage-2 epoch ~6); on a GPU, minutes.
set -euo pipefail
meb=${MEBEAUTY_DIR:-../shared/MEBeauty-dev}
folds=${*:-1 2 3 4 5}
for k in $folds; do
  [ -f "runs/fold$k/stage1/model.npz" ] ||
    python -m beauty.training.train --fold "$k" --epochs 10 --lr 5e-4 --out "runs/fold$k/stage1" --resume
  [ -f "runs/fold$k/stage2/model.npz" ] ||
    python -m beauty.training.train --fold "$k" --epochs 3 --lr 1e-4 --init "runs/fold$k/stage1/model.npz" \
      --capture-aug --mebeauty "$meb" --out "runs/fold$k/stage2" --resume
done
python -m beauty.training.evaluate --folds 'runs/fold{}/stage2/model.npz' --out artifacts/eval-folds
