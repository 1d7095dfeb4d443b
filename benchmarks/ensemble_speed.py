"""What k members cost: milliseconds per training epoch of TabM with k = 32 against one MLP of the same width.

`python -m benchmarks.ensemble_speed [--k 32] [--d-block 128]` (and `time_ensemble_epochs`, which
benchmarks/bench.py can call). TabM's k members see the same mini-batch: the batch goes through the shared
numeric embeddings once, then as k copies through MLP layers whose weights the members share (tabm-mini: all but
a per-member scaling of the input), so one epoch of k = 32 costs far less than 32 epochs of one MLP.

Both models train on rows of the lesson's housing size (12384 training rows, 8 features, batch 256) with the same
piecewise-linear embeddings, AdamW and MSE; the rows are random (the cost does not depend on their values).
The two take turns epoch by epoch so both see the same machine state; wall and process CPU time are reported.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from src.models.nets.mlp import MLP
from src.models.nets.tabm import TabM, numeric_embeddings

TRAIN_ROWS, N_FEATURES, BATCH_SIZE = 12384, 8, 256  # the lesson's housing training split and batch size


class EmbeddedMLP(nn.Module):
    """One MLP with TabM's blocks (Linear, ReLU, Dropout: the project's MLP, with the same CheapDropout) behind
    the same numeric embeddings: the k = 1 reference, differing from TabM only in the members."""

    def __init__(self, bins: list[list[float]], d_block: int, n_blocks: int, d_embedding: int = 16, dropout: float = 0.1):
        super().__init__()
        self.embeddings = numeric_embeddings("piecewise_linear", len(bins), d_embedding, bins)
        self.mlp = MLP(len(bins) * d_embedding, hidden=[d_block] * n_blocks, dropout=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.embeddings(x).flatten(1))


def train_one_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> None:
    model.train()
    for index in torch.randperm(len(x)).split(BATCH_SIZE):
        out = model(x[index])
        # TabM: (batch, k, 1), the mean of the member losses; the MLP: (batch, 1)
        target = y[index].unsqueeze(1) if out.ndim == 3 else y[index]
        loss = ((out - target) ** 2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def time_ensemble_epochs(
    k: int = 32, d_block: int = 128, n_blocks: int = 2, epochs: int = 4, seed: int = 0, rows: int = TRAIN_ROWS
) -> dict:
    """Median (wall, cpu) ms per epoch of TabM with k members and of one MLP of the same width, taking turns.
    The first epoch of each is a warm-up and not timed."""
    torch.manual_seed(seed)
    x, y = torch.randn(rows, N_FEATURES), torch.randn(rows, 1)
    bins = TabM.fit_to_training_rows(x, {"n_bins": 48})["bins"]
    models = {
        "mlp": EmbeddedMLP(bins, d_block, n_blocks),
        f"tabm_k{k}": TabM(N_FEATURES, [], 1, k=k, d_block=d_block, n_blocks=n_blocks, bins=bins),
    }
    optimizers = {name: torch.optim.AdamW(m.parameters(), lr=2e-3, weight_decay=3e-4) for name, m in models.items()}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in models}
    for epoch in range(epochs + 1):
        for name, model in models.items():
            wall, cpu = time.perf_counter(), time.process_time()
            train_one_epoch(model, optimizers[name], x, y)
            if epoch > 0:
                times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    result = {
        name: {"wall_ms": 1000 * statistics.median(t[0] for t in ts), "cpu_ms": 1000 * statistics.median(t[1] for t in ts)}
        for name, ts in times.items()
    }
    mlp, tabm = result["mlp"]["cpu_ms"], result[f"tabm_k{k}"]["cpu_ms"]
    result["settings"] = {
        "k": k,
        "d_block": d_block,
        "n_blocks": n_blocks,
        "rows": rows,
        "batch_size": BATCH_SIZE,
        "epochs_timed": epochs,
        "torch_threads": torch.get_num_threads(),
    }
    result["tabm_over_mlp_cpu"] = tabm / mlp  # what k members cost in epochs of one MLP (k separate MLPs: k)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--d-block", type=int, default=128)
    parser.add_argument("--n-blocks", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result = time_ensemble_epochs(args.k, args.d_block, args.n_blocks, args.epochs)
    print(
        f"ms per training epoch, housing-sized rows, d_block={args.d_block}, n_blocks={args.n_blocks}, {args.threads} thread(s)"
    )
    for name in ("mlp", f"tabm_k{args.k}"):
        print(f"  {name:>10}: {result[name]['wall_ms']:8.1f} wall  {result[name]['cpu_ms']:8.1f} cpu")
    print(f"  TabM's {args.k} members cost {result['tabm_over_mlp_cpu']:.1f} MLP epochs (CPU time), not {args.k}")


if __name__ == "__main__":
    main()
