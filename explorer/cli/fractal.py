"""``python -m explorer fractal``: render the trainability fractal headless (PNG + JSON)."""

from __future__ import annotations

import argparse
import contextlib
import functools
import json

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LinearSegmentedColormap

from explorer.fractal import (CONFIGURATIONS, NONLINEARITIES, OFFSET_MODES, PAPER_CONFIGURATIONS,
                              PHASE_SPACES, PaperTable, boundary, box_counting_dimension,
                              make_problem, paper_table, rank_stretch, scan)
from explorer.fractal.paper import FULL_SETTINGS, QUICK_SETTINGS

COLOURS = LinearSegmentedColormap.from_list(
    "converge_diverge", [(0.0, "#08306b"), (0.375, "#9ecae1"), (0.5, "#ffffff"),
                         (0.625, "#fcae91"), (1.0, "#67000d")])


QUICK_HELP = ("width 8, 100 steps, 64x64 pixels; with --paper-table: width 8, 64x64 images, "
              "zoom x256 (a few minutes)")
HEADLINE = ("configuration", "dimension_estimate", "dimensions", "diverged_fraction")


def _ratio(text: str):
    return text if text == "single_datapoint" else float(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--width", type=int, default=16, help="hidden units (default 16, the paper's)")
    parser.add_argument("--steps", type=int, default=500, help="training steps per pixel (default 500)")
    parser.add_argument("--resolution", type=int, default=256, help="pixels per side (default 256)")
    parser.add_argument("--x-range", type=float, nargs=2, default=(-3.0, 6.0), metavar=("LO", "HI"),
                        help="log10 bounds of the x axis (default -3 6)")
    parser.add_argument("--y-range", type=float, nargs=2, default=(-3.0, 6.0), metavar=("LO", "HI"),
                        help="log10 bounds of the y axis (default -3 6)")
    parser.add_argument("--configuration", choices=sorted(CONFIGURATIONS),
                        help="one of the paper's configurations (sets the options below; "
                             "options given explicitly win)")
    parser.add_argument("--nonlinearity", choices=NONLINEARITIES, default=None,
                        help="hidden activation (default tanh)")
    parser.add_argument("--phase-space", choices=PHASE_SPACES, default=None,
                        help="axes: two learning rates, or input-weight offset vs learning rate "
                             "(default lr_vs_lr)")
    parser.add_argument("--offset-mode", choices=OFFSET_MODES, default=None,
                        help="paraminit_vs_lr only: re-add the offset every step (the notebook's "
                             "drift, default) or once at the start")
    parser.add_argument("--dataset-param-ratio", type=_ratio, default=None, metavar="RATIO",
                        help="training points per parameter, or single_datapoint (default 1)")
    parser.add_argument("--minibatch", type=int, default=None, metavar="M",
                        help="samples per gradient step, with replacement (default: full batch)")
    parser.add_argument("--minibatch-seed", type=int, default=0, help="seed of the minibatches")
    parser.add_argument("--seed", type=int, default=0)
    table = parser.add_argument_group("the paper's dimension table")
    table.add_argument("--paper-table", action="store_true",
                       help="measure the box-counting dimension of every configuration along a "
                            "zoom, as the paper does; writes fractal_paper_table.md and .json, "
                            "and the six boundaries as the PNG (full mode: hours, use Dask)")
    table.add_argument("--table-configurations", default=",".join(PAPER_CONFIGURATIONS),
                       metavar="NAMES", help="comma-separated configurations (default: the six)")
    table.add_argument("--table-width", type=int, metavar="W",
                       help=f"hidden units (default {FULL_SETTINGS[0]}, quick {QUICK_SETTINGS[0]})")
    table.add_argument("--table-resolution", type=int, metavar="N",
                       help=f"pixels per side (default {FULL_SETTINGS[1]}, quick {QUICK_SETTINGS[1]})")
    table.add_argument("--table-steps", type=int, metavar="S",
                       help=f"base steps (default {FULL_SETTINGS[2]}, quick {QUICK_SETTINGS[2]}; "
                            "more for deeper zooms)")
    table.add_argument("--table-zoom", type=float, metavar="Z",
                       help=f"zoom depth (default {FULL_SETTINGS[3]:.0f}, quick {QUICK_SETTINGS[3]:.0f})")
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
    with _client(args) as client:
        if client is None:
            yield scan
        else:
            from explorer import distributed

            yield functools.partial(distributed.scan, client=client, tile=args.tile)


def zoom_video(problem, first, args, scan_function, options) -> str:
    """Render ``args.zoom_frames`` frames zooming geometrically into one point; write a GIF.

    Every frame is scanned with the first frame's ``options`` (phase space, offsets, batches).
    """
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
        frame = scan_function(problem, *window, args.resolution, args.steps, **options)
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


def _options(args):
    """Problem and scan options: the configuration's, overridden by explicit flags."""
    configuration = CONFIGURATIONS[args.configuration] if args.configuration else None

    def pick(flag, attribute, default):
        value = getattr(args, flag)
        if value is not None:
            return value
        return getattr(configuration, attribute) if configuration else default

    problem = {"nonlinearity": pick("nonlinearity", "nonlinearity", "tanh"),
               "dataset_param_ratio": pick("dataset_param_ratio", "dataset_param_ratio", 1.0)}
    options = {"phase_space": pick("phase_space", "phase_space", "lr_vs_lr"),
               "offset_mode": pick("offset_mode", "offset_mode", "every_step"),
               "minibatch": pick("minibatch", "minibatch", None)}
    if options["minibatch"] is not None:
        options["minibatch_seed"] = args.minibatch_seed
    return problem, options


def run(args):
    if args.paper_table:
        return run_paper_table(args)
    if args.quick:
        args.width, args.steps, args.resolution = 8, 100, 64
    problem_options, options = _options(args)
    problem = make_problem(width=args.width, seed=args.seed, **problem_options)
    with _scanner(args) as scan_function:
        cluster_options = {k: v for k, v in options.items() if v is not None}
        result = scan_function(problem, tuple(args.x_range), tuple(args.y_range), args.resolution,
                               args.steps, **cluster_options)
        video = (zoom_video(problem, result, args, scan_function, cluster_options)
                 if args.zoom_frames > 0 else None)
    fit = box_counting_dimension(boundary(result.measure))
    name = args.configuration or problem_options["nonlinearity"]
    title = f"{name}, width {args.width}, {args.steps} steps, {args.resolution}²"
    summary = {
        "configuration": name,
        "window": {"x_range": list(result.x_range), "y_range": list(result.y_range)},
        "axes": {"x": result.x_label, "y": result.y_label, "scale": "log10"},
        "resolution": args.resolution, "width": args.width, "steps": args.steps,
        **problem_options, **options, "seed": args.seed,
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


def run_paper_table(args):
    """``--paper-table``: the dimension table (Markdown, JSON) and a contact sheet (the PNG).

    The Markdown and JSON files are rewritten after every configuration, so an interrupted
    full run (hours) keeps the rows it finished.
    """
    names = [name.strip() for name in args.table_configurations.split(",") if name.strip()]
    args.out.mkdir(parents=True, exist_ok=True)
    markdown, details = args.out / "fractal_paper_table.md", args.out / "fractal_paper_table.json"
    finished = []

    def save(table):
        markdown.write_text(table.markdown() + "\n")
        details.write_text(json.dumps(table.as_dict(), indent=2) + "\n")

    def progress(row):
        finished.append(row)
        print(f"  {row.configuration}: dimension {row.dimension:.3f} ({row.seconds:.0f} s)",
              flush=True)
        save(PaperTable(tuple(finished), args.quick))

    with _client(args) as client:
        table = paper_table(quick=args.quick, client=client, configurations=names,
                            width=args.table_width, resolution=args.table_resolution,
                            steps=args.table_steps, zoom_depth=args.table_zoom, seed=args.seed,
                            progress=progress)
    save(table)
    summary = {"mode": "quick" if table.quick else "full",
               "dimensions": {row.configuration: round(row.dimension, 3) for row in table.rows},
               "paper_range": list(table.paper_range), "table_seconds": round(table.seconds, 1),
               "table_markdown": str(markdown), "table_json": str(details)}
    return plot_contact_sheet(table), summary


def plot_contact_sheet(table):
    """The widest and the narrowest image of every configuration's zoom, side by side."""
    columns = len(table.rows)
    figure, axes = plt.subplots(2, columns, figsize=(2.6 * columns, 5.6), squeeze=False)
    for column, row in enumerate(table.rows):
        for line, (image, caption) in enumerate(((row.first, "widest"),
                                                 (row.last, f"x{row.zoom_depth:.3g}"))):
            axes[line, column].imshow(rank_stretch(image), origin="lower", cmap=COLOURS,
                                      vmin=-1, vmax=1, interpolation="nearest")
            axes[line, column].set_axis_off()
            axes[line, column].set_title(f"{row.label}\n{caption}" if line == 0 else
                                         f"{caption}, D = {row.dimension:.2f}", fontsize=8)
    figure.suptitle("Trainability boundaries (blue converges, red diverges)\nD = median "
                    "box-counting slope along the zoom", fontsize=10)
    figure.tight_layout()
    return figure


@contextlib.contextmanager
def _client(args):
    if not (args.scheduler or args.local_workers):
        yield None
        return
    from explorer import distributed

    with distributed.cluster(args.scheduler, args.local_workers) as client:
        yield client


def warm() -> None:
    problem = make_problem(width=2)
    for nonlinearity in NONLINEARITIES:
        for phase_space in PHASE_SPACES:
            for minibatch in (None, 2):
                scan(problem.with_nonlinearity(nonlinearity), resolution=2, steps=21,
                     phase_space=phase_space, minibatch=minibatch)
