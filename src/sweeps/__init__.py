"""Sweeps beyond one process: launcher defaults, folds and seeds as sweep axes, resumable Optuna searches."""
