#!/usr/bin/env bash
# 5-fold cross-validation: one model per official fold, then the summary table.
# Usage: tools/run_folds.sh [EPOCHS] [extra beauty.training.train args...]
# On 2 CPU cores a 4,400-image epoch takes ~4-6 minutes; on a GPU use the full 10 epochs.
set -euo pipefail
epochs=${1:-10}; shift || true
for k in 1 2 3 4 5; do
  [ -f "runs/fold$k/metrics.json" ] && { echo "fold $k done"; continue; }
  python -m beauty.training.train --fold "$k" --epochs "$epochs" --lr 5e-4 --out "runs/fold$k" "$@"
done
python -m beauty.training.evaluate --folds 'runs/fold{}/model.npz' --out artifacts/eval-folds
