"""Plain numpy references for the reaction-diffusion fields (slow, obvious, trusted)."""

import numpy as np


def lambda_omega_field(state, diffusion, beta, dx):
    """d/dt of ``[u.ravel(), v.ravel()]``: 5-point Laplacian with mirrored (no-flux) edges."""
    u, v = (half.reshape(int(np.sqrt(half.size)), -1) for half in np.split(state, 2))

    def laplacian(field):
        padded = np.pad(field, 1, mode="edge")  # the ghost cell equals its neighbour
        return (padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:]
                - 4 * field) / dx**2

    amplitude_squared = u**2 + v**2
    lam, omega = 1 - amplitude_squared, -beta * amplitude_squared
    du = diffusion * laplacian(u) + lam * u - omega * v
    dv = diffusion * laplacian(v) + omega * u + lam * v
    return np.concatenate([du.ravel(), dv.ravel()])


def homogeneous_lambda_omega(radius, phase, beta, times):
    """Closed form of a spatially uniform state: ``r' = r (1 - r^2)``, ``theta' = -beta r^2``.

    ``r(t) = r0 / sqrt(r0^2 + (1 - r0^2) e^{-2t})`` and, since ``r^2 = d/dt log(r0^2 e^{2t} +
    1 - r0^2) / 2``, ``theta(t) = theta0 - beta / 2 log(r0^2 e^{2t} + 1 - r0^2)``.
    Returns (u, v) at ``times``.
    """
    growth = radius**2 * np.exp(2 * times) + 1 - radius**2
    r = radius * np.exp(times) / np.sqrt(growth)
    theta = phase - beta / 2 * np.log(growth)
    return r * np.cos(theta), r * np.sin(theta)


def winding_number(u, v):
    """Turns of the phase of ``u + i v`` along the boundary of the square, counter-clockwise."""
    loop = np.concatenate([u[0, :] + 1j * v[0, :], u[1:, -1] + 1j * v[1:, -1],
                           u[-1, -2::-1] + 1j * v[-1, -2::-1], u[-2:0:-1, 0] + 1j * v[-2:0:-1, 0]])
    steps = np.angle(np.roll(loop, -1) / loop)
    return steps.sum() / (2 * np.pi)
