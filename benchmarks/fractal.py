"""Trainability scan: ours vs a vectorised numpy scan and JAX jit+vmap (the paper's approach).

Run: ``python benchmarks/fractal.py`` (``make bench`` runs every topic). Same problem, same
window, same process. numpy is timed on the full grid for a few steps and scaled to the full
step count (its cost per step is constant); JAX runs the whole scan when it is installed.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from _common import Report, best_time, matmul_gflops
from explorer.fractal import grid_axes, make_problem, scan
from explorer.fractal._kernels import NONFINITE_LOSS

CASES = [  # (width, steps, resolution)
    (8, 100, 128),
    (16, 500, 64),
]
NUMPY_STEPS = 20  # numpy is timed on this many steps, then scaled


def useful_flops(problem, steps, pixels):
    n, d = problem.X.shape
    w = problem.width
    return pixels * steps * (4 * n * d * w + 6 * n * w)


def numpy_scan(problem, x, y, steps):
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
            delta = 2.0 * residual / (n * w)
            grad_W2 = np.swapaxes(H, 1, 2) @ delta
            grad_W1 = X.T @ ((delta @ np.swapaxes(W2, 1, 2)) * np.sqrt(2.0) * (1.0 - H**2))
            W1 -= lr_input * grad_W1
            W2 -= lr_output * grad_W2
    return _measure(losses).reshape(len(y), len(x))


def _measure(losses):
    v = np.where(np.isfinite(losses), losses, NONFINITE_LOSS)
    v = np.minimum(v / v[0], NONFINITE_LOSS)
    converged = v[-20:].mean(axis=0) < 1
    return np.where(converged, -v.sum(axis=0), (1.0 / v).sum(axis=0))


def jax_scan_function(problem, steps):
    """The paper's notebook approach: jit(vmap(train)) over pixels, float64, lax.scan over steps."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    X, Y = jnp.asarray(problem.X), jnp.asarray(problem.Y)
    W1_init, W2_init = jnp.asarray(problem.W1), jnp.asarray(problem.W2)

    def loss(theta):
        W1, W2 = theta
        hidden = jnp.tanh(jnp.sqrt(2.0) * (X @ W1) / jnp.sqrt(W1.shape[0]))
        return jnp.mean((hidden @ W2 / W2.shape[0] - Y) ** 2)

    def train(lr_input, lr_output):
        def step(theta, _):
            value, (g1, g2) = jax.value_and_grad(loss)(theta)
            return (theta[0] - lr_input * g1, theta[1] - lr_output * g2), value

        _, losses = jax.lax.scan(step, (W1_init, W2_init), None, length=steps)
        v = jnp.where(jnp.isfinite(losses), losses, NONFINITE_LOSS)
        v = jnp.minimum(v / v[0], NONFINITE_LOSS)
        return jnp.where(jnp.mean(v[-20:]) < 1, -jnp.sum(v), jnp.sum(1 / v))

    batched = jax.jit(jax.vmap(train))
    return lambda lr_input, lr_output: np.asarray(batched(lr_input, lr_output).block_until_ready())


def main() -> int:
    report = Report("fractal")
    peak = matmul_gflops()
    report.notes["float64 matmul GFLOP/s (numpy BLAS, all cores)"] = round(peak, 1)
    for width, steps, resolution in CASES:
        problem = make_problem(width=width)
        x, y = grid_axes((-3, 6), (-3, 6), resolution)
        label = f"w{width} {steps} steps {resolution}x{resolution}"
        scan(problem, resolution=4, steps=steps)  # compile / load the cache
        ours = best_time(lambda: scan(problem, (-3, 6), (-3, 6), resolution, steps), repeat=2)
        result = scan(problem, (-3, 6), (-3, 6), resolution, steps)

        start = time.perf_counter()
        numpy_scan(problem, x, y, NUMPY_STEPS)
        numpy_seconds = (time.perf_counter() - start) * steps / NUMPY_STEPS
        report.add(f"{label}: scan (s)", ours, f"numpy x{steps // NUMPY_STEPS} from {NUMPY_STEPS} steps", numpy_seconds)
        # the batched numpy version is a second reference for the values on a coarse grid
        coarse = slice(None, None, resolution // 8)
        agreement = np.mean(np.sign(numpy_scan(problem, x[coarse], y[coarse], steps))
                            == np.sign(result.measure[coarse, coarse]))
        report.notes[f"{label}: sign agreement with numpy on 8x8 sub-grid"] = float(agreement)

        try:
            jax_train = jax_scan_function(problem, steps)
        except ImportError:
            report.add(f"{label}: scan (s)", ours, "jax (not installed)", None)
        else:
            lr_input, lr_output = (a.ravel() for a in np.meshgrid(x, y))
            jax_train(lr_input[:4], lr_output[:4])
            jax_train(lr_input, lr_output)  # compile for the full batch shape
            start = time.perf_counter()
            jax_measure = jax_train(lr_input, lr_output).reshape(result.measure.shape)
            jax_seconds = time.perf_counter() - start
            report.add(f"{label}: scan (s)", ours, "jax jit+vmap cpu", jax_seconds)
            report.notes[f"{label}: sign agreement with jax"] = float(
                np.mean(np.sign(jax_measure) == np.sign(result.measure)))

        gflops = useful_flops(problem, steps, x.size * y.size) / ours / 1e9
        report.add(f"{label}: useful GFLOP/s vs matmul", gflops, "matmul peak", peak, unit="GF",
                   higher_is_better=True)
    report.print_and_save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
