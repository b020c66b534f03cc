"""Every public callable of explorer, found from each subpackage's ``__all__``, with a small
valid call (its *baseline*) that the bad-input suite perturbs one parameter at a time.

Discovery is automatic: a function, class or public method that appears in an ``__all__``
without a baseline here (or a place in :data:`CONTAINERS`) fails the suite, so a new public
name cannot escape it. Baselines are tiny so that every perturbed call is cheap.
"""

from __future__ import annotations

import functools
import inspect
from types import SimpleNamespace

import numpy as np

SUBPACKAGES = ("fractal", "grokking", "koopman", "blending", "distributed")

#: result containers: built by the library, not by users; their constructors are not fuzzed
#: (their equality and hashing are checked on every result the suite sees)
CONTAINERS = {
    "fractal.BoxCounting", "fractal.Scan", "fractal.Window", "grokking.FourierProbe",
    "grokking.GridPointResult", "grokking.History", "grokking.NeuronSpectra", "grokking.Phases",
    "grokking.ProgressMeasures", "grokking.Run", "grokking.SweepResult", "grokking.Task",
    "koopman.Snapshots", "koopman.DMDResult", "koopman.PiecewiseDMD", "koopman.PiecewiseSearch", "koopman.EDMDResult",
    "koopman.SpectralMeasure", "koopman.VerifiedSpectrum", "koopman.Pseudoeigenfunctions",
    "koopman.PseudospectrumProgress", "koopman.KernelDictionary", "koopman.RationalKernel",
    "koopman.SystemSpec", "koopman.DictionarySpec", "blending.EndpointSpread", "blending.PosteriorMeans",
    "blending.PosteriorSample", "blending.SampleQuality", "blending.StochasticPaths",
    "blending.TrainedDeblender", "blending.Trajectory", "blending.VectorField",
    "fractal.PaperRow", "fractal.PaperTable", "fractal.ScanCost", "fractal.ZoomDimension",
    "grokking.GroupFourier", "grokking.Irreps", "grokking.NeuronIrreps", "grokking.PowerLawFit",
    "grokking.ScalingFit", "grokking.ScalingResult", "grokking.ComparisonRun",
    "grokking.GrokfastComparison", "grokking.PowerLaw", "blending.ImageClassifier",
    "blending.ImageDataset", "blending.ImageQuality", "blending.NoisePath",
    "blending.SamplerComparison",
}
#: public names that are not callables of the API (constants, tables)
#: (anything in ``__all__`` that is not a function or class is skipped automatically)


# -- fixtures: small valid objects the baselines are made of, built once per process --------
@functools.cache
def fixtures() -> SimpleNamespace:
    from explorer import blending, fractal, grokking, koopman

    f = SimpleNamespace()
    f.problem = fractal.make_problem(width=2, seed=0)
    f.scan = fractal.scan(f.problem, (-1.0, 1.0), (-1.0, 1.0), resolution=6, steps=21)
    f.window = fractal.Window((-1.0, 1.0), (-1.0, 1.0))
    f.task = grokking.make_task(p=5, train_fraction=0.5, seed=0)
    f.params = grokking.init_params(p=5, width=8, seed=0)
    f.run = grokking.train(p=5, width=8, steps=20, eval_every=10, snapshot_every=10)
    f.history = f.run.history
    f.probe = grokking.probe(f.params, f.task)
    f.config = grokking.TrainConfig(p=5, width=8, steps=20)
    rng = np.random.default_rng(0)
    f.snapshots = koopman.linear_map(np.array([[0.9, 0.1], [0.0, 0.8]]), steps=20, trajectories=2)
    f.X = rng.standard_normal((2, 30))
    f.Y = 0.9 * f.X
    f.dmd = koopman.dmd(f.X, f.Y, rank=2)
    f.monomials = koopman.monomials(2)
    f.rbf = koopman.radial_basis(f.X[:, :4].T, width=1.0)
    f.edmd = koopman.edmd(f.X, f.Y, f.monomials)
    f.observable = np.eye(f.edmd.K.shape[0])[1]
    f.measure = koopman.spectral_measure(f.edmd, f.observable)
    f.targets = blending.TwoMoons().sample(20, seed=0)
    f.x0 = blending.Gaussian().sample(8, seed=1)
    f.exact = blending.ExactDeblender(f.targets)
    f.gaussian_deblender = blending.GaussianDeblender()
    f.mlp = blending.init_mlp(width=8, depth=2, seed=0)
    f.trained = blending.train_deblender(f.targets, steps=20, batch=8, width=8, depth=2)
    f.grid_density = blending.GridDensity(np.ones((4, 4)))
    _newer_fixtures(f)
    return f


class _ThresholdExecutor:
    """Stands in for a process pool in a scaling sweep: a run generalises exactly when its
    training set holds at least twice the group's order of pairs (no training happens), so
    the sweep has a finite critical size for every order and its fit has points."""

    def submit(self, function, config, threshold):
        from concurrent.futures import Future

        from explorer import grokking

        size = round(config.train_fraction * config.p**2)
        future = Future()
        future.set_result(grokking.GridPointResult(
            10.0 if size >= 2 * config.p else np.nan, 5.0, 1.0, False))
        return future


def _newer_fixtures(f) -> None:
    """Fixtures of the public names added after the first registry (paper table, groups,
    scaling, transformer, Grokfast comparison, image datasets, sampler comparison)."""
    from explorer import blending, fractal, grokking

    f.fractal_configuration = fractal.Configuration("tanh", "tanh, full batch")
    f.paper_table = fractal.paper_table(quick=True, configurations=["identity"], width=2,
                                        resolution=21, steps=21, zoom_depth=2)
    f.group_fourier = grokking.group_fourier(np.arange(6.0), "symmetric:3")
    f.scaling = grokking.scaling_sweep(["cyclic:5", "cyclic:7"], seeds=[0], steps=10,
                                       multipliers=np.array([0.5, 1.0, 2.0, 4.0]), width=8,
                                       executor=_ThresholdExecutor())
    f.transformer = grokking.init_transformer(p=5, d_model=4, heads=2, d_mlp=4)
    f.comparison = grokking.grokfast_comparison(["paper"], model="mlp", p=5, width=4, steps=4,
                                                eval_every=2, batch_size=8)
    f.digits = blending.image_dataset("digits").subset(np.arange(40))
    f.digits_train, f.digits_held_out = f.digits.split(0.5, seed=0)
    f.classifier = blending.train_classifier(f.digits_train.points, f.digits_train.labels,
                                             steps=5, batch=8, width=8, report_every=5)
    f.image_quality = blending.image_quality(f.digits_held_out.points[:6], f.digits_train,
                                             f.digits_held_out, f.classifier)
    f.labelled_exact = blending.ExactDeblender(f.targets, labels=np.arange(20) % 2)
    f.mixture = blending.GaussianMixture(np.zeros((2, 2)), 1.0)
    f.sampler_comparison = blending.compare_samplers(f.exact, f.x0, f.targets, T=(2, 4),
                                                     methods=("euler",), repeats=1,
                                                     n_directions=8)


def _baselines(f) -> dict:
    """name -> dict of arguments (a ``self`` entry names the instance of a method)."""
    from explorer import grokking

    return {
        # fractal
        "fractal.Problem": dict(X=f.problem.X, Y=f.problem.Y, W1=f.problem.W1, W2=f.problem.W2),
        "fractal.Problem.with_nonlinearity": dict(self=f.problem, nonlinearity="relu"),
        "fractal.Scan.from_measure": dict(x=f.scan.x, y=f.scan.y, measure=f.scan.measure, steps=21,
                                          phase_space="lr_vs_lr"),
        "fractal.Scan.boundary_points": dict(self=f.scan),
        "fractal.Scan.zoom": dict(self=f.scan, center=(0.0, 0.0), factor=2.0),
        "fractal.boundary": dict(measure=f.scan.measure),
        "fractal.box_counting_dimension": dict(boundary_mask=f.scan.measure > 0),
        "fractal.grid_axes": dict(x_range=(-1.0, 1.0), y_range=(-1.0, 1.0), resolution=4),
        "fractal.loss_trajectory": dict(problem=f.problem, x=0.1, y=0.1, steps=21),
        "fractal.make_problem": dict(width=2, seed=0),
        "fractal.mandelbrot": dict(resolution=8, iterations=10),
        "fractal.measure_pixels": dict(problem=f.problem, x=f.scan.x[:2], y=f.scan.y[:2], steps=21),
        "fractal.rank_stretch": dict(measure=f.scan.measure),
        "fractal.scan": dict(problem=f.problem, x_range=(-1.0, 1.0), y_range=(-1.0, 1.0),
                             resolution=4, steps=21),
        "fractal.zoom_window": dict(window=f.window, center=(0.0, 0.0), factor=2.0),
        # grokking
        "grokking.GrokfastEMA": dict(alpha=0.9, lamb=1.0),
        "grokking.GrokfastMA": dict(window=5, lamb=1.0),
        "grokking.Params": dict(U=f.params.U, V=f.params.V, W=f.params.W),
        "grokking.Params.stacked": dict(self=f.params),
        "grokking.Params.from_stacked": dict(theta=f.params.stacked()),
        "grokking.Phases.as_dict": dict(self=grokking.detect_phases(f.history)),
        "grokking.ProgressMeasures.from_probes": dict(steps=np.array([0]), probes=[f.probe],
                                                      frequencies=np.array([1])),
        "grokking.History.steps_to": dict(self=f.history, metric="train_acc", threshold=0.5),
        "grokking.Run.steps_to": dict(self=f.run, metric="train_acc", threshold=0.5),
        "grokking.Task.split": dict(self=f.task, name="train"),
        "grokking.TrainConfig": dict(p=5, width=8, steps=20),
        "grokking.TrainConfig.make_task": dict(self=f.config),
        "grokking.accuracy": dict(params=f.params, task=f.task),
        "grokking.analytic_solution": dict(p=5, width=6),
        "grokking.as_params": dict(params=f.params),
        "grokking.detect_phases": dict(history=f.history),
        "grokking.dominant_frequencies": dict(params=f.params),
        "grokking.excluded_loss": dict(params=f.params, task=f.task),
        "grokking.fourier_ablation_losses": dict(params=f.params, task=f.task, frequencies=[1]),
        "grokking.fourier_gini": dict(params=f.params),
        "grokking.frequency_histogram": dict(params=f.params),
        "grokking.gini": dict(values=np.array([1.0, 2.0, 3.0])),
        "grokking.grid_configs": dict(param_grid={"lr": [1e-3]}, p=5, width=8, steps=20),
        "grokking.init_params": dict(p=5, width=8),
        "grokking.ipr": dict(params=f.params),
        "grokking.key_frequencies": dict(params=f.params),
        "grokking.logits": dict(params=f.params, a=np.array([0, 1]), b=np.array([1, 2])),
        "grokking.loss_and_gradients": dict(params=f.params, a=np.array([0, 1]), b=np.array([1, 2]),
                                            labels=np.array([1, 3])),
        "grokking.make_task": dict(p=5, train_fraction=0.5),
        "grokking.neuron_spectra": dict(params=f.params),
        "grokking.probe": dict(params=f.params, task=f.task),
        "grokking.progress_measures": dict(history=f.history, task=f.task),
        "grokking.restricted_loss": dict(params=f.params, task=f.task),
        "grokking.run_grid_point": dict(config=f.config),
        "grokking.sweep": dict(param_grid={"lr": [1e-3]}, p=5, width=8, steps=20),
        "grokking.train": dict(p=5, width=8, steps=20, eval_every=10),
        "grokking.train_from_config": dict(config=f.config),
        # koopman
        "koopman.linear_map": dict(matrix=np.array([[0.9, 0.0], [0.0, 0.5]]), steps=10),
        "koopman.linear_flow": dict(matrix=np.array([[-0.1, 1.0], [-1.0, -0.1]]), steps=10),
        "koopman.slow_manifold": dict(steps=10, trajectories=2),
        "koopman.duffing": dict(steps=10, trajectories=2),
        "koopman.van_der_pol": dict(steps=10),
        "koopman.pendulum": dict(steps=10, trajectories=2),
        "koopman.lorenz63": dict(steps=10, transient=0.1),
        "koopman.logistic_map": dict(steps=10),
        "koopman.fitzhugh_nagumo": dict(n_grid=16, steps=10),
        "koopman.dmd": dict(X=f.X, Y=f.Y, rank=2),
        "koopman.DMDResult.reconstruct": dict(self=f.dmd, steps=5),
        "koopman.delay_embedding": dict(snapshots=f.X, delays=2),
        "koopman.piece_boundaries": dict(m=30, pieces=3),
        "koopman.piecewise_dmd": dict(X=f.X, pieces=2, rank=1),
        "koopman.auto_piecewise_dmd": dict(X=f.X, target=0.5),
        "koopman.randomized_qb": dict(X=f.X, rank=1),
        "koopman.lambda_omega": dict(resolution=8, steps=3),
        "koopman.lambda_omega_stable_step": dict(resolution=8),
        "koopman.Monomials": dict(degree=2),
        "koopman.Monomials.exponents": dict(self=f.monomials, n_state=2),
        "koopman.Monomials.labels": dict(self=f.monomials, n_state=2),
        "koopman.Monomials.size": dict(self=f.monomials, n_state=2),
        "koopman.RadialBasis": dict(centers=f.X[:, :4].T, width=1.0, kind="gaussian"),
        "koopman.RadialBasis.labels": dict(self=f.rbf),
        "koopman.RadialBasis.size": dict(self=f.rbf, n_state=2),
        "koopman.monomials": dict(degree=2),
        "koopman.radial_basis": dict(centers=f.X[:, :4].T),
        "koopman.pick_centers": dict(X=f.X, count=3),
        "koopman.evaluate_dictionary": dict(dictionary=f.monomials, X=f.X),
        "koopman.edmd": dict(X=f.X, Y=f.Y, dictionary=f.monomials),
        "koopman.EDMDResult.evaluate_eigenfunctions": dict(self=f.edmd, points=f.X[:, :3]),
        "koopman.EDMDResult.verified_eigs": dict(self=f.edmd, tol=0.1),
        "koopman.verified_eigs": dict(result=f.edmd, tol=0.1),
        "koopman.pseudospectrum": dict(result=f.edmd, grid=np.array([0.5 + 0.1j, 1.0 + 0j])),
        "koopman.spectral_measure": dict(result=f.edmd, observable=f.observable),
        "koopman.SpectralMeasure.smoothed": dict(self=f.measure, angles=np.linspace(-3, 3, 5)),
        **_koopman_spectra_baselines(f),
        **_newer_baselines(f),
        # blending
        "blending.MLP": dict(width=f.mlp.width, depth=f.mlp.depth, activation=f.mlp.activation,
                             params=f.mlp.params),
        "blending.MLP.layers": dict(self=f.mlp),
        "blending.MLP.loss_and_gradient": dict(self=f.mlp, x_alpha=f.x0, alpha=np.full(8, 0.5),
                                               velocity=f.x0),
        "blending.Checkerboard": dict(cells=4),
        "blending.Checkerboard.sample": dict(self=_density("Checkerboard"), n=5),
        "blending.ConcentricRings": dict(),
        "blending.ConcentricRings.sample": dict(self=_density("ConcentricRings"), n=5),
        "blending.EightGaussians": dict(),
        "blending.EightGaussians.sample": dict(self=_density("EightGaussians"), n=5),
        "blending.Gaussian": dict(),
        "blending.Gaussian.sample": dict(self=_density("Gaussian"), n=5),
        "blending.Spiral": dict(),
        "blending.Spiral.sample": dict(self=_density("Spiral"), n=5),
        "blending.TwoMoons": dict(),
        "blending.TwoMoons.sample": dict(self=_density("TwoMoons"), n=5),
        "blending.GridDensity": dict(weights=np.ones((4, 4))),
        "blending.GridDensity.sample": dict(self=f.grid_density, n=5),
        "blending.ExactDeblender": dict(target_points=f.targets),
        "blending.ExactDeblender.posterior_mean": dict(self=f.exact, x=f.x0, alpha=0.5),
        "blending.ExactDeblender.posterior_sample": dict(self=f.exact, x=f.x0, alpha=0.5),
        "blending.GaussianDeblender": dict(),
        "blending.GaussianDeblender.exact_map": dict(self=f.gaussian_deblender, x0=f.x0),
        "blending.alpha_schedule": dict(T=8),
        "blending.distance_to_nearest": dict(points=f.x0, reference=f.targets),
        "blending.drawing_density": dict(drawing="#.\n.#"),
        "blending.endpoint_spread": dict(exact_deblender=f.exact, x0=f.x0[:2], T=(1, 4), n_paths=4),
        "blending.energy_distance": dict(a=f.x0, b=f.targets),
        "blending.image_density": dict(image=np.eye(4)),
        "blending.init_mlp": dict(width=8, depth=2),
        "blending.make_density": dict(name="two_moons"),
        "blending.parameter_count": dict(width=8, depth=2),
        "blending.sample": dict(deblender=f.exact, x0=f.x0, T=4),
        "blending.sample_quality": dict(samples=f.x0, target=blending_target(), n_directions=8,
                                        repeats=1),
        "blending.sliced_wasserstein": dict(a=f.x0, b=f.targets, n_directions=8),
        "blending.stochastic_paths": dict(exact_deblender=f.exact, x0=f.x0[:2], T=4),
        "blending.train_deblender": dict(target=f.targets, steps=20, batch=8, width=8, depth=2),
        "blending.vector_field": dict(deblender=f.exact, alpha=0.5, resolution=4),
        # distributed (a local cluster per call would be slow: bad input must be refused first)
        "distributed.scan": dict(problem=f.problem, x_range=(-1.0, 1.0), y_range=(-1.0, 1.0),
                                 resolution=4, steps=21, client=_NO_CLIENT),
        "distributed.sweep": dict(param_grid={"lr": [1e-3]}, p=5, width=8, steps=20,
                                  client=_NO_CLIENT),
        "distributed.cluster": dict(n_workers=1),
        "distributed.core_hours": dict(problem=f.problem, x_range=(-1.0, 1.0), y_range=(-1.0, 1.0),
                                       resolution=64, steps=21, sample=2),
    }


def _koopman_spectra_baselines(f) -> dict:
    """Baselines of the verified-spectra part of koopman (gauss map, rotation, kernels, ...)."""
    from explorer import koopman

    return {
        "koopman.gauss_map": dict(points=5),
        "koopman.circle_rotation": dict(omega=0.5, points=5),
        "koopman.Legendre": dict(count=3, interval=(-1.0, 0.0)),
        "koopman.Legendre.size": dict(self=koopman.legendre(3)),
        "koopman.Legendre.labels": dict(self=koopman.legendre(3)),
        "koopman.Fourier": dict(modes=2),
        "koopman.Fourier.size": dict(self=koopman.fourier(2)),
        "koopman.Fourier.frequencies": dict(self=koopman.fourier(2)),
        "koopman.Fourier.labels": dict(self=koopman.fourier(2)),
        "koopman.legendre": dict(count=3),
        "koopman.fourier": dict(modes=2),
        "koopman.heldout_residuals": dict(result=f.edmd, X=f.X, Y=f.Y),
        "koopman.split_snapshots": dict(X=f.X, Y=f.Y),
        "koopman.complex_grid": dict(resolution=4),
        "koopman.pseudoeigenfunctions": dict(result=f.edmd, points=np.array([0.5 + 0j])),
        "koopman.Pseudoeigenfunctions.evaluate": dict(
            self=koopman.pseudoeigenfunctions(f.edmd, [0.5]), states=f.X[:, :3]),
        "koopman.verified_spectrum": dict(result=f.edmd, grid=koopman.complex_grid(4), epsilon=0.5),
        "koopman.rational_kernel": dict(order=2, epsilon=0.1),
        "koopman.smoothed_spectral_measure": dict(result=f.edmd, observable=f.observable,
                                                  angles=np.linspace(-3, 3, 5)),
        "koopman.kernel_dictionary": dict(X=f.X, Y=f.Y, size=3),
        "koopman.KernelDictionary.size": dict(self=koopman.kernel_dictionary(f.X, f.Y, 3)),
        "koopman.kernel_resdmd": dict(X=f.X, Y=f.Y, size=3),
        "koopman.simulate": dict(name="duffing", steps=5, trajectories=2),
        "koopman.build_dictionary": dict(kind="monomials", size=2, X=f.X),
        "koopman.phase_portrait": dict(snapshots=f.snapshots),
    }


def _newer_baselines(f) -> dict:
    """Baselines of the public names added after the first registry."""
    import dataclasses

    from explorer import blending, grokking

    transformer_fields = {field.name: getattr(f.transformer, field.name)
                          for field in dataclasses.fields(f.transformer)}
    return {
        # fractal: configurations, the paper's table, costs, zoom targets
        "fractal.Configuration": dict(name="tanh", label="tanh, full batch"),
        "fractal.Configuration.problem": dict(self=f.fractal_configuration, width=2, seed=0),
        "fractal.Configuration.scan_options": dict(self=f.fractal_configuration),
        "fractal.PaperRow.as_dict": dict(self=f.paper_table.rows[0]),
        "fractal.PaperTable.as_dict": dict(self=f.paper_table),
        "fractal.PaperTable.markdown": dict(self=f.paper_table),
        "fractal.boundary_target": dict(scan_result=f.scan, near=None, zoom=4.0),
        "fractal.box_counts": dict(boundary_mask=np.eye(24, dtype=bool), bins=3),
        "fractal.isolated_fraction": dict(measure=f.scan.measure),
        "fractal.find_zoom_target": dict(problem=f.problem, zoom_depth=2.0, resolution=21,
                                         steps=21),
        "fractal.minibatch_indices": dict(n_data=8, steps=21, minibatch=4, minibatch_seed=0),
        "fractal.paper_table": dict(quick=True, configurations=["identity"], width=2,
                                    resolution=21, steps=21, zoom_depth=2.0, seed=0),
        "fractal.samples_for_ratio": dict(width=2, nonlinearity="tanh", dataset_param_ratio=1.0),
        "fractal.scan_cost": dict(problem=f.problem, resolution=8, steps=21),
        "fractal.steps_for_zoom": dict(zoom=2.0, base_steps=100),
        "fractal.useful_flops": dict(problem=f.problem, steps=21, pixels=4),
        "fractal.zoom_dimension": dict(problem=f.problem, center=(0.0, 0.0), zoom_depth=2.0,
                                       resolution=21, steps=21),
        # grokking: models, groups, scaling, Grokfast comparison, analysis
        "grokking.Params.model": dict(self=f.params),
        "grokking.TrainConfig.init_params": dict(self=f.config, p=5),
        "grokking.GroupFourier.inverse": dict(self=f.group_fourier),
        "grokking.canonical_group": dict(group="symmetric:3"),
        "grokking.conjugacy_classes": dict(group="symmetric:3"),
        "grokking.element_names": dict(group="symmetric:3"),
        "grokking.group_fourier": dict(values=np.arange(6.0), group="symmetric:3"),
        "grokking.group_inverses": dict(group="symmetric:3"),
        "grokking.group_order": dict(group="symmetric:3"),
        "grokking.group_table": dict(group="symmetric:3"),
        "grokking.irreps": dict(group="symmetric:3"),
        "grokking.is_abelian": dict(group="symmetric:3"),
        "grokking.neuron_irreps": dict(params=f.params, group=f.task),
        "grokking.ScalingResult.fit": dict(self=f.scaling, law="M log M"),
        "grokking.candidate_sizes": dict(group="cyclic:5", multipliers=np.array([1.0, 2.0])),
        "grokking.combine_scaling_results": dict(results=[f.scaling]),
        "grokking.fit_power_law": dict(orders=np.array([5.0, 7.0]),
                                       critical_sizes=np.array([10.0, 20.0])),
        "grokking.fit_scaling_law": dict(orders=np.array([5.0, 7.0]),
                                         critical_sizes=np.array([10.0, 20.0]), law="M log M"),
        "grokking.scaling_sweep": dict(groups=["cyclic:5"], seeds=[0], steps=10,
                                       multipliers=np.array([1.0, 2.0]), width=8),
        "grokking.TransformerParams": transformer_fields,
        "grokking.TransformerParams.model": dict(self=f.transformer),
        "grokking.TransformerParams.stacked": dict(self=f.transformer),
        "grokking.TransformerParams.from_stacked": dict(theta=f.transformer.stacked(), p=5,
                                                        d_model=4, heads=2, d_mlp=4, layers=1),
        "grokking.init_transformer": dict(p=5, d_model=4, heads=2, d_mlp=4),
        "grokking.GrokfastComparison.steps": dict(self=f.comparison),
        "grokking.GrokfastComparison.table": dict(self=f.comparison),
        "grokking.GrokfastComparison.speedup": dict(self=f.comparison,
                                                    label="paper: Grokfast-MA, wd 0.01",
                                                    baseline="paper: baseline, wd 0"),
        "grokking.comparison_run": dict(label="x", config=grokking.TrainConfig(p=5, width=4,
                                                                                steps=4)),
        "grokking.grokfast_comparison": dict(protocols=["paper"], model="mlp", p=5, width=4,
                                             steps=4, eval_every=2, batch_size=8),
        "grokking.grokfast_configs": dict(protocols=["paper"], model="mlp", p=5, width=4),
        "grokking.power_law_fit": dict(x=np.array([1.0, 2.0]), y=np.array([2.0, 1.0])),
        "grokking.smooth": dict(values=np.array([1.0, 2.0, 3.0]), window=2),
        "grokking.summarise_over_seeds": dict(steps=np.array([[1.0, 2.0], [3.0, 4.0]])),
        # blending: classes, mixtures, images, sampler comparison, noise paths
        "blending.MLP.slots": dict(self=f.mlp, labels=None, n=3),
        "blending.ExactDeblender.for_class": dict(self=f.labelled_exact, label=1),
        "blending.GaussianMixture": dict(means=np.zeros((2, 2)), cov=1.0),
        "blending.GaussianMixture.smoothing": dict(density=blending.TwoMoons(), components=4,
                                                   bandwidth=0.15, seed=0),
        "blending.GaussianMixture.sample": dict(self=f.mixture, n=5),
        "blending.ImageClassifier.outputs": dict(self=f.classifier, points=f.digits.points[:4]),
        "blending.ImageClassifier.features": dict(self=f.classifier, points=f.digits.points[:4]),
        "blending.ImageClassifier.predict": dict(self=f.classifier, points=f.digits.points[:4]),
        "blending.ImageClassifier.accuracy": dict(self=f.classifier, points=f.digits.points[:4],
                                                  labels=f.digits.labels[:4]),
        "blending.ImageDataset.subset": dict(self=f.digits, indices=np.array([0, 1])),
        "blending.ImageDataset.split": dict(self=f.digits, train_fraction=0.5, seed=0),
        "blending.ImageDataset.to_images": dict(self=f.digits, points=f.digits.points[:2]),
        "blending.ImageQuality.summary": dict(self=f.image_quality),
        "blending.SamplerComparison.curve": dict(self=f.sampler_comparison, method="euler"),
        "blending.TrainedDeblender.smoothed_loss": dict(self=f.trained, points=5),
        "blending.compare_samplers": dict(deblender=f.exact, x0=f.x0, target=f.targets,
                                          T=(2, 4), methods=("euler",), repeats=1,
                                          n_directions=8, seed=0),
        "blending.frechet_distance": dict(a=f.x0, b=f.targets),
        "blending.image_dataset": dict(name="digits"),
        "blending.image_quality": dict(samples=f.digits_held_out.points[:6],
                                       training=f.digits_train, held_out=f.digits_held_out,
                                       classifier=f.classifier),
        "blending.interpolate_noise": dict(start=np.array([1.0, 0.0]), end=np.array([0.0, 1.0]),
                                           count=3),
        "blending.memorised_fraction": dict(samples=f.x0, training=f.targets),
        "blending.nearest_points": dict(points=f.x0, reference=f.targets),
        "blending.noise_path": dict(deblender=f.exact, start=np.array([1.0, 0.0]),
                                    end=np.array([0.0, 1.0]), count=3, T=4),
        "blending.train_classifier": dict(points=f.digits_train.points,
                                          labels=f.digits_train.labels, steps=5, batch=8,
                                          seed=0, width=8, report_every=5),
    }


def _density(name):
    from explorer import blending

    return getattr(blending, name)()


def blending_target():
    from explorer import blending

    return blending.TwoMoons()


#: stands for the worker's shared in-process Dask client (built only when a case needs it)
_NO_CLIENT = "__shared_client__"


@functools.cache
def baselines() -> dict:
    return _baselines(fixtures())


def discover() -> list[str]:
    """Every public function, class and public method reachable from an ``__all__``."""
    import importlib

    names = []
    for package in SUBPACKAGES:
        module = importlib.import_module(f"explorer.{package}")
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            key = f"{package}.{name}"
            if inspect.isfunction(obj) or inspect.isbuiltin(obj):
                names.append(key)
            elif inspect.isclass(obj):
                if key not in CONTAINERS:
                    names.append(key)
                names += [f"{key}.{method}" for method in public_methods(obj)]
    return names


def public_methods(cls) -> list[str]:
    """Public methods defined by ``cls`` itself (not properties, not inherited)."""
    found = []
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if inspect.isfunction(value) or isinstance(value, (classmethod, staticmethod)):
            found.append(name)
    return found


def resolve(key: str):
    """The callable named ``key`` and whether it is a bound method needing ``self``."""
    import importlib

    package, name, *method = key.split(".")
    obj = getattr(importlib.import_module(f"explorer.{package}"), name)
    if not method:
        return obj, False
    attribute = inspect.getattr_static(obj, method[0])
    return getattr(obj, method[0]), not isinstance(attribute, (classmethod, staticmethod))
