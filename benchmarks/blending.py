"""Blending: training and sampling against PyTorch (CPU), the exact deblender against numpy.

Every comparison runs both sides in the same process, alternating short trials (ours, then
the reference, then ours ...), and reports the median of the per-pair ratios: on a shared
machine the load changes from second to second, and a ratio of interleaved trials survives
that much better than two separate best times.

- Training, 2D: the tutorial's deblender (MLP 3 -> 64x4 -> 2, ReLU), batch 256, Adam lr 1e-3,
  float32, random minibatches drawn every step on both sides.
- Training, digits: the class-conditional deblender of 8 x 8 digits, MLP 76 -> 256x3 -> 64
  (64 pixels + alpha + 11 one-hot class slots in; the class embedding is the one-hot rows of
  the first layer), batch 256, Adam lr 1e-3, float32; torch builds the same inputs.
- Sampling: 10,000 2D points x 128 Euler steps, and 1,000 digits x 64 Euler steps, with those
  networks (ours: the fused parallel sampler).
- Exact deblender: 10,000 2D queries x 2,000 targets, and 1,000 digits x 898 training images
  (64 dimensions), against numpy broadcasting in chunks.

Torch and ours get the same number of threads (1, then 2), in training and in sampling. For
each training case the notes give both steps' matrix rates (GFLOP/s, from ``step_flops``)
beside torch's own float32 matmul of 1024 x 1024 matrices at the same thread count, the
cores' practical peak: a step runs its products and then Adam and the activations, so its
rate stays below that peak, and the ratio to torch that any step can reach is at most the
peak over torch's step rate.

    python benchmarks/blending.py            (a few minutes on a busy machine)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import Report, best_time
from explorer._jit import set_num_threads
from explorer.blending import (ExactDeblender, TwoMoons, image_dataset, init_mlp, sample,
                               train_deblender)

TRIALS = 7  # interleaved pairs per comparison


def interleaved(ours, reference, trials: int = TRIALS) -> tuple[float, float, float]:
    """(median seconds of ours, of the reference, median of the per-pair ratios ref / ours)."""
    ours(), reference()  # warm both
    mine, theirs = [], []
    for _ in range(trials):
        for function, times in ((ours, mine), (reference, theirs)):
            start = time.perf_counter()
            function()
            times.append(time.perf_counter() - start)
    ratios = np.array(theirs) / np.array(mine)
    return float(np.median(mine)), float(np.median(theirs)), float(np.median(ratios))


# -- torch side --------------------------------------------------------------------------------
def torch_network(network):
    """A torch Sequential with the weights of our MLP (Linear stores W transposed)."""
    import torch

    layers = []
    pairs = network.layers()
    for index, (weights, bias) in enumerate(pairs):
        linear = torch.nn.Linear(*weights.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(weights.T)))
            linear.bias.copy_(torch.from_numpy(np.array(bias)))
        layers.append(linear)
        if index < len(pairs) - 1:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def torch_trainer(network, points, labels, batch: int):
    """Steps of the same model, loss and Adam in torch, minibatches drawn in torch."""
    import torch

    torch.manual_seed(0)
    model = torch_network(network)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = torch.from_numpy(np.array(points, dtype=np.float32))
    classes = None if labels is None else torch.from_numpy(np.array(labels))
    slots = network.classes + 1

    def steps(count):
        for _ in range(count):
            pick = torch.randint(0, data.shape[0], (batch,))
            x1 = data[pick]
            x0 = torch.randn(batch, data.shape[1])
            alpha = torch.rand(batch, 1)
            parts = [(1 - alpha) * x0 + alpha * x1, alpha]
            if classes is not None:
                parts.append(torch.nn.functional.one_hot(classes[pick], slots).float())
            loss = ((model(torch.cat(parts, dim=1)) - (x1 - x0)) ** 2).sum(dim=1).mean()
            optimiser.zero_grad(set_to_none=False)
            loss.backward()
            optimiser.step()

    return steps


def torch_euler(network, x0, T: int, labels=None):
    import torch

    model = torch_network(network)
    start = torch.from_numpy(x0.astype(np.float32))
    onehot = None if labels is None else torch.nn.functional.one_hot(
        torch.from_numpy(labels), network.classes + 1).float()

    def run():
        with torch.no_grad():
            x = start.clone()
            for t in range(T):
                parts = [x, torch.full((x.shape[0], 1), t / T)]
                if onehot is not None:
                    parts.append(onehot)
                x += model(torch.cat(parts, 1)) / T
        return x

    return run


def loss_agreement(steps: int = 5) -> float:
    """Max |loss difference| over the first steps, torch fed our exact minibatches."""
    import torch

    points = TwoMoons().sample(500, seed=0)
    ours = train_deblender(points, steps=steps, seed=3).loss_history
    rng = np.random.default_rng(3)  # replay train_deblender's draws: one chunk of all steps
    model = torch_network(init_mlp(64, 4, "relu", rng))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    sources = rng.standard_normal((steps * 256, 2), dtype=np.float32).reshape(steps, 256, 2)
    targets = points[rng.integers(0, len(points), steps * 256)].astype(np.float32).reshape(steps, 256, 2)
    alphas = rng.random(steps * 256, dtype=np.float32).reshape(steps, 256)
    differences = []
    for t in range(steps):
        source, target = torch.from_numpy(sources[t]), torch.from_numpy(targets[t])
        a = torch.from_numpy(alphas[t])[:, None]
        loss = ((model(torch.cat([(1 - a) * source + a * target, a], 1)) - (target - source)) ** 2).sum(1).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        differences.append(abs(loss.item() - ours[t]))
    return max(differences)


def numpy_exact_velocity(x, alpha, targets, chunk=250):
    """The exact deblender (standard Gaussian source) with numpy broadcasting, by chunks."""
    velocity = np.empty_like(x)
    for start in range(0, len(x), chunk):
        a = alpha[start:start + chunk, None]
        keep = 1 - a
        part = x[start:start + chunk]
        squares = ((part[:, None, :] - a[:, :, None] * targets[None]) ** 2).sum(axis=2)
        logits = -0.5 * (squares - squares.min(axis=1, keepdims=True)) / keep**2
        weights = np.exp(logits)
        xbar1 = (weights @ targets) / weights.sum(axis=1, keepdims=True)
        velocity[start:start + chunk] = (xbar1 - part) / keep
    return velocity


# -- the cases ---------------------------------------------------------------------------------
def step_flops(network, batch: int) -> float:
    """Matrix flops of one training step: the forward product and the weight gradient of
    every layer, and the gradient of every layer's input but the network's own."""
    products = [weights.size for weights, _ in network.layers()]
    return 2.0 * batch * (2 * sum(products) + sum(products[1:]))


def sgemm_gflops(n: int = 1024) -> float:
    """torch's float32 matmul rate (GFLOP/s) on n x n matrices with torch's current thread
    count: the practical peak of those cores, which no training step's products can beat."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    return 2 * n**3 / best_time(lambda: torch.mm(a, b), repeat=7) / 1e9


def training_rows(report: Report, name: str, network, points, labels, steps: int) -> None:
    import torch

    def ours():
        train_deblender(points, labels=labels, steps=steps, batch=256, network=network,
                        report_every=steps)

    flops = step_flops(network, 256)
    for threads in (1, 2):
        set_num_threads(threads)
        torch.set_num_threads(threads)
        reference = torch_trainer(network, points, labels, 256)
        mine, theirs, ratio = interleaved(ours, lambda reference=reference: reference(steps))
        report.add(f"train steps/s, {name}, {threads} thread(s)", steps / mine, "torch 2.13 CPU",
                   steps / theirs, unit="/s", higher_is_better=True)
        report.notes[f"train {name}, {threads} thr: median ratio of interleaved trials"] = round(ratio, 2)
        # the ceiling: a step's products cannot run faster than torch's own matmul
        report.notes[f"train {name}, {threads} thr: GFLOP/s of ours / torch's step / torch's "
                     f"sgemm"] = [round(flops * steps / seconds / 1e9, 1) for seconds in
                                  (mine, theirs)] + [round(sgemm_gflops(), 1)]


def sampling_rows(report: Report, name: str, network, x0, T: int, labels=None) -> None:
    import torch

    for threads in (1, 2):
        set_num_threads(threads)
        torch.set_num_threads(threads)
        mine, theirs, ratio = interleaved(lambda: sample(network, x0, T, labels=labels),
                                          torch_euler(network, x0, T, labels))
        report.add(f"sample {name}, {threads} thread(s)", mine, "torch 2.13 CPU", theirs)
        report.notes[f"sample {name}, {threads} thr: median ratio of interleaved trials"] = round(ratio, 2)
    set_num_threads(None)


def exact_rows(report: Report, name: str, targets, x, alpha, labels=None) -> None:
    exact = ExactDeblender(targets)
    mine, theirs, ratio = interleaved(lambda: exact(x, alpha),
                                      lambda: numpy_exact_velocity(x, alpha, targets), trials=3)
    report.add(f"exact deblender, {name}", mine, "numpy (chunked)", theirs)
    difference = np.abs(exact(x, alpha) - numpy_exact_velocity(x, alpha, targets)).max()
    report.notes[f"exact {name}: max |ours - numpy|"] = float(difference)


def main() -> None:
    import torch

    report = Report("blending")
    report.notes["machine load (1-min average) at start"] = round(os.getloadavg()[0], 2)
    report.notes["max |loss difference| vs torch over 5 steps (float32)"] = loss_agreement()
    digits = image_dataset("digits")
    train, _ = digits.split(0.5, seed=0)
    moons = TwoMoons().sample(10_000, seed=0)

    training_rows(report, "2D 3->64x4->2, batch 256", init_mlp(64, 4, seed=0), moons, None, 300)
    training_rows(report, "digits 76->256x3->64 conditional, batch 256",
                  init_mlp(256, 3, seed=0, dim=64, classes=10), train.points, train.labels, 30)
    rng = np.random.default_rng(1)
    sampling_rows(report, "10,000 2D pts x 128 Euler", init_mlp(64, 4, seed=0),
                  rng.standard_normal((10_000, 2)), 128)
    sampling_rows(report, "1,000 digits x 64 Euler", init_mlp(256, 3, seed=0, dim=64, classes=10),
                  rng.standard_normal((1000, 64)), 64, np.arange(1000) % 10)
    torch.set_num_threads(1)
    set_num_threads(None)
    exact_rows(report, "2D, 10,000 queries x 2,000 targets", TwoMoons().sample(2000, seed=3),
               rng.standard_normal((10_000, 2)), rng.random(10_000))
    exact_rows(report, "digits, 1,000 queries x 898 images (d = 64)", train.points,
               rng.standard_normal((1000, 64)), rng.random(1000))
    report.notes["machine load (1-min average) at end"] = round(os.getloadavg()[0], 2)
    report.print_and_save()


if __name__ == "__main__":
    main()
