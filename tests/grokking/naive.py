"""Deliberately plain numpy references for the grokking kernels and probes.

Written for clarity, not speed: the formulas as the papers state them, loops where they
help the reader, and no code shared with ``explorer.grokking``.
"""

from collections import deque

import numpy as np


def forward(U, V, W, a, b, activation="quadratic"):
    """pre = U[a] + V[b], h = act(pre), logits = h W^T."""
    pre = U[a] + V[b]
    h = pre**2 if activation == "quadratic" else np.maximum(pre, 0)
    return pre, h, h @ W.T


def loss_and_gradients(U, V, W, a, b, labels, activation="quadratic", loss="cross_entropy"):
    """Mean loss and (dU, dV, dW) by the chain rule, with np.add.at for the gathers."""
    pre, h, logits = forward(U, V, W, a, b, activation)
    n, p = logits.shape
    onehot = np.eye(p)[labels]
    if loss == "cross_entropy":
        shifted = logits - logits.max(axis=1, keepdims=True)
        probabilities = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        value = -np.mean(np.log(probabilities[np.arange(n), labels]))
        dlogits = (probabilities - onehot) / n
    else:
        residual = logits - onehot
        value = np.mean(residual**2)
        dlogits = 2 * residual / (n * p)
    dW = dlogits.T @ h
    dh = dlogits @ W
    dpre = dh * (2 * pre if activation == "quadratic" else (pre > 0))
    dU, dV = np.zeros_like(U), np.zeros_like(V)
    np.add.at(dU, a, dpre)
    np.add.at(dV, b, dpre)
    return value, dU, dV, dW


def adamw_step(theta, grad, m, v, t, lr, weight_decay, beta1, beta2, eps):
    """torch.optim.AdamW as its documentation writes it (t counts from 1)."""
    theta = theta - lr * weight_decay * theta
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def sgd_step(theta, grad, lr, weight_decay):
    return theta - lr * weight_decay * theta - lr * grad


class EMAFilter:
    """Grokfast's ``gradfilter_ema``: mu starts at the first gradient."""

    def __init__(self, alpha, lamb):
        self.alpha, self.lamb, self.mu = alpha, lamb, None

    def __call__(self, grad):
        self.mu = grad.copy() if self.mu is None else self.alpha * self.mu + (1 - self.alpha) * grad
        return grad + self.lamb * self.mu


class MAFilter:
    """Grokfast's ``gradfilter_ma``: a deque of the last ``window`` gradients, used once full."""

    def __init__(self, window, lamb):
        self.grads, self.window, self.lamb = deque(maxlen=window), window, lamb

    def __call__(self, grad):
        self.grads.append(grad.copy())
        if len(self.grads) == self.window:
            return grad + self.lamb * sum(self.grads) / len(self.grads)
        return grad


def train(U, V, W, a, b, labels, steps, lr, weight_decay, betas=(0.9, 0.98), eps=1e-8,
          optimizer="adamw", grad_filter=None, activation="quadratic", loss="cross_entropy"):
    """Full-batch training in float64; returns (U, V, W) and the loss before each step."""
    theta = np.stack([U, V, W]).astype(np.float64)
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    losses = []
    for t in range(1, steps + 1):
        value, dU, dV, dW = loss_and_gradients(*theta, a, b, labels, activation, loss)
        losses.append(value)
        grad = np.stack([dU, dV, dW])
        if grad_filter is not None:
            grad = grad_filter(grad)
        if optimizer == "adamw":
            theta, m, v = adamw_step(theta, grad, m, v, t, lr, weight_decay, *betas, eps)
        else:
            theta = sgd_step(theta, grad, lr, weight_decay)
    return theta, np.array(losses)


def dft_power(x):
    """|sum_t x_t exp(-2 pi i k t / p)|^2 for k = 0 .. p // 2, by the definition."""
    p = len(x)
    t = np.arange(p)
    return np.array([abs(np.sum(x * np.exp(-2j * np.pi * k * t / p)))**2 for k in range(p // 2 + 1)])


def ipr(x):
    """sum_k (|c_k| / ||c||)^4 over the rfft magnitudes c."""
    power = dft_power(x)
    return np.sum(power**2) / np.sum(power)**2


def gini(values):
    """Mean absolute difference over twice the mean."""
    x = np.asarray(values, dtype=float)
    return np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean())


def cross_entropy(logits, labels):
    shifted = logits - logits.max(axis=1, keepdims=True)
    return np.mean(np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(len(labels)), labels])


def fourier_ablation_losses(U, V, W, a_train, b_train, labels, frequencies, sign=1,
                            activation="quadratic"):
    """Restricted / excluded loss by least-squares projection of every pair's logits.

    Basis: cos(2 pi k s / p) and sin(2 pi k s / p), s = (a + sign b) mod p, over all p^2
    pairs, one column pair per key frequency; the logits of class q (a function on the
    pairs) are projected onto their span.
    """
    p = U.shape[0]
    a, b = np.divmod(np.arange(p * p), p)
    _, _, logits = forward(U.astype(float), V.astype(float), W.astype(float), a, b, activation)
    s = (a + sign * b) % p
    basis = np.column_stack([f(2 * np.pi * k * s / p) for k in frequencies for f in (np.cos, np.sin)])
    coefficients = np.linalg.lstsq(basis, logits, rcond=None)[0]
    restricted = basis @ coefficients
    train_rows = a_train * p + b_train
    return (cross_entropy(restricted[train_rows], labels),
            cross_entropy((logits - restricted)[train_rows], labels))
