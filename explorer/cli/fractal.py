"""``python -m explorer fractal``: render the trainability fractal headless (PNG + JSON)."""

from __future__ import annotations

import argparse
import contextlib
import functools

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LinearSegmentedColormap

from explorer.fractal import (NONLINEARITIES, PHASE_SPACES, boundary, box_counting_dimension,
                              make_problem, rank_stretch, scan)

COLOURS = LinearSegmentedColormap.from_list(
    "converge_diverge", [(0.0, "#08306b"), (0.375, "#9ecae1"), (0.5, "#ffffff"),
                         (0.625, "#fcae91"), (1.0, "#67000d")])


QUICK_HELP = "width 8, 100 steps, 64x64 pixels"


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
    scale = parser.add_argument_group("scale out on Dask (pip install -e '.[dask]')")
    scale.add_argument("--scheduler", metavar="ADDRESS", help="run tiles on this Dask scheduler")
    scale.add_argument("--local-workers", type=int, metavar="N", help="run tiles on a local cluster of N processes")
    scale.add_argument("--tile", type=int, default=128, help="tile edge in pixels (default 128)")
    video = parser.add_argument_group("zoom video")
    video.add_argument("--zoom-frames", type=int, default=0, metavar="N",
                       help="also render N frames zooming in and write <out>/fractal_zoom.gif")
    video.add_argument("--zoom-factor", type=float, default=1e6, help="total zoom of the video (default 1e6)")
    video.add_argument("--zoom-center", type=float, nargs=2, metavar=("X", "Y"),
                       help="log10 centre of the zoom (default: a boundary point of the first frame)")


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


@contextlib.contextmanager
def _scanner(args):
    """``scan`` itself, or its Dask twin when a scheduler or local workers are asked for."""
    if not (args.scheduler or args.local_workers):
        yield scan
        return
    from explorer import distributed

    with distributed.cluster(args.scheduler, args.local_workers) as client:
        yield functools.partial(distributed.scan, client=client, tile=args.tile)


def zoom_video(problem, first, args, scan_function) -> str:
    """Render ``args.zoom_frames`` frames zooming geometrically into one point; write a GIF."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    center = args.zoom_center
    if center is None:
        points = first.boundary_points()
        center = points[len(points) // 2] if len(points) else (np.mean(first.x_range), np.mean(first.y_range))
    frames_dir = args.out / "fractal_zoom"
    frames_dir.mkdir(parents=True, exist_ok=True)
    per_frame = args.zoom_factor ** (1.0 / max(args.zoom_frames - 1, 1))
    window, images = (first.x_range, first.y_range), []
    for index in range(args.zoom_frames):
        frame = scan_function(problem, *window, args.resolution, args.steps, phase_space=args.phase_space)
        images.append((rank_stretch(frame.measure), [*frame.x_range, *frame.y_range]))
        plt.imsave(frames_dir / f"frame_{index:03d}.png", images[-1][0], cmap=COLOURS, vmin=-1,
                   vmax=1, origin="lower")
        window = frame.zoom(center, per_frame)
    figure, axes = plt.subplots(figsize=(5, 5))
    shown = axes.imshow(images[0][0], origin="lower", cmap=COLOURS, vmin=-1, vmax=1, aspect="auto")
    axes.set_axis_off()

    def draw(index):
        shown.set_data(images[index][0])
        axes.set_title(f"zoom x{per_frame ** index:.3g}")
        return (shown,)

    gif = args.out / "fractal_zoom.gif"
    FuncAnimation(figure, draw, frames=len(images)).save(gif, writer=PillowWriter(fps=4))
    plt.close(figure)
    return str(gif)


def run(args):
    if args.quick:
        args.width, args.steps, args.resolution = 8, 100, 64
    problem = make_problem(width=args.width, nonlinearity=args.nonlinearity, seed=args.seed)
    with _scanner(args) as scan_function:
        result = scan_function(problem, tuple(args.x_range), tuple(args.y_range), args.resolution,
                               args.steps, phase_space=args.phase_space)
        video = zoom_video(problem, result, args, scan_function) if args.zoom_frames > 0 else None
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
        "scheduler": args.scheduler or (f"local cluster of {args.local_workers}" if args.local_workers
                                        else "local threads"),
    }
    if video:
        summary["zoom_video"] = video
    return plot_scan(result, fit, title), summary


def warm() -> None:
    problem = make_problem(width=2)
    for nonlinearity in NONLINEARITIES:
        for phase_space in PHASE_SPACES:
            scan(problem.with_nonlinearity(nonlinearity), resolution=2, steps=21, phase_space=phase_space)
