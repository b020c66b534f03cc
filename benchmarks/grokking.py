"""Grokking: training steps per second against PyTorch (CPU), for the MLP and the transformer.

Same models, same initial weights and split, same optimiser (AdamW, betas (0.9, 0.98),
decoupled weight decay 1), float32, full batch:

- the default MLP (p = 97, width 256, train fraction 0.3): ours on 2 threads (the batch in two
  lanes) and on 1, PyTorch on 1 and 2 intra-op threads, numpy;
- the small transformer (``TRANSFORMER_SETTINGS``: p = 59, d_model 64, 1 layer) and Nanda's
  (p = 113, d_model 128, MLP 512): ours against PyTorch written the usual way (every position
  of every block, ``scaled_dot_product_attention``).

Every side of a row is measured in the same run, alternating, best of three, so the ratios
survive a busy machine; the 1-minute load average is recorded. Also: the loss of the first
steps against PyTorch, and the wall time of the full default run.

    python benchmarks/grokking.py            (a few minutes)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import Report, best_time
from explorer._jit import blas_threads
from explorer.grokking import (DEFAULT_STEPS, NANDA_SETTINGS, TRANSFORMER_SETTINGS,
                               TrainConfig, train)

MLP = dict(p=97, width=256, train_fraction=0.3, lr=1e-3, weight_decay=1.0, seed=0)
BETAS, EPS = (0.9, 0.98), 1e-8
TRANSFORMER_KEYS = ("model", "p", "width", "heads", "d_mlp", "train_fraction", "lr",
                    "weight_decay")


def problem(settings):
    config = TrainConfig(**settings)
    task = config.make_task()
    return config.init_params(task.p), task.split("train")


def ours_rate(settings, steps: int, threads: int) -> float:
    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        train(**settings, steps=2, eval_every=2)  # load the compiled kernels
        return steps / best_time(lambda: train(**settings, steps=steps, eval_every=steps))
    finally:
        numba.set_num_threads(previous)


def torch_mlp(settings):
    import torch

    params, (a, b, labels) = problem(settings)
    U, V, W = (torch.nn.Parameter(torch.from_numpy(x.copy())) for x in (params.U, params.V, params.W))
    a, b, labels = (torch.from_numpy(x) for x in (a, b, labels))
    optimiser = torch.optim.AdamW([U, V, W], lr=settings["lr"], betas=BETAS, eps=EPS,
                                  weight_decay=settings["weight_decay"])

    def loss():
        return torch.nn.functional.cross_entropy(((U[a] + V[b]) ** 2) @ W.T, labels)

    return _torch_steps(optimiser, loss)


def torch_transformer(settings):
    """Nanda's transformer in PyTorch as one would write it: every position, every block."""
    import torch

    params, (a, b, labels) = problem(settings)
    names = ("embed", "pos", "qkv", "out", "w_in", "b_in", "w_out", "b_out", "unembed")
    weights = {n: torch.nn.Parameter(torch.from_numpy(getattr(params, n).copy())) for n in names}
    tokens = torch.from_numpy(np.stack([a, b, np.full_like(a, params.p)], axis=1))
    target = torch.from_numpy(labels)
    d, heads = params.d_model, params.heads
    optimiser = torch.optim.AdamW(list(weights.values()), lr=settings["lr"], betas=BETAS, eps=EPS,
                                  weight_decay=settings["weight_decay"])

    def loss():
        x = weights["embed"][tokens] + weights["pos"]
        n = x.shape[0]
        for layer in range(params.layers):
            q, k, v = (part.reshape(n, 3, heads, d // heads).transpose(1, 2)
                       for part in (x @ weights["qkv"][layer]).split(d, dim=-1))
            mixed = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + mixed.transpose(1, 2).reshape(n, 3, d) @ weights["out"][layer]
            hidden = torch.relu(x @ weights["w_in"][layer] + weights["b_in"][layer])
            x = x + hidden @ weights["w_out"][layer] + weights["b_out"][layer]
        return torch.nn.functional.cross_entropy(x[:, -1] @ weights["unembed"], target)

    return _torch_steps(optimiser, loss)


def _torch_steps(optimiser, loss_function):
    def steps(count):
        losses = []
        for _ in range(count):
            optimiser.zero_grad(set_to_none=False)
            loss = loss_function()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        return losses

    return steps


def numpy_mlp(settings):
    """The MLP step in plain numpy (float32): BLAS products, np.add.at for the gathers."""
    params, (a, b, labels) = problem(settings)
    theta = params.stacked()
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    n = len(labels)
    lr, decay = settings["lr"], settings["weight_decay"]
    state = {"t": 0}

    def steps(count):
        nonlocal theta, m, v
        for _ in range(count):
            U, V, W = theta
            pre = U[a] + V[b]
            h = pre * pre
            logits = h @ W.T
            logits -= logits.max(axis=1, keepdims=True)
            probabilities = np.exp(logits)
            probabilities /= probabilities.sum(axis=1, keepdims=True)
            probabilities[np.arange(n), labels] -= 1
            dlogits = probabilities / n
            grad = np.empty_like(theta)
            grad[2] = dlogits.T @ h
            dpre = 2 * pre * (dlogits @ W)
            grad[:2] = 0
            np.add.at(grad[0], a, dpre)
            np.add.at(grad[1], b, dpre)
            state["t"] += 1
            t = state["t"]
            theta = theta * (1 - lr * decay)
            m = BETAS[0] * m + (1 - BETAS[0]) * grad
            v = BETAS[1] * v + (1 - BETAS[1]) * grad * grad
            theta = theta - lr * (m / (1 - BETAS[0]**t)) / (np.sqrt(v / (1 - BETAS[1]**t)) + EPS)

    return steps


def torch_rate(make, settings, steps: int, threads: int) -> float:
    import torch

    torch.set_num_threads(threads)
    with blas_threads(threads):
        run = make(settings)
        run(2)
        return steps / best_time(lambda: run(steps))


def compare(report, case, settings, make_torch, steps):
    """Ours (2 and 1 threads) against PyTorch (1 and 2 threads), measured in turn."""
    ours = {threads: ours_rate(settings, steps, threads) for threads in (2, 1)}
    theirs = {threads: torch_rate(make_torch, settings, steps, threads) for threads in (1, 2)}
    for threads, rate in theirs.items():
        report.add(f"{case}: ours 2 thr. vs torch {threads} thr.", ours[2], "torch 2.13 CPU",
                   rate, unit="/s", higher_is_better=True)
    report.add(f"{case}: ours 2 threads vs ours 1", ours[2], "ours, 1 thread", ours[1],
               unit="/s", higher_is_better=True)
    ours_losses = train(**settings, steps=5, eval_every=1).history.train_loss[:5]
    torch_losses = np.array(make_torch(settings)(5))
    report.notes[f"{case}: max relative loss difference vs torch, 5 steps"] = float(
        np.max(np.abs(torch_losses - ours_losses) / np.abs(torch_losses)))
    return ours


def main() -> None:
    import torch

    report = Report("grokking")
    report.notes["machine load (1-min average) at start"] = round(os.getloadavg()[0], 2)
    report.notes["torch version"] = torch.__version__
    compare(report, "MLP p=97 w256", MLP, torch_mlp, 200)
    numpy_rate = torch_rate(numpy_mlp, MLP, 20, 1)
    report.add("MLP p=97 w256: ours 2 thr. vs numpy 1 thr.", ours_rate(MLP, 200, 2), "numpy",
               numpy_rate, unit="/s", higher_is_better=True)
    small = {k: TRANSFORMER_SETTINGS[k] for k in TRANSFORMER_KEYS}
    compare(report, "transformer p=59 d64", small, torch_transformer, 100)
    nanda = {k: NANDA_SETTINGS[k] for k in TRANSFORMER_KEYS}
    compare(report, "transformer p=113 d128 (Nanda)", nanda, torch_transformer, 20)

    start = time.perf_counter()
    run = train(**MLP)
    report.add(f"full default MLP run ({DEFAULT_STEPS} steps, eval every 10), wall",
               time.perf_counter() - start, "n/a", None)
    report.notes["full run: steps/s incl. evaluation"] = round(run.steps_per_second, 1)
    report.notes["full run: steps to 99% train / 95% test"] = (run.steps_to("train_acc", 0.99),
                                                               run.steps_to("test_acc", 0.95))
    report.notes["machine load (1-min average) at end"] = round(os.getloadavg()[0], 2)
    report.print_and_save()


if __name__ == "__main__":
    main()
