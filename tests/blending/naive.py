"""Deliberately plain numpy references for the blending kernels.

Written for clarity, not speed: the formulas as the paper states them, one query at a time
where that reads better, and no code shared with ``explorer.blending``.
"""

import math

import numpy as np
from scipy.spatial.distance import cdist


def posterior_weights(x, alpha, targets, mean, cov):
    """w[i, j] = softmax_j(-0.5 r^T Sigma^-1 r / (1-a)^2), r = x_i - (1-a) mu - a y_j: (n, m).

    ``mean`` (d,) or the K means (K, d) of an equal-weight mixture source (then the term is
    summed over the means: a log-sum-exp); ``cov`` (d, d).
    """
    precision = np.linalg.inv(cov)
    means = np.atleast_2d(mean)
    weights = np.empty((len(x), len(targets)))
    for i, (point, a) in enumerate(zip(x, alpha)):
        r = point[None, None, :] - (1 - a) * means[:, None, :] - a * targets[None, :, :]
        logits = -0.5 * np.einsum("kmi,ij,kmj->km", r, precision, r) / (1 - a) ** 2
        per_target = np.exp(logits - logits.max()).sum(axis=0)
        weights[i] = per_target / per_target.sum()
    return weights


def exact_velocity(x, alpha, targets, mean, cov):
    """D = xbar1 - xbar0 with xbar1 = sum_j w_j y_j and xbar0 = (x - a xbar1) / (1 - a)."""
    xbar1 = posterior_weights(x, alpha, targets, mean, cov) @ targets
    a = np.asarray(alpha)[:, None]
    xbar0 = (x - a * xbar1) / (1 - a)
    return xbar1 - xbar0


def stochastic_chain(start, T, targets, mean, cov, uniforms):
    """The chain with a_t = t/T; step t picks the first j whose cumulative weight exceeds u."""
    x = np.array(start, dtype=float)
    path = [x.copy()]
    for t in range(T):
        a, following = t / T, (t + 1) / T
        weights = posterior_weights(x, np.full(len(x), a), targets, mean, cov)
        cumulative = np.cumsum(weights, axis=1)
        index = np.array([np.searchsorted(row, u * row[-1], side="right")
                          for row, u in zip(cumulative, uniforms[t])])
        x1 = targets[index]
        x0 = (x - a * x1) / (1 - a)
        x = (1 - following) * x0 + following * x1
        path.append(x.copy())
    return np.array(path)


def network_inputs(x, alpha, slots=None, slot_count=0):
    """Rows [x, alpha, onehot(slot)]: the deblender's input (one-hot only for slot_count > 0)."""
    columns = [np.asarray(x, dtype=np.float64), np.asarray(alpha, dtype=np.float64)[:, None]]
    if slot_count:
        columns.append(np.eye(slot_count)[slots])
    return np.concatenate(columns, axis=1)


def mlp_forward(layers, x, alpha, activation="relu", slots=None, slot_count=0, inputs=None):
    """Row-major forward pass; layers = [(W (fan_in, fan_out), b), ...]. Returns (pre, post, out).

    ``inputs`` replaces the deblender's [x, alpha, onehot] rows (for the classifier).
    """
    h = network_inputs(x, alpha, slots, slot_count) if inputs is None else np.asarray(inputs, float)
    pre, post = [], []
    for W, b in layers[:-1]:
        z = h @ W + b
        h = np.maximum(z, 0) if activation == "relu" else z / (1 + np.exp(-z))
        pre.append(z)
        post.append(h)
    W, b = layers[-1]
    return pre, post, h @ W + b


def mlp_loss_and_gradients(layers, x, alpha, velocity, activation="relu", slots=None,
                           slot_count=0):
    """mean_b ||D_b - v_b||^2 and [(dW, db), ...] by the chain rule, one layer at a time."""
    pre, post, out = mlp_forward(layers, x, alpha, activation, slots, slot_count)
    n = len(x)
    loss = np.sum((out - velocity) ** 2) / n
    return loss, _backpropagate(layers, network_inputs(x, alpha, slots, slot_count), pre, post,
                                2 * (out - velocity) / n, activation)


def classifier_loss_and_gradients(layers, points, labels, activation="relu"):
    """Mean softmax cross-entropy and its gradients, by the chain rule."""
    pre, post, out = mlp_forward(layers, None, None, activation, inputs=points)
    shifted = out - out.max(axis=1, keepdims=True)
    probabilities = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    n = len(points)
    loss = -np.mean(np.log(probabilities[np.arange(n), labels]))
    delta = (probabilities - np.eye(out.shape[1])[labels]) / n
    return loss, _backpropagate(layers, np.asarray(points, float), pre, post, delta, activation)


def _backpropagate(layers, first_inputs, pre, post, delta, activation):
    """[(dW, db), ...] given dloss/dout (delta), layer by layer from the output."""
    inputs = [first_inputs] + post
    gradients = []
    for index in range(len(layers) - 1, -1, -1):
        W, _ = layers[index]
        gradients.append((inputs[index].T @ delta, delta.sum(axis=0)))
        if index > 0:
            z = pre[index - 1]
            if activation == "relu":
                slope = (z > 0).astype(float)
            else:
                s = 1 / (1 + np.exp(-z))
                slope = s * (1 + z * (1 - s))
            delta = (delta @ W.T) * slope
    return gradients[::-1]


def adam_step(theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """torch.optim.Adam as its documentation writes it (t counts from 1)."""
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def sliced_wasserstein(a, b, directions):
    """sqrt(mean over directions of W2^2 of the projections); unequal sizes n, m by repeating
    each sorted value lcm(n, m) / n (resp. / m) times, which equalises the quantile steps."""
    n, m = len(a), len(b)
    common = math.lcm(n, m)
    squares = []
    for u in directions:
        pa = np.repeat(np.sort(a @ u), common // n)
        pb = np.repeat(np.sort(b @ u), common // m)
        squares.append(np.mean((pa - pb) ** 2))
    return math.sqrt(np.mean(squares))


def nearest_distances(points, reference):
    """Distance from each point to its nearest reference point, by scipy's cdist."""
    return cdist(points, reference).min(axis=1)


def frechet_distance(a, b):
    """|mu_a - mu_b|^2 + tr(S_a + S_b - 2 sqrtm(S_a S_b)), with scipy's general sqrtm."""
    from scipy.linalg import sqrtm

    cov_a, cov_b = np.atleast_2d(np.cov(a.T)), np.atleast_2d(np.cov(b.T))
    gap = a.mean(axis=0) - b.mean(axis=0)
    return float(gap @ gap + np.trace(cov_a + cov_b - 2 * np.real(sqrtm(cov_a @ cov_b))))


def slerp(a, b, t):
    """Spherical interpolation of directions with linearly interpolated norms."""
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    omega = np.arccos(np.dot(a / na, b / nb))
    direction = (np.sin((1 - t) * omega) * a / na + np.sin(t * omega) * b / nb) / np.sin(omega)
    return direction * ((1 - t) * na + t * nb)


def energy_distance(a, b):
    """2 E|X - Y| - E|X - X'| - E|Y - Y'| with every mean over all pairs."""
    return 2 * cdist(a, b).mean() - cdist(a, a).mean() - cdist(b, b).mean()
