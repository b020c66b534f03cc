"""Plain numpy references for the fractal kernels, written as the paper's notebook reads."""

import numpy as np


def activation(z, nonlinearity):
    if nonlinearity == "tanh":
        return np.tanh(np.sqrt(2.0) * z)
    if nonlinearity == "relu":
        return np.sqrt(2.0) * np.maximum(z, 0.0)
    return z


def forward(W1, W2, X, nonlinearity):
    """Mean-field net: Z = X W / sqrt(fan_in) per layer, output Z2 / sqrt(w)."""
    hidden = activation(X @ W1 / np.sqrt(W1.shape[0]), nonlinearity)
    return (hidden @ W2 / np.sqrt(W2.shape[0])) / np.sqrt(W2.shape[0])


def loss(W1, W2, X, Y, nonlinearity):
    return np.mean((forward(W1, W2, X, nonlinearity) - Y) ** 2)


def gradients(W1, W2, X, Y, nonlinearity):
    """Analytic gradients of the MSE, by the chain rule written out in matrix form."""
    n, d = X.shape
    w = W1.shape[1]
    Z = X @ W1 / np.sqrt(d)
    H = activation(Z, nonlinearity)
    residual = H @ W2 / w - Y
    d_output = 2.0 * residual / n
    grad_W2 = H.T @ d_output / w
    d_hidden = d_output @ W2.T / w
    if nonlinearity == "tanh":
        slope = np.sqrt(2.0) * (1.0 - H**2)
    elif nonlinearity == "relu":
        slope = np.sqrt(2.0) * (Z > 0)
    else:
        slope = np.ones_like(Z)
    grad_W1 = X.T @ (d_hidden * slope) / np.sqrt(d)
    return grad_W1, grad_W2


def loss_trajectory(problem, lr_input, lr_output, steps, offset=0.0, offset_every_step=False,
                    minibatch=None, minibatch_seed=0):
    """The full-batch loss before each step; with a minibatch, gradients from the notebook's
    batches: row t of default_rng(seed).integers(0, n, (steps, minibatch))."""
    W1, W2 = problem.W1.copy(), problem.W2.copy()
    if not offset_every_step:
        W1 = W1 + offset
    n = problem.X.shape[0]
    batches = (None if minibatch is None else
               np.random.default_rng(minibatch_seed).integers(0, n, size=(steps, minibatch)))
    losses = []
    with np.errstate(all="ignore"):
        for t in range(steps):
            if offset_every_step:
                W1 = W1 + offset
            losses.append(loss(W1, W2, problem.X, problem.Y, problem.nonlinearity))
            rows = slice(None) if batches is None else batches[t]
            grad_W1, grad_W2 = gradients(W1, W2, problem.X[rows], problem.Y[rows],
                                         problem.nonlinearity)
            W1, W2 = W1 - lr_input * grad_W1, W2 - lr_output * grad_W2
    return np.array(losses)


def convergence_measure(v, max_val=1e6):
    """The paper's notebook, line by line."""
    v = np.where(np.isfinite(v), v, max_val)
    v = v / v[0]
    v = np.where(v > max_val, max_val, v)
    converged = np.mean(v[-20:]) < 1
    return -np.sum(v) if converged else np.sum(1 / v)


def scan(problem, x, y, steps, phase_space="lr_vs_lr", offset_every_step=True, minibatch=None,
         minibatch_seed=0):
    measure = np.empty((len(y), len(x)))
    batch = {"minibatch": minibatch, "minibatch_seed": minibatch_seed}
    for row, y_value in enumerate(y):
        for col, x_value in enumerate(x):
            if phase_space == "lr_vs_lr":
                losses = loss_trajectory(problem, x_value, y_value, steps, **batch)
            else:
                losses = loss_trajectory(problem, y_value, y_value, steps, offset=x_value,
                                         offset_every_step=offset_every_step, **batch)
            measure[row, col] = convergence_measure(losses)
    return measure


def box_count(mask, size):
    """Number of size x size boxes (partial ones at the edges included) holding a True pixel."""
    count = 0
    for top in range(0, mask.shape[0], size):
        for left in range(0, mask.shape[1], size):
            count += bool(mask[top:top + size, left:left + size].any())
    return count


def porespy_boxcount(mask, bins=10):
    """porespy.metrics.boxcount as the paper's notebook used it: (sizes, counts, slopes)."""
    sizes = np.unique(np.logspace(1, np.log10(min(mask.shape)), bins).astype(int))
    counts = []
    for size in sizes:
        count = 0
        for top in range(0, mask.shape[0], size):
            for left in range(0, mask.shape[1], size):
                box = mask[top:top + size, left:left + size]
                count += bool(box.any()) - bool(box.all())
        counts.append(count)
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = -np.gradient(np.log(np.array(counts, float)), np.log(sizes.astype(float)))
    return sizes, np.array(counts), slopes
