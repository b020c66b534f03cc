"""Deliberately plain numpy references for the Koopman kernels (slow, obvious, trusted).

Each function spells out the textbook formula with Python loops or direct linear algebra,
so a test can compare a compiled or restructured implementation against it.
"""

from itertools import combinations_with_replacement

import numpy as np


# -- systems --------------------------------------------------------------------------------
def van_der_pol_field(state, mu):
    x, v = state
    return np.array([v, mu * (1 - x**2) * v - x])


def duffing_field(state, delta, alpha, beta):
    x, v = state
    return np.array([v, -delta * v - alpha * x - beta * x**3])


def pendulum_field(state, natural_frequency, damping):
    angle, velocity = state
    return np.array([velocity, -damping * velocity - natural_frequency**2 * np.sin(angle)])


def lorenz_field(state, sigma, rho, beta):
    x, y, z = state
    return np.array([sigma * (y - x), x * (rho - z) - y, x * y - beta * z])


def fitzhugh_nagumo_field(state, diffusion, a, b, epsilon, current, dx):
    u, v = np.split(state, 2)
    laplacian = (np.roll(u, 1) - 2 * u + np.roll(u, -1)) / dx**2
    return np.concatenate([diffusion * laplacian + u - u**3 / 3 - v + current,
                           epsilon * (u + a - b * v)])


def rk4_samples(field, start, dt, steps, substeps):
    """Classical RK4 with ``substeps`` steps per sample: (n_state, steps + 1)."""
    h = dt / substeps
    x = np.array(start, dtype=float)
    samples = [x.copy()]
    for _ in range(steps):
        for _ in range(substeps):
            k1 = field(x)
            k2 = field(x + h / 2 * k1)
            k3 = field(x + h / 2 * k2)
            k4 = field(x + h * k3)
            x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        samples.append(x.copy())
    return np.array(samples).T


def slow_manifold_exact(start, mu, lam, times):
    """Closed-form solution of x1' = mu x1, x2' = lam (x2 - x1^2): (2, len(times))."""
    x1, x2 = start
    slaved = lam / (lam - 2 * mu)
    return np.array([x1 * np.exp(mu * times),
                     (x2 - slaved * x1**2) * np.exp(lam * times)
                     + slaved * x1**2 * np.exp(2 * mu * times)])


def logistic_orbit(start, growth_rate, steps):
    orbit = [start]
    for _ in range(steps):
        orbit.append(growth_rate * orbit[-1] * (1 - orbit[-1]))
    return np.array(orbit)


# -- dictionaries ---------------------------------------------------------------------------
def monomials(X, degree):
    """Every monomial up to ``degree`` at every column of X, in graded-lexicographic order."""
    rows = [np.ones(X.shape[1])]
    for total in range(1, degree + 1):
        for variables in combinations_with_replacement(range(X.shape[0]), total):
            rows.append(np.prod([X[i] for i in variables], axis=0))
    return np.array(rows)


def radial_basis(X, centers, width, kind):
    values = np.empty((centers.shape[1], X.shape[1]))
    for k in range(centers.shape[1]):
        for j in range(X.shape[1]):
            r = np.linalg.norm(X[:, j] - centers[:, k]) / width
            if kind == "gaussian":
                values[k, j] = np.exp(-r**2)
            else:
                values[k, j] = r**2 * np.log(r) if r > 0 else 0.0
    return values


# -- EDMD and residual DMD ------------------------------------------------------------------
def edmd_matrices(psi_x, psi_y, weights):
    """G, A, L and K = G^+ A from lifted snapshots (N, m), exactly as in Williams et al."""
    W = np.diag(weights)
    PX, PY = psi_x.T, psi_y.T  # rows = snapshots, as in the papers
    G = PX.conj().T @ W @ PX
    A = PX.conj().T @ W @ PY
    L = PY.conj().T @ W @ PY
    return G, A, L, np.linalg.pinv(G) @ A


def gram_residual(G, A, L, eig, vector):
    """ResDMD residual from the Gram matrices (the form that cancels below ~1e-8)."""
    g = vector
    numerator = g.conj() @ (L - eig * A.conj().T - np.conj(eig) * A + abs(eig)**2 * G) @ g
    return np.sqrt(max(numerator.real, 0.0) / (g.conj() @ G @ g).real)


def pseudospectrum_full(psi_x, psi_y, weights, points):
    """tau(z) = sigma_min(C1 - z Q) per point, with the full m x N matrices (no reduction)."""
    root = np.sqrt(weights)[:, None]
    Q, R = np.linalg.qr(root * psi_x.T)
    C1 = np.linalg.solve(R.T, (root * psi_y.T).T).T
    return np.array([np.linalg.svd(C1 - z * Q, compute_uv=False)[-1] for z in np.ravel(points)])


def pseudospectrum_reduced(reduced_operator, residual_factor, points):
    """tau(z) = sigma_min([B; A~ - z I]) by a dense SVD per point, the shape of ``points``."""
    n = reduced_operator.shape[0]
    values = [np.linalg.svd(np.vstack([residual_factor, reduced_operator - z * np.eye(n)]),
                            compute_uv=False)[-1] for z in np.ravel(points)]
    return np.reshape(values, np.shape(points))


def weighted_norm(values, weights):
    return np.sqrt(np.sum(weights * np.abs(values) ** 2))


def function_residual(psi_x, psi_y, weights, z, coefficients):
    """|Psi_Y g - z Psi_X g|_W / |Psi_X g|_W evaluated on the snapshots."""
    return (weighted_norm(psi_y.T @ coefficients - z * (psi_x.T @ coefficients), weights)
            / weighted_norm(psi_x.T @ coefficients, weights))


def poisson_kernel(angles, radius):
    """(1 - r^2) / (2 pi (1 - 2 r cos theta + r^2)): the Poisson kernel of the disc."""
    return (1 - radius**2) / (2 * np.pi * (1 - 2 * radius * np.cos(angles) + radius**2))


def kernel_edmd_eigenvalues(X, Y, kernel):
    """Kernel EDMD (Williams, Rowley, Kevrekidis 2015) eigenvalues, directly from its formulas."""
    M = X.shape[1]
    G = np.array([[kernel(X[:, i], X[:, j]) for j in range(M)] for i in range(M)])
    A = np.array([[kernel(Y[:, i], X[:, j]) for j in range(M)] for i in range(M)])
    values, vectors = np.linalg.eigh(G)
    keep = values > 1e-12 * values.max()
    root_inverse = vectors[:, keep] / np.sqrt(values[keep])
    return np.linalg.eigvals(root_inverse.T @ A @ root_inverse)
