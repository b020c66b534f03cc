"""Trainability scan: ours vs a vectorised numpy scan and JAX jit+vmap (the paper's approach).

Run: ``python benchmarks/fractal.py`` (``make bench`` runs every topic); ``--quick`` for a
smoke run. Same problem, same window, same process, side by side. numpy is timed on the full
grid for a few steps and scaled to the full step count (its cost per step is constant); JAX
(the ``bench`` extra) runs the whole scan. Rates are *useful* GFLOP/s (``useful_flops``: the
matrix work of every pixel for every step, although diverging pixels of our scan stop early)
beside the float64 matmul rate of numpy's BLAS on all cores, measured in the same run
(best of before and after the cases). Besides the paper's full-batch case, the minibatch and
single-data-point paths run at the same width, to compare their rates per useful flop. The
single-data-point kernel trains the pre-activations x W1 directly (O(w) a step, not O(dw)), so
its "useful" rate counts flops the dense algorithm would do and it does not: it can exceed
the matmul rate.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from _common import Report, best_time, matmul_gflops
from explorer.fractal import grid_axes, make_problem, minibatch_indices, scan, useful_flops
from explorer.fractal._kernels import NONFINITE_LOSS

CASES = [  # (label, width, make_problem options, scan options, steps, resolution)
    ("w8 full batch", 8, {}, {}, 100, 128),
    ("w16 full batch", 16, {}, {}, 500, 64),
    ("w16 minibatch 16", 16, {}, {"minibatch": 16, "minibatch_seed": 0}, 500, 64),
    ("w16 single data point", 16, {"dataset_param_ratio": "single_datapoint"}, {}, 2000, 64),
]
QUICK_CASES = [("w8 full batch", 8, {}, {}, 60, 32),
               ("w8 minibatch 16", 8, {}, {"minibatch": 16, "minibatch_seed": 0}, 60, 32)]
NUMPY_STEPS = 20  # numpy is timed on this many steps, then scaled


def numpy_scan(problem, x, y, steps, batches=None):
    """All pixels batched: weights (P, d, w); one broadcast matmul per layer and step."""
    n, d = problem.X.shape
    w = problem.width
    lr_input, lr_output = (a.ravel()[:, None, None] for a in np.meshgrid(x, y))
    W1 = np.repeat(problem.W1[None], lr_input.shape[0], axis=0)
    W2 = np.repeat(problem.W2[None], lr_input.shape[0], axis=0)
    X = problem.X / np.sqrt(d)
    losses = np.empty((steps, lr_input.shape[0]))
    with np.errstate(all="ignore"):
        for t in range(steps):
            H = np.tanh(np.sqrt(2.0) * (X @ W1))
            residual = H @ W2 / w - problem.Y
            losses[t] = np.mean(residual[..., 0] ** 2, axis=1)
            rows = slice(None) if batches is None else batches[t]
            Xb, Hb, rb = X[rows], H[:, rows], residual[:, rows]
            delta = 2.0 * rb / (Xb.shape[0] * w)
            grad_W2 = np.swapaxes(Hb, 1, 2) @ delta
            grad_W1 = Xb.T @ ((delta @ np.swapaxes(W2, 1, 2)) * np.sqrt(2.0) * (1.0 - Hb**2))
            W1 -= lr_input * grad_W1
            W2 -= lr_output * grad_W2
    return _measure(losses).reshape(len(y), len(x))


def _measure(losses):
    v = np.where(np.isfinite(losses), losses, NONFINITE_LOSS)
    v = np.minimum(v / v[0], NONFINITE_LOSS)
    converged = v[-20:].mean(axis=0) < 1
    return np.where(converged, -v.sum(axis=0), (1.0 / v).sum(axis=0))


def jax_scan_function(problem, steps, batches=None):
    """The paper's notebook approach: jit(vmap(train)), float64, lax.scan over steps."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    X, Y = jnp.asarray(problem.X), jnp.asarray(problem.Y)
    W1_init, W2_init = jnp.asarray(problem.W1), jnp.asarray(problem.W2)

    def loss(theta, inputs, targets):
        W1, W2 = theta
        hidden = jnp.tanh(jnp.sqrt(2.0) * (inputs @ W1) / jnp.sqrt(W1.shape[0]))
        return jnp.mean((hidden @ W2 / W2.shape[0] - targets) ** 2)

    def train(lr_input, lr_output):
        def step(theta, batch):
            if batch is None:  # full batch: the loss and its gradient in one pass
                value, (g1, g2) = jax.value_and_grad(loss)(theta, X, Y)
            else:  # the notebook: full-batch loss, minibatch gradient
                value = loss(theta, X, Y)
                g1, g2 = jax.grad(loss)(theta, X[batch], Y[batch])
            return (theta[0] - lr_input * g1, theta[1] - lr_output * g2), value

        if batches is None:
            _, losses = jax.lax.scan(step, (W1_init, W2_init), None, length=steps)
        else:
            _, losses = jax.lax.scan(step, (W1_init, W2_init), jnp.asarray(batches))
        v = jnp.where(jnp.isfinite(losses), losses, NONFINITE_LOSS)
        v = jnp.minimum(v / v[0], NONFINITE_LOSS)
        return jnp.where(jnp.mean(v[-20:]) < 1, -jnp.sum(v), jnp.sum(1 / v))

    batched = jax.jit(jax.vmap(train))
    return lambda lr_input, lr_output: np.asarray(batched(lr_input, lr_output).block_until_ready())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small cases, seconds")
    parser.add_argument("--no-jax", action="store_true", help="skip the JAX reference")
    args = parser.parse_args()
    report = Report("fractal")
    peak = matmul_gflops()
    rates = {}
    for label, width, problem_options, options, steps, resolution in (
            QUICK_CASES if args.quick else CASES):
        problem = make_problem(width=width, **problem_options)
        x, y = grid_axes((-3, 6), (-3, 6), resolution)
        case = f"{label}, {steps} steps, {resolution}²"
        batches = (minibatch_indices(problem.X.shape[0], steps, options["minibatch"],
                                     options["minibatch_seed"]) if "minibatch" in options else None)
        scan(problem, resolution=4, steps=steps, **options)  # compile / load the cache
        ours = best_time(lambda p=problem, r=resolution, s=steps, o=options: scan(p, (-3, 6), (-3, 6), r, s, **o),
                         repeat=3)
        result = scan(problem, (-3, 6), (-3, 6), resolution, steps, **options)
        flops = useful_flops(problem, steps, x.size * y.size, options.get("minibatch"))
        rates[case] = flops / ours / 1e9

        start = time.perf_counter()
        numpy_scan(problem, x, y, NUMPY_STEPS, None if batches is None else batches[:NUMPY_STEPS])
        numpy_seconds = (time.perf_counter() - start) * steps / NUMPY_STEPS
        report.add(f"{case}: scan (s)", ours, f"numpy x{steps // NUMPY_STEPS}", numpy_seconds)
        coarse = slice(None, None, max(1, resolution // 8))
        agreement = np.mean(np.sign(numpy_scan(problem, x[coarse], y[coarse], steps, batches))
                            == np.sign(result.measure[coarse, coarse]))
        report.notes[f"{case}: sign agreement with numpy on a coarse sub-grid"] = float(agreement)

        if not args.no_jax:
            try:
                jax_train = jax_scan_function(problem, steps, batches)
            except ImportError:
                report.add(f"{case}: scan (s)", ours, "jax (not installed)", None)
            else:
                lr_input, lr_output = (a.ravel() for a in np.meshgrid(x, y))
                jax_train(lr_input, lr_output)  # compile for the full batch shape
                start = time.perf_counter()
                jax_measure = jax_train(lr_input, lr_output).reshape(result.measure.shape)
                report.add(f"{case}: scan (s)", ours, "jax jit+vmap cpu",
                           time.perf_counter() - start)
                report.notes[f"{case}: sign agreement with jax"] = float(
                    np.mean(np.sign(jax_measure) == np.sign(result.measure)))
    peak = max(peak, matmul_gflops())
    for case, rate in rates.items():
        report.add(f"{case}: useful GFLOP/s vs matmul", rate, "matmul all cores", peak, unit="GF",
                   higher_is_better=True)
    report.notes["float64 matmul GFLOP/s (numpy BLAS, all cores, best of start and end)"] = round(
        peak, 1)
    report.notes["useful GFLOP/s per case"] = {key: round(value, 2) for key, value in rates.items()}
    report.print_and_save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
