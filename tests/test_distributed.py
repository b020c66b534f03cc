"""Scans and sweeps on a 2-worker LocalCluster equal the local runs exactly, even when a worker dies."""

import os
import signal

import numpy as np
import pytest

from explorer import distributed
from explorer.fractal import make_problem, scan

distributed_module = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def client():
    with distributed_module.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                         dashboard_address=None) as cluster:
        with distributed_module.Client(cluster) as client:
            yield client


@pytest.mark.parametrize("phase_space", ["lr_vs_lr", "paraminit_vs_lr"])
def test_tiled_scan_equals_local_scan_bit_for_bit(client, phase_space):
    problem = make_problem(width=4, seed=3)
    window = dict(x_range=(-2, 3), y_range=(-1, 4), resolution=(37, 29), steps=30, phase_space=phase_space)
    arrived = []
    tiled = distributed.scan(problem, **window, client=client, tile=16,
                             on_tile=lambda rows, cols, measure: arrived.append((rows, cols)))
    local = scan(problem, **window)
    np.testing.assert_array_equal(tiled.measure, local.measure)
    np.testing.assert_array_equal(tiled.diverged, local.diverged)
    np.testing.assert_array_equal(tiled.x, local.x)
    assert len(arrived) == len(distributed.tiles(local.measure.shape, 16)) == 3 * 2


@pytest.mark.parametrize("name", ["tanh_minibatch", "tanh_single_datapoint", "identity",
                                  "tanh_paraminit_shifted"])
def test_every_configuration_tiles_to_the_same_bits(client, name):
    from explorer.fractal import CONFIGURATIONS

    configuration = CONFIGURATIONS[name]
    problem = configuration.problem(width=4, seed=1)
    options = {**configuration.scan_options(), "minibatch_seed": 7}
    window = dict(x_range=(-2, 3), y_range=(-1, 4), resolution=(21, 18), steps=40)
    tiled = distributed.scan(problem, **window, **options, client=client, tile=8)
    local = scan(problem, **window, **options)
    np.testing.assert_array_equal(tiled.measure, local.measure)
    assert (tiled.minibatch, tiled.minibatch_seed) == (local.minibatch, local.minibatch_seed)


def test_tiles_cover_the_grid_once():
    cover = np.zeros((29, 37), int)
    for rows, cols in distributed.tiles(cover.shape, 8):
        cover[rows, cols] += 1
    assert (cover == 1).all()


def test_cancelled_scan_reports_its_finished_part(client):
    problem = make_problem(width=4)
    arrived = []  # stop right after the first tile: stopping at once raced that tile against
    # the 0.5 s stop poll, and under load no tile had finished (CI, dc4f07e's parent)
    with pytest.raises(distributed.Cancelled) as caught:
        distributed.scan(problem, resolution=32, steps=30, client=client, tile=8,
                         on_tile=lambda *tile: arrived.append(tile), should_stop=lambda: bool(arrived))
    partial = caught.value.measure
    assert len(arrived) == 1 and np.isfinite(partial).sum() == 8 * 8
    finished = np.isfinite(partial)
    np.testing.assert_array_equal(partial[finished], scan(problem, resolution=32, steps=30).measure[finished])


def test_a_worker_killed_mid_run_still_yields_the_full_result(client):
    problem = make_problem(width=6, seed=1)
    window = dict(x_range=(-1, 4), y_range=(-1, 4), resolution=48, steps=200)
    killed = []

    def kill_one_worker(rows, cols, measure):
        if not killed:
            pid_by_worker = client.run(os.getpid)
            victim = sorted(pid_by_worker)[0]
            os.kill(pid_by_worker[victim], signal.SIGKILL)
            killed.append(victim)

    tiled = distributed.scan(problem, **window, client=client, tile=8, on_tile=kill_one_worker)
    assert killed
    np.testing.assert_array_equal(tiled.measure, scan(problem, **window).measure)


def test_bad_tile_is_rejected_before_any_cluster_starts():
    with pytest.raises(ValueError, match="tile"):
        distributed.scan(make_problem(width=2), resolution=8, steps=21, tile=2)
    with pytest.raises(ValueError, match="steps"):
        distributed.scan(make_problem(width=2), resolution=8, steps=3)


def test_sweep_equals_sequential_runs(client):
    from explorer.grokking import sweep

    grid = {"weight_decay": [0.0, 1.0], "train_fraction": [0.4, 0.6]}
    fixed = dict(p=23, width=48, lr=1e-2, steps=300, eval_every=10, seed=2)
    arrived = []
    parallel = distributed.sweep(grid, client=client, on_point=lambda i, o: arrived.append(i), **fixed)
    sequential = sweep(grid, **fixed)
    assert sorted(arrived) == [0, 1, 2, 3]
    for name in ("steps_to_generalise", "steps_to_memorise", "final_test_acc", "diverged"):
        np.testing.assert_array_equal(getattr(parallel, name), getattr(sequential, name))
    assert parallel.names == sequential.names and parallel.fixed == sequential.fixed
    assert np.isfinite(sequential.steps_to_memorise).all()  # the grid is not trivially empty


def test_sweep_validates_the_whole_grid_first():
    with pytest.raises(ValueError, match="weight_decay"):
        distributed.sweep({"weight_decay": [0.0, -1.0]}, p=11, width=8, steps=10)


# -- arguments are checked before any cluster starts (issue 10) -------------------------------
@pytest.mark.parametrize("call", [distributed.scan, distributed.sweep])
@pytest.mark.parametrize("n_workers", [-1, 0, 2.5, 10**6])
def test_worker_counts_out_of_bounds_are_refused_at_once(call, n_workers):
    arguments = ((make_problem(width=2),) if call is distributed.scan else ({"weight_decay": [0.0]},))
    with pytest.raises(ValueError, match=rf"n_workers must be an integer in \[1, 1024\], got {n_workers}"):
        call(*arguments, n_workers=n_workers, **({} if call is distributed.scan else {"p": 5}))


@pytest.mark.parametrize("name", ["callback", "on_tile", "should_stop"])
def test_scan_callbacks_must_be_callable_before_work_starts(name):
    with pytest.raises(TypeError, match=f"{name} must be callable"):
        distributed.scan(make_problem(width=2), resolution=8, steps=21, **{name: 5})


@pytest.mark.parametrize("name", ["on_point", "should_stop"])
def test_sweep_callbacks_must_be_callable_before_work_starts(name):
    with pytest.raises(TypeError, match=f"{name} must be callable"):
        distributed.sweep({"weight_decay": [0.0]}, p=5, steps=10, **{name: "later"})


def test_a_client_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="client must be a Client or None, got str"):
        distributed.scan(make_problem(width=2), resolution=8, steps=21, client="tcp://host:8786")
    with pytest.raises(TypeError, match="client must be a Client"):
        distributed.sweep({"weight_decay": [0.0]}, p=5, client=object())
    with pytest.raises(ValueError, match="cache_dir must be an existing directory"):
        distributed.scan(make_problem(width=2), resolution=8, steps=21, cache_dir="/no/such/place")


def test_scan_accepts_every_argument_of_the_local_scan():
    import inspect

    local = inspect.signature(scan).parameters
    tiled = inspect.signature(distributed.scan).parameters
    for name, parameter in local.items():
        assert name in tiled, f"distributed.scan lacks {name!r}"
        assert tiled[name].default == parameter.default, name


# -- the callback protocol, resumable tiles, progress -----------------------------------------
def test_callback_sees_partial_scans_and_stops_the_scan(client):
    problem = make_problem(width=4)
    partials = []

    def callback(partial):
        partials.append(partial.finished.sum())
        return len(partials) == 2

    stopped = distributed.scan(problem, resolution=32, steps=30, client=client, tile=8,
                               callback=callback)
    assert len(partials) == 2 and partials[0] <= partials[1] < 32 * 32
    assert stopped.stopped_early and np.isnan(stopped.measure).any()
    done = stopped.finished
    np.testing.assert_array_equal(stopped.measure[done], scan(problem, resolution=32, steps=30).measure[done])


def test_an_interrupted_scan_resumes_from_the_tiles_on_disk(client, tmp_path):
    problem = make_problem(width=4, seed=5)
    window = dict(x_range=(-1, 4), y_range=(-1, 4), resolution=40, steps=30)
    interrupted = distributed.scan(problem, **window, client=client, tile=8, cache_dir=tmp_path,
                                   callback=lambda partial: partial.finished.sum() >= 3 * 64)
    assert interrupted.stopped_early
    finished_before = interrupted.finished.sum()
    computed = []
    resumed = distributed.scan(problem, **window, client=client, tile=8, cache_dir=tmp_path,
                               on_tile=lambda rows, cols, measure: computed.append((rows, cols)))
    assert 8 * 8 * len(computed) + finished_before == 40 * 40  # only the missing tiles ran
    np.testing.assert_array_equal(resumed.measure, scan(problem, **window).measure)
    again = []
    distributed.scan(problem, **window, client=client, tile=8, cache_dir=tmp_path,
                     on_tile=lambda *tile: again.append(tile))
    assert again == []  # everything came from disk
    other = []
    distributed.scan(problem, **{**window, "steps": 31}, client=client, tile=8, cache_dir=tmp_path,
                     on_tile=lambda *tile: other.append(tile))
    assert len(other) == 25  # another setting, another key: nothing reused
    assert len(list(tmp_path.iterdir())) == 2


def test_progress_prints_tiles_and_the_time_left(client, capsys):
    distributed.scan(make_problem(width=4), resolution=32, steps=30, client=client, tile=16,
                     progress=True)
    err = capsys.readouterr().err
    assert "tiles 4/4 (100% of pixels)" in err


def test_stop_takes_effect_while_a_long_tile_is_still_running(client):
    """Checkpoints come every ~0.5 s even when no tile finishes (issue 13 #6)."""
    checks = []
    stopped = distributed.scan(make_problem(width=16), (-3, -2), (-3, -2), resolution=24, steps=400,
                               client=client, tile=24, callback=lambda partial: checks.append(1) or True)
    assert checks == [1] and stopped.stopped_early and np.isnan(stopped.measure).all()


# -- zoom videos: frames as tiles, following the boundary, resumable --------------------------
def test_a_zoom_video_follows_the_boundary_and_equals_local_scans(client):
    from explorer.fractal import boundary
    from explorer.fractal.video import render_zoom

    problem = make_problem(width=4, seed=2)
    video = render_zoom(problem, zoom=64, frames=4, resolution=32, steps=60, client=client, tile=16)
    assert video.measures.shape == (4, 32, 32) and not video.stopped_early
    np.testing.assert_allclose(video.zooms, 4.0 ** np.arange(4))
    for index, window in enumerate(video.windows):
        local = scan(problem, *window, resolution=32, steps=60)
        np.testing.assert_array_equal(video.measures[index], local.measure)
        assert boundary(local.measure).any()  # the boundary stays in view at every depth
        if index:
            previous = scan(problem, *video.windows[index - 1], resolution=32, steps=60)
            centre = video.centres[index]
            assert np.abs(previous.boundary_points() - centre).sum(axis=1).min() < 1e-12
            assert np.mean(window.x_range) == pytest.approx(centre[0])


def test_an_interrupted_zoom_video_resumes_without_redoing_finished_frames(client, tmp_path):
    from explorer.fractal.video import render_zoom

    problem = make_problem(width=4, seed=2)
    settings = dict(zoom=27, frames=4, resolution=32, steps=40, client=client, tile=16,
                    cache_dir=tmp_path)
    stopped = render_zoom(problem, **settings, callback=lambda partial: len(partial.measures) == 2)
    assert stopped.stopped_early and len(stopped.measures) == 2
    first_tiles = {path: path.stat().st_mtime_ns for path in tmp_path.rglob("tile-*.npy")}
    assert len(first_tiles) == 2 * 4
    resumed = render_zoom(problem, **settings)
    assert len(list(tmp_path.rglob("tile-*.npy"))) == 4 * 4
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in first_tiles.items())
    fresh = render_zoom(problem, **{**settings, "cache_dir": None})
    np.testing.assert_array_equal(resumed.measures, fresh.measures)
    np.testing.assert_array_equal(resumed.measures[:2], stopped.measures)


def test_zoom_video_arguments_are_checked_before_rendering():
    from explorer.fractal.video import render_zoom

    problem = make_problem(width=2)
    for bad, message in [(dict(zoom=1e300), "zoom must be"), (dict(frames=1), "frames must be"),
                         (dict(center="ab"), "center must be a log10 point"),
                         (dict(resolution=8), "resolution must be"),
                         (dict(zoom=1e12, resolution=4096), "too narrow")]:
        with pytest.raises(ValueError, match=message):
            render_zoom(problem, **bad)
    with pytest.raises(TypeError, match="callback must be callable"):
        render_zoom(problem, callback=3)
    with pytest.raises(TypeError, match="client must be a Client"):
        render_zoom(problem, client="tcp://host:8786")


def test_write_video_writes_a_gif_without_ffmpeg_and_finds_ffmpeg_when_present(tmp_path, monkeypatch):
    from explorer.fractal import video as zoom_video

    frames = zoom_frames([((-3, 6), (-3, 6)), ((0, 3), (0, 3))])
    monkeypatch.setattr(zoom_video, "ffmpeg_path", lambda: None)
    written = zoom_video.write_video(frames, tmp_path / "zoom.mp4", fps=2, dpi=30)
    assert written == tmp_path / "zoom.gif" and written.read_bytes()[:3] == b"GIF"
    monkeypatch.undo()
    monkeypatch.setattr("shutil.which", lambda name: "/opt/bin/ffmpeg" if name == "ffmpeg" else None)
    assert zoom_video.ffmpeg_path() == "/opt/bin/ffmpeg"


@pytest.mark.parametrize("dpi", [30, 25])  # 25: 125 x 135 pixels, odd sides that yuv420p refuses
def test_write_video_writes_an_mp4_with_imageio_ffmpeg(tmp_path, dpi):
    import imageio_ffmpeg  # the dev extra installs it: an ffmpeg binary without a system one

    from explorer.fractal import video as zoom_video

    frames = zoom_frames([((-3, 6), (-3, 6)), ((0, 3), (0, 3)), ((1, 2), (1, 2))])
    written = zoom_video.write_video(frames, tmp_path / "zoom.gif", fps=2, dpi=dpi)
    assert written == tmp_path / "zoom.mp4"
    reader = imageio_ffmpeg.read_frames(str(written))
    meta = next(reader)
    width, height = meta["size"]
    assert (width, height) == (-(-5 * dpi // 2) * 2, -(-int(5.4 * dpi) // 2) * 2)
    pictures = [np.frombuffer(frame, np.uint8).reshape(height, width, 3) for frame in reader]
    assert len(pictures) == len(frames.measures)
    # the frames differ (each shows its own window) and are not blank
    assert all(picture.std() > 5 for picture in pictures)
    assert not np.array_equal(pictures[0], pictures[1])


def zoom_frames(windows):
    """ZoomFrames of small local scans of ``windows`` ((x_range, y_range) pairs)."""
    from explorer.fractal.video import ZoomFrames

    return ZoomFrames(
        measures=np.stack([scan(make_problem(width=2), *window, resolution=16, steps=21).measure
                           for window in windows]),
        windows=tuple(distributed_window(*window) for window in windows),
        centres=np.array([[1.5, 1.5]] * len(windows)), steps=21, phase_space="lr_vs_lr",
        seconds=0.0)


def distributed_window(x_range, y_range):
    from explorer.fractal import Window

    return Window(tuple(map(float, x_range)), tuple(map(float, y_range)))
