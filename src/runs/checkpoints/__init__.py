"""Checkpoint files: how they are written (write.py), when last.ckpt is taken (latest.py), and how they are read
back, for resuming, eval and predict (read.py)."""
