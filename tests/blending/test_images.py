"""Images as points: the digits, the fixed classifier, image metrics with floors, the noise map."""

import numpy as np
import pytest

from explorer._jit import set_num_threads
from explorer.blending import (ExactDeblender, GaussianDeblender, ImageDataset, compare_samplers,
                               frechet_distance, image_dataset, image_quality, init_mlp,
                               interpolate_noise, memorised_fraction, noise_path, sample,
                               train_classifier, train_deblender)
from explorer.blending.classifier import ImageClassifier
from tests.blending import naive


@pytest.fixture(scope="module")
def digits():
    return image_dataset("digits")


@pytest.fixture(scope="module")
def halves(digits):
    return digits.split(0.5, seed=0)


@pytest.fixture(scope="module")
def classifier(halves):
    train, _ = halves
    return train_classifier(train.points, train.labels, steps=1500, seed=0)


def test_the_digits_dataset(digits):
    assert isinstance(digits, ImageDataset) and len(digits) == 1797 and digits.shape == (8, 8)
    assert digits.images.shape == (1797, 8, 8) and digits.points.shape == (1797, 64)
    assert digits.images.min() == 0.0 and digits.images.max() == 1.0
    np.testing.assert_array_equal(digits.points, 2 * digits.images.reshape(1797, 64) - 1)
    np.testing.assert_array_equal(np.bincount(digits.labels), np.bincount(digits.labels, minlength=10))
    assert digits.classes == 10 and not digits.points.flags.writeable
    np.testing.assert_array_equal(digits.to_images(digits.points[:5]), digits.images[:5])
    assert digits.to_images(np.full((1, 64), 3.0)).max() == 1.0  # clipped


def test_split_is_disjoint_stratified_and_seeded(digits):
    train, held_out = digits.split(0.5, seed=0)
    assert len(train) + len(held_out) == 1797
    both = np.concatenate([train.points, held_out.points])
    assert np.unique(both, axis=0).shape[0] == 1797  # every image once
    counts = np.bincount(train.labels, minlength=10) / np.bincount(digits.labels, minlength=10)
    assert np.all(np.abs(counts - 0.5) < 0.01)
    again, _ = digits.split(0.5, seed=0)
    np.testing.assert_array_equal(again.points, train.points)
    other, _ = digits.split(0.5, seed=1)
    assert not np.array_equal(other.points, train.points)
    with pytest.raises(ValueError, match="^train_fraction"):
        digits.split(1.0)
    with pytest.raises(ValueError, match="^indices"):
        digits.subset([0, 1797])
    with pytest.raises(ValueError, match="^name must be one of"):
        image_dataset("mnist")


def test_classifier_gradients_match_the_naive_chain_rule():
    rng = np.random.default_rng(0)
    points, labels = rng.normal(size=(40, 6)), rng.integers(0, 3, 40)
    one_step = train_classifier(points, labels, steps=1, batch=40, width=5, depth=2, seed=1)
    assert one_step.loss_history.shape == (1,)
    # replay the first minibatch and the initial weights from the seed
    from explorer.blending.classifier import _Layout

    seeded = np.random.default_rng(1)
    params = _Layout(6, 5, 2, 3, "relu").initial(seeded).astype(np.float64)
    picks = seeded.integers(0, 40, (1, 40))[0]
    layers = ImageClassifier(params, 6, 5, 2, 3, "relu", np.zeros(0), False, False)
    from explorer.blending import _network_kernels

    views = _network_kernels._layers(params, 6, 5, 2, 3)
    layer_list = [(views[0], views[1]), (views[2][0], views[3][0]), (views[4], views[5])]
    loss, _ = naive.classifier_loss_and_gradients(layer_list, points[picks], labels[picks])
    assert one_step.loss_history[0] == pytest.approx(loss, rel=1e-5)
    logits, features = layers.outputs(points)
    _, post, out = naive.mlp_forward(layer_list, None, None, inputs=points)
    np.testing.assert_allclose(logits, out, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(features, post[-1], rtol=1e-10, atol=1e-10)


def test_the_classifier_reads_held_out_digits(halves, classifier):
    train, held_out = halves
    assert classifier.accuracy(held_out.points, held_out.labels) > 0.9
    assert classifier.features(held_out.points[:7]).shape == (7, 64)
    again = train_classifier(train.points, train.labels, steps=1500, seed=0)
    np.testing.assert_array_equal(again.params, classifier.params)


def test_frechet_distance_matches_the_naive_formula():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 4)) @ rng.normal(size=(4, 4))
    b = rng.normal(size=(200, 4)) + [1.0, 0.0, -2.0, 0.5]
    assert frechet_distance(a, b) == pytest.approx(naive.frechet_distance(a, b), rel=1e-8)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    assert frechet_distance(a * 1e140, b * 1e140) == pytest.approx(naive.frechet_distance(a, b) * 1e280, rel=1e-6)


def test_interpolated_noise_keeps_its_norm_and_matches_slerp():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=64), rng.normal(size=64)
    path = interpolate_noise(a, b, count=7)
    np.testing.assert_allclose(path[0], a, atol=1e-12)
    np.testing.assert_allclose(path[-1], b, atol=1e-12)
    np.testing.assert_allclose(path[3], naive.slerp(a, b, 0.5), rtol=1e-12)
    norms = np.linalg.norm(path, axis=1)
    assert np.all(norms > 0.95 * min(norms[0], norms[-1]))
    assert np.linalg.norm(interpolate_noise(a, b, 3, "linear")[1]) < 0.8 * norms[3]


def test_exact_samples_are_copies_and_the_metrics_say_so(halves, classifier):
    train, held_out = halves
    x0 = np.random.default_rng(3).standard_normal((120, 64))
    labels = np.arange(120) % 10
    exact = sample(ExactDeblender(train.points, labels=train.labels), x0, 32, labels=labels).final
    quality = image_quality(exact, train, held_out, classifier, labels=labels, seed=0)
    assert quality.memorised == 1.0 and quality.memorised_floor == 0.0
    assert quality.nearest_distance == 0.0 and quality.nearest_distance_floor > 1.0
    assert quality.accuracy > 0.95 and quality.accuracy_floor > 0.9
    assert quality.n == 120 and "Frechet distance" in quality.summary()
    noise = image_quality(x0, train, held_out, classifier, seed=0)
    assert noise.accuracy is None and noise.frechet > 5 * quality.frechet
    assert memorised_fraction(exact, train.points) == 1.0


def test_a_short_conditional_training_run_draws_the_asked_digits(halves, classifier):
    train, held_out = halves
    trained = train_deblender(train.points, labels=train.labels, steps=600, width=128, depth=2, seed=0)
    x0 = np.random.default_rng(4).standard_normal((200, 64))
    labels = np.arange(200) % 10
    quality = image_quality(sample(trained, x0, 32, labels=labels).final, train, held_out,
                            classifier, labels=labels, seed=0)
    assert quality.accuracy > 0.5 and quality.memorised == 0.0  # chance is 0.1
    walk = noise_path(trained, x0[0], x0[1], count=9, T=32, labels=3)
    assert walk.samples.shape == (9, 64) and not walk.diverged
    assert np.all(walk.jumps < np.linalg.norm(walk.samples[0] - walk.samples[-1]) + 1e-9)


def test_sampling_digits_gives_the_same_bits_for_one_or_two_threads():
    network = init_mlp(64, 2, seed=0, dim=64, classes=10)
    x0 = np.random.default_rng(0).standard_normal((300, 64))
    results = []
    for threads in (1, 2):
        previous = set_num_threads(threads)
        try:
            results.append(sample(network, x0, 8, labels=np.arange(300) % 10).points)
        finally:
            set_num_threads(previous)
    np.testing.assert_array_equal(results[0], results[1])


def test_compare_samplers_against_the_exact_gaussian_map():
    blend = GaussianDeblender(target_mean=(2.0, -1.0), target_std=0.4)
    x0 = np.random.default_rng(0).normal(size=(400, 2))
    target = blend.exact_map(np.random.default_rng(1).normal(size=(4000, 2)))
    seen = []
    comparison = compare_samplers(blend, x0, target, T=(1, 8), callback=lambda p: seen.append(p.done.sum()))
    assert comparison.done.all() and not comparison.stopped_early and seen == [1, 2, 3, 4, 5]
    evaluations, distances = comparison.curve("heun")
    np.testing.assert_array_equal(evaluations, [1, 15])
    assert distances[1] < 3 * comparison.floor
    stopped = compare_samplers(blend, x0, target, T=(1, 8), callback=lambda p: True)
    assert stopped.stopped_early and stopped.done.sum() == 1


@pytest.mark.parametrize("call, name", [
    (lambda d: frechet_distance(np.zeros((1, 3)), np.zeros((5, 3))), "a"),
    (lambda d: frechet_distance(np.zeros((4, 3)), np.zeros((5, 2))), "b"),
    (lambda d: interpolate_noise(np.zeros(3), np.zeros(4)), "end"),
    (lambda d: interpolate_noise(np.zeros(3), np.zeros(3), count=1), "count"),
    (lambda d: interpolate_noise(np.zeros(3), np.zeros(3), method="cubic"), "method"),
    (lambda d: memorised_fraction(np.zeros((2, 3)), np.zeros((2, 3)), tolerance=-1.0), "tolerance"),
    (lambda d: train_classifier(np.zeros((3, 2)), [0, 1]), "labels"),
    (lambda d: train_classifier(np.zeros((3, 2)), [0, 1, 2.5]), "labels"),
    (lambda d: compare_samplers(lambda x, a: x, np.zeros((3, 2)), np.zeros((3, 2)), T=()), "T"),
    (lambda d: compare_samplers(lambda x, a: x, np.zeros((3, 2)), np.zeros((3, 2)), methods=("rk4",)), "methods"),
])
def test_bad_input_names_the_parameter(digits, call, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        call(digits)


def test_image_quality_refuses_wrong_objects(halves, classifier):
    train, held_out = halves
    with pytest.raises(TypeError, match="^training"):
        image_quality(np.zeros((4, 64)), train.points, held_out, classifier)
    with pytest.raises(TypeError, match="^classifier"):
        image_quality(np.zeros((4, 64)), train, held_out, None)
