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


def adam_step(theta, grad, m, v, t, lr, weight_decay, beta1, beta2, eps):
    """torch.optim.Adam: weight decay is an L2 term added to the gradient."""
    return adamw_step(theta, grad + weight_decay * theta, m, v, t, lr, 0.0, beta1, beta2, eps)


def warmup_rate(lr, t, warmup_steps):
    """torch LambdaLR(lambda u: min(u / warmup_steps, 1)) before optimiser step t (from 1)."""
    return lr if warmup_steps == 0 else lr * min((t - 1) / warmup_steps, 1.0)


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
          optimizer="adamw", grad_filter=None, activation="quadratic", loss="cross_entropy",
          batches=None, warmup_steps=0):
    """Training of the MLP in float64; returns (U, V, W) and the loss before each step."""
    def gradient(theta, rows):
        value, dU, dV, dW = loss_and_gradients(*theta, a[rows], b[rows], labels[rows],
                                               activation, loss)
        return value, np.stack([dU, dV, dW])

    return optimise(np.stack([U, V, W]).astype(np.float64), gradient, len(labels), steps, lr,
                    weight_decay, betas, eps, optimizer, grad_filter, batches, warmup_steps)


def optimise(theta, gradient, rows, steps, lr, weight_decay, betas=(0.9, 0.98), eps=1e-8,
             optimizer="adamw", grad_filter=None, batches=None, warmup_steps=0):
    """``steps`` optimiser steps from ``theta``; ``gradient(theta, rows) -> (loss, grad)``.

    ``batches`` lists the row indices of each step (default: all rows every step).
    Returns the weights and the loss before each step.
    """
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    losses = []
    for t in range(1, steps + 1):
        value, grad = gradient(theta, np.arange(rows) if batches is None else batches[t - 1])
        losses.append(value)
        if grad_filter is not None:
            grad = grad_filter(grad)
        rate = warmup_rate(lr, t, warmup_steps)
        if optimizer == "adamw":
            theta, m, v = adamw_step(theta, grad, m, v, t, rate, weight_decay, *betas, eps)
        elif optimizer == "adam":
            theta, m, v = adam_step(theta, grad, m, v, t, rate, weight_decay, *betas, eps)
        else:
            theta = sgd_step(theta, grad, rate, weight_decay)
    return theta, np.array(losses)


def transformer_forward(weights, a, b, heads, activation="relu"):
    """The whole sequence ``a b =`` through every block, all positions, by the book.

    ``weights`` is a dict with embed, pos, qkv, out, w_in, b_in, w_out, b_out, unembed (the
    shapes of TransformerParams). Returns the logits at "=" and every intermediate, per
    block, for :func:`transformer_loss_and_gradients`.
    """
    p = weights["unembed"].shape[1]
    tokens = np.stack([a, b, np.full_like(a, p)], axis=1)
    x = weights["embed"][tokens] + weights["pos"][None]
    n, positions, d = x.shape
    width = d // heads
    future = np.triu(np.ones((positions, positions), bool), 1)
    saved = []
    for layer in range(weights["qkv"].shape[0]):
        q, k, v = (part.reshape(n, positions, heads, width)
                   for part in np.split(x @ weights["qkv"][layer], 3, axis=-1))
        scores = np.einsum("nthc,nshc->nhts", q, k) / np.sqrt(width)
        scores[:, :, future] = -np.inf
        attention = np.exp(scores - scores.max(axis=-1, keepdims=True))
        attention /= attention.sum(axis=-1, keepdims=True)
        z = np.einsum("nhts,nshc->nthc", attention, v).reshape(n, positions, d)
        middle = x + z @ weights["out"][layer]
        pre = middle @ weights["w_in"][layer] + weights["b_in"][layer]
        hidden = pre**2 if activation == "quadratic" else np.maximum(pre, 0)
        saved.append(dict(x=x, q=q, k=k, v=v, attention=attention, z=z, middle=middle, pre=pre,
                          hidden=hidden))
        x = middle + hidden @ weights["w_out"][layer] + weights["b_out"][layer]
    return x[:, -1] @ weights["unembed"], x, tokens, saved


def transformer_loss_and_gradients(weights, a, b, labels, heads, activation="relu"):
    """Mean cross-entropy at "=" and the gradient of every weight (a dict), by the chain
    rule over the full sequence."""
    logits, x, tokens, saved = transformer_forward(weights, a, b, heads, activation)
    n, p = logits.shape
    shifted = logits - logits.max(axis=1, keepdims=True)
    probabilities = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    value = cross_entropy(logits, labels)
    dlogits = (probabilities - np.eye(p)[labels]) / n
    grads = {name: np.zeros_like(array) for name, array in weights.items()}
    grads["unembed"] = x[:, -1].T @ dlogits
    dx = np.zeros_like(x)
    dx[:, -1] = dlogits @ weights["unembed"].T
    d = x.shape[2]
    for layer in reversed(range(len(saved))):
        s = saved[layer]
        width = s["q"].shape[3]
        grads["w_out"][layer] = np.einsum("ntm,ntd->md", s["hidden"], dx)
        grads["b_out"][layer] = dx.sum(axis=(0, 1))
        dpre = dx @ weights["w_out"][layer].T
        dpre = dpre * (2 * s["pre"] if activation == "quadratic" else s["pre"] > 0)
        grads["w_in"][layer] = np.einsum("ntd,ntm->dm", s["middle"], dpre)
        grads["b_in"][layer] = dpre.sum(axis=(0, 1))
        dmiddle = dx + dpre @ weights["w_in"][layer].T
        grads["out"][layer] = np.einsum("ntc,ntd->cd", s["z"], dmiddle)
        dz = (dmiddle @ weights["out"][layer].T).reshape(s["q"].shape)
        dattention = np.einsum("nthc,nshc->nhts", dz, s["v"])
        dv = np.einsum("nhts,nthc->nshc", s["attention"], dz)
        dscores = s["attention"] * (dattention - (s["attention"] * dattention).sum(-1, keepdims=True))
        dscores /= np.sqrt(width)
        dq = np.einsum("nhts,nshc->nthc", dscores, s["k"])
        dk = np.einsum("nhts,nthc->nshc", dscores, s["q"])
        dqkv = np.concatenate([part.reshape(*part.shape[:2], d) for part in (dq, dk, dv)], axis=-1)
        grads["qkv"][layer] = np.einsum("ntd,nte->de", s["x"], dqkv)
        dx = dmiddle + dqkv @ weights["qkv"][layer].T
    np.add.at(grads["embed"], tokens, dx)
    grads["pos"] = dx.sum(axis=0)
    return value, grads


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
    return ablation_losses_of_logits(logits, a_train, b_train, labels, frequencies, sign)


def ablation_losses_of_logits(logits, a_train, b_train, labels, frequencies, sign=1):
    """Restricted / excluded loss from the logits of all p^2 pairs (rows in order a * p + b)."""
    p = logits.shape[1]
    a, b = np.divmod(np.arange(p * p), p)
    s = (a + sign * b) % p
    basis = np.column_stack([f(2 * np.pi * k * s / p) for k in frequencies for f in (np.cos, np.sin)])
    coefficients = np.linalg.lstsq(basis, logits, rcond=None)[0]
    restricted = basis @ coefficients
    train_rows = a_train * p + b_train
    return (cross_entropy(restricted[train_rows], labels),
            cross_entropy((logits - restricted)[train_rows], labels))
