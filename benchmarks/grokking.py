"""Grokking: training steps per second of the default run, against PyTorch (CPU) and numpy.

Same model (``h = (U[a] + V[b])^2``, ``logits = h W^T``), same initial weights and split
(p = 97, width 256, train fraction 0.3, full batch), same optimiser (AdamW, lr 1e-3, betas
(0.9, 0.98), decoupled weight decay 1.0), float32. Every side uses the same number of BLAS /
intra-op threads; each thread count is measured separately, because on a busy machine a
multi-threaded BLAS can lose badly to a single thread. Also: the wall time of the full
default run (``python -m explorer grokking``'s training).

    python benchmarks/grokking.py            (about two minutes)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import Report, best_time  # noqa: E402
from explorer._jit import blas_threads  # noqa: E402
from explorer.grokking import DEFAULT_STEPS, init_params, make_task, train  # noqa: E402

SETTINGS = dict(p=97, width=256, train_fraction=0.3, lr=1e-3, weight_decay=1.0, seed=0)
BETAS, EPS = (0.9, 0.98), 1e-8
STEPS = 200  # per timed trial


def problem():
    params = init_params(SETTINGS["p"], SETTINGS["width"], SETTINGS["seed"])
    a, b, labels = make_task(SETTINGS["p"], "add", SETTINGS["train_fraction"], SETTINGS["seed"]).split("train")
    return params, a, b, labels


def ours_steps_per_second() -> float:
    train(**SETTINGS, steps=2, eval_every=2)  # load the compiled kernels
    seconds = best_time(lambda: train(**SETTINGS, steps=STEPS, eval_every=STEPS))
    return STEPS / seconds


def torch_trainer(threads: int):
    import torch

    torch.set_num_threads(threads)
    params, a, b, labels = problem()
    U, V, W = (torch.nn.Parameter(torch.from_numpy(x.copy())) for x in (params.U, params.V, params.W))
    a, b, labels = (torch.from_numpy(x) for x in (a, b, labels))
    optimiser = torch.optim.AdamW([U, V, W], lr=SETTINGS["lr"], betas=BETAS, eps=EPS,
                                  weight_decay=SETTINGS["weight_decay"])

    def steps(count):
        losses = []
        for _ in range(count):
            optimiser.zero_grad(set_to_none=False)
            loss = torch.nn.functional.cross_entropy(((U[a] + V[b]) ** 2) @ W.T, labels)
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        return losses

    return steps


def numpy_trainer():
    """The same step in plain numpy (float32): BLAS products, np.add.at for the gathers."""
    params, a, b, labels = problem()
    theta = params.stacked()
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    n = len(labels)
    lr, decay = SETTINGS["lr"], SETTINGS["weight_decay"]
    state = {"t": 0}

    def steps(count):
        nonlocal theta, m, v
        losses = []
        for _ in range(count):
            U, V, W = theta
            pre = U[a] + V[b]
            h = pre * pre
            logits = h @ W.T
            logits -= logits.max(axis=1, keepdims=True)
            probabilities = np.exp(logits)
            probabilities /= probabilities.sum(axis=1, keepdims=True)
            losses.append(float(-np.log(probabilities[np.arange(n), labels]).mean()))
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
        return losses

    return steps


def main() -> None:
    report = Report("grokking")
    ours_losses = train(**SETTINGS, steps=5, eval_every=1).history.train_loss[:5]
    report.notes["machine load (1-min average) at start"] = round(os.getloadavg()[0], 2)
    ours = ours_steps_per_second()  # training always holds BLAS to one thread
    for threads in (1, 2):
        with blas_threads(threads):
            torch_steps = torch_trainer(threads)
            torch_steps(3)
            torch_rate = STEPS / best_time(lambda: torch_steps(STEPS))
            numpy_steps = numpy_trainer()
            numpy_steps(2)
            numpy_rate = 20 / best_time(lambda: numpy_steps(20))
        case = f"train steps/s (ours 1 thread; ref. {threads})"
        report.add(case, ours, "torch 2.13 CPU", torch_rate, unit="/s", higher_is_better=True)
        report.add(case, ours, "numpy", numpy_rate, unit="/s", higher_is_better=True)
    torch_losses = np.array(torch_trainer(1)(5))
    report.notes["max |loss difference| vs torch over 5 steps"] = float(np.abs(torch_losses - ours_losses).max())

    start = time.perf_counter()
    run = train(**SETTINGS)
    seconds = time.perf_counter() - start
    report.add(f"full default run ({DEFAULT_STEPS} steps, eval every 10), wall", seconds, "n/a", None)
    report.notes["full run: steps/s incl. evaluation"] = round(run.steps_per_second, 1)
    report.notes["full run: steps to 99% train / 95% test"] = (run.steps_to("train_acc", 0.99),
                                                               run.steps_to("test_acc", 0.95))
    report.notes["machine load (1-min average) at end"] = round(os.getloadavg()[0], 2)
    report.print_and_save()


if __name__ == "__main__":
    main()
