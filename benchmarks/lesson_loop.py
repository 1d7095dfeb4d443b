"""The lesson's loop as the lesson runs it (../shared/seed/lesson.txt), for the benchmark only.

`python -m benchmarks.lesson_loop --experiment housing --epochs 310`. The same operations in the same order and
nothing more: randperm, index_select and split; zero_grad, backward, step and `float(loss)` per batch; the
validation loss batch by batch under no_grad, with no metrics and no logging; `deepcopy` of the weights on
improvement; the lesson's early-stopping test. Data and network are the lesson's (StandardScaler on the
0.2 / 0.25 splits with random_state=21, the experiment's ReLU stack and batch size; cancer ends in a sigmoid with binary
cross-entropy). This is the yardstick of `make bench`; src/reference/plain_loop.py is the teaching copy.
"""

from __future__ import annotations

import argparse
from copy import deepcopy
from itertools import pairwise

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn


def lesson_data(experiment: str):
    from sklearn.datasets import fetch_california_housing, load_breast_cancer

    data = fetch_california_housing() if experiment == "housing" else load_breast_cancer()
    x = torch.from_numpy(data.data).float()
    y = torch.from_numpy(data.target).float().unsqueeze(1)
    x_train, _x_test, y_train, _y_test = train_test_split(x, y, test_size=0.2, random_state=21)
    x_train, x_valid, y_train, y_valid = train_test_split(x_train, y_train, test_size=0.25, random_state=21)
    scaler = StandardScaler().fit(x_train.numpy())
    x_train = torch.from_numpy(scaler.transform(x_train.numpy())).float()
    x_valid = torch.from_numpy(scaler.transform(x_valid.numpy())).float()
    return x_train, y_train, x_valid, y_valid


# the experiments' settings (conf/experiment/*.yaml): hidden widths and batch size
SETTINGS = {"housing": ([3, 3, 3], 256), "cancer": ([25, 20, 15, 10, 5], 32)}


def lesson_model(experiment: str, n_features: int) -> nn.Module:
    widths = [n_features, *SETTINGS[experiment][0]]
    layers = [m for a, b in pairwise(widths) for m in (nn.Linear(a, b), nn.ReLU())]
    return nn.Sequential(*layers, nn.Linear(widths[-1], 1), *([nn.Sigmoid()] if experiment == "cancer" else []))


def run(experiment: str, n_epochs: int, early_stop: int = 100_000) -> None:
    batch_size = SETTINGS[experiment][1]
    x_train, y_train, x_valid, y_valid = lesson_data(experiment)
    model = lesson_model(experiment, x_train.size(-1))
    loss_fn = F.mse_loss if experiment == "housing" else F.binary_cross_entropy
    optimizer = torch.optim.Adam(model.parameters())
    train_history, valid_history = [], []
    best_model, lowest_loss, lowest_epoch = None, np.inf, np.inf

    for i in range(n_epochs):
        indices = torch.randperm(x_train.size(0))
        x_ = torch.index_select(x_train, index=indices, dim=0)
        y_ = torch.index_select(y_train, index=indices, dim=0)
        x_ = x_.split(batch_size, dim=0)
        y_ = y_.split(batch_size, dim=0)
        train_loss, valid_loss = 0, 0
        y_pred_list = []

        for x_i, y_i in zip(x_, y_):
            y_i_pred = model(x_i)
            loss = loss_fn(y_i_pred, y_i)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            train_loss += float(loss)
        train_loss = train_loss / len(x_)

        with torch.no_grad():
            x_ = x_valid.split(batch_size, dim=0)
            y_ = y_valid.split(batch_size, dim=0)
            for x_i, y_i in zip(x_, y_):
                y_i_pred = model(x_i)
                loss = loss_fn(y_i_pred, y_i)
                valid_loss += float(loss)
                y_pred_list.append(y_i_pred)
            valid_loss = valid_loss / len(x_)
            train_history.append(train_loss)
            valid_history.append(valid_loss)
            if valid_loss <= lowest_loss:
                lowest_loss = valid_loss
                lowest_epoch = i + 1
                best_model = deepcopy(model.state_dict())
            elif (early_stop > 0) and (lowest_epoch + early_stop) < i + 1:
                break
    model.load_state_dict(best_model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", choices=("housing", "cancer"), default="housing")
    parser.add_argument("--epochs", type=int, default=310)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    run(args.experiment, args.epochs)


if __name__ == "__main__":
    main()
