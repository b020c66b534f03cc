"""``python -m explorer fractal``: render the trainability fractal headless (PNG + JSON)."""

from __future__ import annotations

import argparse

import matplotlib.pyplot as plt
from matplotlib.colors import LinearSegmentedColormap

from explorer.fractal import (NONLINEARITIES, PHASE_SPACES, boundary, box_counting_dimension,
                              make_problem, rank_stretch, scan)

COLOURS = LinearSegmentedColormap.from_list(
    "converge_diverge", [(0.0, "#08306b"), (0.375, "#9ecae1"), (0.5, "#ffffff"),
                         (0.625, "#fcae91"), (1.0, "#67000d")])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--width", type=int, default=16, help="hidden units (default 16, the paper's)")
    parser.add_argument("--steps", type=int, default=500, help="training steps per pixel (default 500)")
    parser.add_argument("--resolution", type=int, default=256, help="pixels per side (default 256)")
    parser.add_argument("--x-range", type=float, nargs=2, default=(-3.0, 6.0), metavar=("LO", "HI"),
                        help="log10 bounds of the x axis (default -3 6)")
    parser.add_argument("--y-range", type=float, nargs=2, default=(-3.0, 6.0), metavar=("LO", "HI"),
                        help="log10 bounds of the y axis (default -3 6)")
    parser.add_argument("--nonlinearity", choices=NONLINEARITIES, default="tanh")
    parser.add_argument("--phase-space", choices=PHASE_SPACES, default="lr_vs_lr")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="width 8, 100 steps, 64 pixels")


def plot_scan(result, dimension_fit, title: str):
    """Heatmap of the rank-stretched measure beside the box-counting plot."""
    figure, (image_axes, count_axes) = plt.subplots(1, 2, figsize=(12, 5.2),
                                                    gridspec_kw={"width_ratios": [1.25, 1]})
    extent = [*result.x_range, *result.y_range]
    image = image_axes.imshow(rank_stretch(result.measure), origin="lower", extent=extent,
                              cmap=COLOURS, vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
    image_axes.set(xlabel=f"log10 {result.x_label}", ylabel=f"log10 {result.y_label}", title=title)
    figure.colorbar(image, ax=image_axes, label="rank-stretched measure (blue converges, red diverges)")
    count_axes.loglog(dimension_fit.sizes, dimension_fit.counts, "o-")
    count_axes.set(xlabel="box edge (pixels)", ylabel="boxes holding boundary",
                   title=f"box-counting dimension ≈ {dimension_fit.dimension:.3f}")
    figure.tight_layout()
    return figure


def run(args):
    if args.quick:
        args.width, args.steps, args.resolution = 8, 100, 64
    problem = make_problem(width=args.width, nonlinearity=args.nonlinearity, seed=args.seed)
    result = scan(problem, tuple(args.x_range), tuple(args.y_range), args.resolution, args.steps,
                  phase_space=args.phase_space)
    fit = box_counting_dimension(boundary(result.measure))
    title = f"{args.nonlinearity}, width {args.width}, {args.steps} steps, {args.resolution}²"
    summary = {
        "window": {"x_range": list(result.x_range), "y_range": list(result.y_range)},
        "axes": {"x": result.x_label, "y": result.y_label, "scale": "log10"},
        "resolution": args.resolution, "width": args.width, "steps": args.steps,
        "nonlinearity": args.nonlinearity, "phase_space": args.phase_space, "seed": args.seed,
        "diverged_fraction": result.diverged_fraction,
        "dimension_estimate": fit.dimension,
        "box_sizes": fit.sizes.tolist(), "box_counts": fit.counts.tolist(),
        "scan_seconds": round(result.seconds, 3),
        "pixels_per_second": round(result.pixels_per_second, 1),
    }
    return plot_scan(result, fit, title), summary


def warm() -> None:
    problem = make_problem(width=2)
    for nonlinearity in NONLINEARITIES:
        for phase_space in PHASE_SPACES:
            scan(problem.with_nonlinearity(nonlinearity), resolution=2, steps=21, phase_space=phase_space)
