"""Driving the scan kernel: pixels into lanes and groups, and a stoppable run with checkpoints."""

from __future__ import annotations

import threading

import numpy as np

from explorer.fractal import _kernels
from explorer.fractal._lanes import GRADIENT_FACTOR

CHECKPOINT_SECONDS = 0.25  # a callback gets control back at least this often


def lane_hyperparameters(x, y, phase_space, nonlinearity):
    """(groups, 3, LANES): input-layer step, output-layer step, input offset, row-major pixels.

    The last group is padded with copies of the last pixel. The input layer's step carries
    the kernel's GRADIENT_FACTOR (a power of two, so exact).
    """
    columns, rows = (a.ravel() for a in np.meshgrid(x, y))
    groups = -(-columns.size // _kernels.LANES)
    pad = groups * _kernels.LANES - columns.size
    columns = np.concatenate((columns, np.repeat(columns[-1:], pad)))
    rows = np.concatenate((rows, np.repeat(rows[-1:], pad)))
    if phase_space == "lr_vs_lr":
        lanes = (columns, rows, np.zeros_like(rows))
    else:
        lanes = (rows, rows, columns)
    hyper = np.stack(lanes).reshape(3, groups, _kernels.LANES).transpose(1, 0, 2).copy()
    hyper[:, 0] *= GRADIENT_FACTOR[nonlinearity]
    return hyper


def _spread_order(groups):
    """A permutation of range(groups) whose every contiguous run is spread over the image.

    prange gives each thread a contiguous run of iterations; in bit-reversed order each run
    holds quick (diverging) and slow (converging) groups alike, so the threads finish together.
    """
    bits = max(1, int(groups - 1).bit_length())
    order = np.arange(2**bits)
    reversed_order = np.zeros_like(order)
    for bit in range(bits):
        reversed_order |= ((order >> bit) & 1) << (bits - 1 - bit)
    return reversed_order[reversed_order < groups]


def run_groups(kernel_args, groups, callback, partial):
    """Run the scan kernel; with a callback, in a worker thread polled every checkpoint.

    Returns (measure (groups, LANES), finished (groups,) bool, stopped). The kernel checks
    the stop flag at every training step and every block of samples, so a stop takes effect
    within milliseconds of the callback's answer.
    """
    measure = np.full((groups, _kernels.LANES), np.nan)
    finished = np.zeros(groups, np.uint8)
    control = np.zeros(1, np.int64)
    order = _spread_order(groups)

    def work():
        _kernels._scan_kernel(*kernel_args, order, control, measure, finished)

    if callback is None:
        work()
        return measure, finished.astype(bool), False
    failures = []

    def guarded_work():
        try:
            work()
        except BaseException as error:  # noqa: BLE001 -- re-raised in the calling thread
            failures.append(error)

    worker = threading.Thread(target=guarded_work, name="explorer-fractal-scan", daemon=True)
    worker.start()
    stopped = False
    try:
        while True:
            worker.join(CHECKPOINT_SECONDS)
            if not worker.is_alive():
                break
            done = finished.astype(bool)
            if callback(partial(np.where(done[:, None], measure, np.nan))):
                control[0] = 1
                stopped = True
                worker.join()
                break
    except BaseException:  # the callback raised, or Ctrl-C: stop the kernel, then report
        control[0] = 1
        worker.join()
        raise
    if failures:
        raise failures[0]
    done = finished.astype(bool)
    return np.where(done[:, None], measure, np.nan), done, stopped and not done.all()
