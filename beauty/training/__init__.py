"""Training and evaluation on SCUT-FBP5500: `data` (official splits, cached crops), `train`, `evaluate`, `metrics`."""
