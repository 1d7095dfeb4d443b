"""This project's Hydra sweepers (Hydra only loads sweeper classes from the hydra_plugins package); the work is in src/sweeps/."""
