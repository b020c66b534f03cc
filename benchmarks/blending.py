"""Blending: training steps/s and sampling time against PyTorch (CPU), the exact deblender
against a vectorised numpy version.

- Training: the default deblender network (MLP 3 -> 64x4 -> 2, ReLU), batch 256, Adam lr 1e-3,
  float32 on both sides, random minibatches drawn every step on both sides. Ours trains on
  one thread (the whole step is one compiled kernel); torch gets 1 and then 2 intra-op
  threads. Smaller networks show where PyTorch's per-operation overhead dominates. Useful
  GFLOP/s of both, beside a one-thread float32 matrix product, show how close each comes to
  what one core can do.
- Sampling: 10,000 points x 128 Euler steps with that network (ours: parallel over points).
- Exact deblender: D(x, alpha) for 10,000 queries against 2,000 targets (ours: parallel over
  queries; numpy: broadcasting in chunks of 250 queries, which is its fastest setting here).

    python benchmarks/blending.py            (about a minute)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import Report, best_time  # noqa: E402
from explorer._jit import set_num_threads  # noqa: E402
from explorer.blending import ExactDeblender, TwoMoons, init_mlp, sample, train_deblender  # noqa: E402

STEPS = 1000  # training steps per timed trial
NETWORKS = [(64, 4, 256), (32, 2, 64)]  # (width, depth, batch); the first is the default


def training_points() -> np.ndarray:
    return TwoMoons().sample(10_000, seed=0)


def ours_steps_per_second(width: int, depth: int, batch: int) -> float:
    points = training_points()
    train_deblender(points, steps=2, batch=batch, width=width, depth=depth)  # load the kernels
    seconds = best_time(lambda: train_deblender(points, steps=STEPS, batch=batch, width=width,
                                                depth=depth, report_every=STEPS))
    return STEPS / seconds


def training_flops(width: int, depth: int, batch: int) -> float:
    """Multiply-adds x 2 of one step: the forward pass, then weight and input gradients."""
    forward = 3 * width + (depth - 1) * width * width + 2 * width
    return 2.0 * batch * (forward + forward + forward - 3 * width)


def sgemm_one_thread_gflops() -> float:
    """float32 matrix product on one thread: the attainable ceiling of one core."""
    from threadpoolctl import threadpool_limits

    a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    with threadpool_limits(1):
        return 2 * 2048**3 / best_time(lambda: a @ a) / 1e9


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


def torch_trainer(width: int, depth: int, batch: int, threads: int):
    """Steps of the same model and loss with torch.optim.Adam, minibatches drawn in torch."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = torch_network(init_mlp(width, depth, seed=0))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    points = torch.from_numpy(training_points().astype(np.float32))

    def steps(count):
        for _ in range(count):
            x1 = points[torch.randint(0, points.shape[0], (batch,))]
            x0 = torch.randn(batch, 2)
            alpha = torch.rand(batch, 1)
            prediction = model(torch.cat([(1 - alpha) * x0 + alpha * x1, alpha], dim=1))
            loss = ((prediction - (x1 - x0)) ** 2).sum(dim=1).mean()
            optimiser.zero_grad(set_to_none=False)
            loss.backward()
            optimiser.step()

    return steps


def loss_agreement(steps: int = 5) -> float:
    """Max |loss difference| over the first steps, torch fed our exact minibatches."""
    import torch

    points = training_points()[:500]
    ours = train_deblender(points, steps=steps, seed=3).loss_history
    rng = np.random.default_rng(3)  # replay train_deblender's draws
    model = torch_network(init_mlp(64, 4, "relu", rng))
    x0 = rng.standard_normal((steps * 256, 2)).reshape(steps, 256, 2).astype(np.float32)
    x1 = points[rng.integers(0, len(points), steps * 256)].reshape(steps, 256, 2).astype(np.float32)
    alpha = rng.random((steps, 256)).astype(np.float32)[..., None]
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    differences = []
    for t in range(steps):
        a, source, target = (torch.from_numpy(v[t]) for v in (alpha, x0, x1))
        loss = ((model(torch.cat([(1 - a) * source + a * target, a], 1)) - (target - source)) ** 2).sum(1).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        differences.append(abs(loss.item() - ours[t]))
    return max(differences)


def euler_inputs():
    return init_mlp(seed=0), np.random.default_rng(1).standard_normal((10_000, 2))


def ours_sampling_seconds(threads: int) -> float:
    set_num_threads(threads)
    network, x0 = euler_inputs()
    sample(network, x0[:10], 2)
    return best_time(lambda: sample(network, x0, 128), repeat=3)


def torch_sampling_seconds(threads: int) -> float:
    import torch

    torch.set_num_threads(threads)
    network, x0 = euler_inputs()
    model = torch_network(network)
    start = torch.from_numpy(x0.astype(np.float32))

    def torch_euler():
        with torch.no_grad():
            x = start.clone()
            for t in range(128):
                alpha = torch.full((x.shape[0], 1), t / 128)
                x += model(torch.cat([x, alpha], 1)) / 128
        return x

    torch_euler()
    return best_time(torch_euler, repeat=3)


def numpy_exact_velocity(x, alpha, targets, chunk=250):
    """The exact deblender (standard Gaussian source) with numpy broadcasting, by chunks."""
    velocity = np.empty_like(x)
    for start in range(0, len(x), chunk):
        a = alpha[start:start + chunk, None]
        keep = 1 - a
        r0 = x[start:start + chunk, 0:1] - a * targets[None, :, 0]
        r1 = x[start:start + chunk, 1:2] - a * targets[None, :, 1]
        logits = (r0 * r0 + r1 * r1) * (-0.5 / keep**2)
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits, out=logits)
        xbar1 = (weights @ targets) / weights.sum(axis=1, keepdims=True)
        velocity[start:start + chunk] = (xbar1 - x[start:start + chunk]) / keep
    return velocity


def main() -> None:
    report = Report("blending")
    report.notes["machine load (1-min average) at start"] = round(os.getloadavg()[0], 2)
    # torch first: once numba has started its OpenMP workers, their idle spinning starves
    # torch's own OpenMP threads (measured: 2-thread torch training drops from ~1700 to ~100
    # steps/s on 2 cores), which would flatter us
    torch_training = {}
    for width, depth, batch in NETWORKS:
        for threads in (1, 2):
            torch_steps = torch_trainer(width, depth, batch, threads)
            torch_steps(20)
            torch_training[width, depth, batch, threads] = STEPS / best_time(lambda: torch_steps(STEPS))
    torch_sampling = {threads: torch_sampling_seconds(threads) for threads in (1, 2)}
    report.notes["max |loss difference| vs torch over 5 steps (float32)"] = loss_agreement()
    # the default network at 5x torch would need more than one core can do at all
    report.notes["float32 sgemm GFLOP/s, 1 thread (numpy BLAS)"] = round(sgemm_one_thread_gflops(), 1)

    for width, depth, batch in NETWORKS:
        set_num_threads(1)
        ours = ours_steps_per_second(width, depth, batch)
        report.notes[f"train 3->{width}x{depth}->2: ours / torch 1 thr useful GFLOP/s"] = (
            round(ours * training_flops(width, depth, batch) / 1e9, 1),
            round(torch_training[width, depth, batch, 1] * training_flops(width, depth, batch) / 1e9, 1))
        for threads in (1, 2):
            report.add(f"train steps/s, 3->{width}x{depth}->2, batch {batch}, torch {threads} thr",
                       ours, "torch 2.13 CPU", torch_training[width, depth, batch, threads],
                       unit="/s", higher_is_better=True)
    for threads in (1, 2):
        report.add(f"sample 10,000 pts x 128 Euler steps, {threads} thread(s)",
                   ours_sampling_seconds(threads), "torch 2.13 CPU", torch_sampling[threads])

    set_num_threads(None)
    rng = np.random.default_rng(2)
    targets = TwoMoons().sample(2000, seed=3)
    x, alpha = rng.standard_normal((10_000, 2)), rng.random(10_000)
    exact = ExactDeblender(targets)
    exact(x[:10], alpha[:10])
    ours = best_time(lambda: exact(x, alpha))
    numpy_seconds = best_time(lambda: numpy_exact_velocity(x, alpha, targets))
    report.add("exact deblender, 10,000 queries x 2,000 targets", ours, "numpy (chunked)", numpy_seconds)
    report.notes["exact deblender: max |ours - numpy|"] = float(
        np.abs(exact(x, alpha) - numpy_exact_velocity(x, alpha, targets)).max())
    report.notes["machine load (1-min average) at end"] = round(os.getloadavg()[0], 2)
    report.print_and_save()


if __name__ == "__main__":
    main()
