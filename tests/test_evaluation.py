"""Evaluation: crop geometry, averaging over crops and models, top-k, the CLI.

The geometry tests use images whose channel 0 holds the row index and channel
1 the column index of every pixel, so each crop says where it came from. The
expected crops are built by an independent 1-D reference of bilinear resizing
with half-pixel centres (``np.interp``), which is exact on such linear ramps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_convnets.analysis import evaluation
from keras_convnets.data import FASHION_MNIST_DIR, load_idx_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def coord_image(height, width, ident=0.0):
    """[H, W, 3]: row index, column index, and a constant telling images apart."""
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    return np.stack([rows, cols, np.full_like(rows, ident)], axis=-1).astype("float32")


def resize1d(values, out):
    """Reference bilinear resize (half-pixel centres, no antialias) of a 1-D ramp."""
    values = np.asarray(values, dtype=np.float64)
    pos = (np.arange(out) + 0.5) * len(values) / out - 0.5
    return np.interp(pos, np.arange(len(values)), values)


def expected_crop(rows, cols, ident=0.0, mirrored=False):
    """The coordinate image a crop with these row/column sources must equal."""
    cols = np.asarray(cols)[::-1] if mirrored else np.asarray(cols)
    r, c = np.meshgrid(rows, cols, indexing="ij")
    return np.stack([r, c, np.full_like(r, ident)], axis=-1)


def five_windows(n_rows, n_cols, size):
    """(row slice, col slice) of the 4 corners and the centre, in the library's order."""
    b, r = n_rows - size, n_cols - size
    offsets = [(0, 0), (0, r), (b, 0), (b, r), (b // 2, r // 2)]
    return [(slice(t, t + size), slice(left, left + size)) for t, left in offsets]


# ----------------------------------------------------------------------------- centre crop


def test_center_crop_takes_the_middle_of_each_image_in_a_batch():
    batch = np.stack([coord_image(10, 14, ident=i) for i in range(3)])
    out = evaluation.center_crop(batch, 4).numpy()
    assert out.shape == (3, 4, 4, 3)
    for i in range(3):
        np.testing.assert_array_equal(out[i], expected_crop(range(3, 7), range(5, 9), ident=i))
    single = evaluation.center_crop(coord_image(10, 14), 4).numpy()
    assert single.shape == (4, 4, 3)
    np.testing.assert_array_equal(single, out[0])


def test_center_crop_resizes_the_shorter_side_first():
    # 20x40 -> shorter side 10 gives 10x20 (each resized pixel is the mean of
    # two source rows/columns: coordinate 2i + 0.5), then the centre 4x4.
    out = evaluation.center_crop(coord_image(20, 40), 4, resize=10).numpy()
    rows = 2 * np.arange(3, 7) + 0.5
    cols = 2 * np.arange(8, 12) + 0.5
    np.testing.assert_allclose(out, expected_crop(rows, cols), atol=1e-4)
    # Portrait: the width is the shorter side.
    out = evaluation.center_crop(coord_image(40, 20), 4, resize=10).numpy()
    np.testing.assert_allclose(out, expected_crop(cols, rows), atol=1e-4)


def test_resize_shorter_side_keeps_the_aspect_ratio_and_skips_identity():
    assert evaluation.resize_shorter_side(np.zeros((2, 30, 60, 3)), 10).shape == (2, 10, 20, 3)
    assert evaluation.resize_shorter_side(np.zeros((60, 30, 1)), 15).shape == (30, 15, 1)
    image = coord_image(8, 12) + 0.25
    np.testing.assert_array_equal(evaluation.resize_shorter_side(image, 8).numpy(), image)


# ----------------------------------------------------------------------------- 10 crops


def test_ten_crops_are_the_corners_the_centre_and_their_mirrors():
    image = coord_image(6, 9, ident=7)
    crops = evaluation.ten_crops(image, 4).numpy()
    assert crops.shape == (10, 4, 4, 3)
    # Literal corners: top-left starts at (0, 0), top-right at (0, 5),
    # bottom-left at (2, 0), bottom-right at (2, 5), centre at (1, 2).
    starts = [(0, 0), (0, 5), (2, 0), (2, 5), (1, 2)]
    for i, (top, left) in enumerate(starts):
        rows, cols = range(top, top + 4), range(left, left + 4)
        np.testing.assert_array_equal(crops[i], expected_crop(rows, cols, ident=7))
        np.testing.assert_array_equal(
            crops[5 + i], expected_crop(rows, cols, ident=7, mirrored=True)
        )
    # The mirror of the top-left crop starts with column 3 and ends with column 0.
    assert crops[5, 0, 0, 1] == 3 and crops[5, 0, -1, 1] == 0


def test_ten_crops_of_a_batch_keep_images_apart_and_can_resize():
    batch = np.stack([coord_image(16, 24, ident=i) for i in range(2)])
    crops = evaluation.ten_crops(batch, 6, resize=8).numpy()  # 16x24 -> 8x12
    assert crops.shape == (2, 10, 6, 6, 3)
    rows, cols = resize1d(np.arange(16), 8), resize1d(np.arange(24), 12)
    for i in range(2):
        for j, (rs, cs) in enumerate(five_windows(8, 12, 6)):
            np.testing.assert_allclose(
                crops[i, j], expected_crop(rows[rs], cols[cs], ident=i), atol=1e-4
            )
            np.testing.assert_allclose(
                crops[i, 5 + j],
                expected_crop(rows[rs], cols[cs], ident=i, mirrored=True),
                atol=1e-4,
            )


# ----------------------------------------------------------------------------- 144 crops


def reference_144(height, width, size, scales, ident=0.0):
    """The 144 crops built from the paper's description with the 1-D reference."""
    out = []
    for scale in scales:
        if height <= width:
            new_h, new_w = scale, int(round(width * scale / height))
        else:
            new_h, new_w = int(round(height * scale / width)), scale
        rows, cols = resize1d(np.arange(height), new_h), resize1d(np.arange(width), new_w)
        longer = max(new_h, new_w)
        for offset in (0, (longer - scale) // 2, longer - scale):
            if height <= width:
                sq_rows, sq_cols = rows, cols[offset : offset + scale]
            else:
                sq_rows, sq_cols = rows[offset : offset + scale], cols
            six = [(sq_rows[rs], sq_cols[cs]) for rs, cs in five_windows(scale, scale, size)]
            six.append((resize1d(sq_rows, size), resize1d(sq_cols, size)))
            for mirrored in (False, True):
                out.extend(expected_crop(r, c, ident, mirrored) for r, c in six)
    return np.stack(out)


def test_googlenet_144_crops_landscape_geometry():
    size, scales = 4, (8, 16, 12, 20)
    crops = evaluation.googlenet_144_crops(coord_image(8, 16), size=size, scales=scales).numpy()
    assert crops.shape == (144, 4, 4, 3) and 4 * 3 * 6 * 2 == 144
    np.testing.assert_allclose(crops, reference_144(8, 16, size, scales), atol=1e-4)
    # Literal checks at scale 8 (no resizing): squares start at columns 0, 4, 8.
    index = lambda s, q, m, c: ((s * 3 + q) * 2 + m) * 6 + c  # noqa: E731
    assert crops[index(0, 0, 0, 0), 0, 0, :2].tolist() == [0, 0]  # left square, top-left
    assert crops[index(0, 1, 0, 0), 0, 0, :2].tolist() == [0, 4]  # centre square
    assert crops[index(0, 2, 0, 3), 0, 0, :2].tolist() == [4, 12]  # right square, bottom-right
    assert crops[index(0, 2, 0, 4), 0, 0, :2].tolist() == [2, 10]  # right square, centre
    # The whole left square 8x8 resized to 4x4: coordinates 2i + 0.5.
    whole = crops[index(0, 0, 0, 5)]
    np.testing.assert_allclose(whole[:, 0, 0], [0.5, 2.5, 4.5, 6.5], atol=1e-5)
    np.testing.assert_allclose(whole[0, :, 1], [0.5, 2.5, 4.5, 6.5], atol=1e-5)
    # Its mirror: the same rows, the columns reversed.
    np.testing.assert_allclose(crops[index(0, 0, 1, 5)][0, :, 1], [6.5, 4.5, 2.5, 0.5], atol=1e-5)


def test_googlenet_144_crops_portrait_takes_top_centre_bottom_squares():
    crops = evaluation.googlenet_144_crops(coord_image(18, 6), size=4, scales=(6, 12)).numpy()
    assert crops.shape[0] == 2 * 3 * 6 * 2
    np.testing.assert_allclose(crops, reference_144(18, 6, 4, (6, 12)), atol=1e-4)
    # Scale 6 (no resizing): squares 6x6 start at rows 0, 6, 12, all at column 0.
    for q, top in enumerate((0, 6, 12)):
        first = crops[q * 12]  # top-left crop of square q
        assert first[0, 0, :2].tolist() == [top, 0]


def test_googlenet_144_crops_of_a_batch_and_default_scales():
    batch = np.stack([coord_image(8, 12, ident=i) for i in range(2)])
    crops = evaluation.googlenet_144_crops(batch, size=4, scales=(4, 6, 8, 10)).numpy()
    assert crops.shape == (2, 144, 4, 4, 3)
    for i in range(2):
        np.testing.assert_allclose(
            crops[i], reference_144(8, 12, 4, (4, 6, 8, 10), ident=i), atol=1e-4
        )
    assert evaluation.GOOGLENET_SCALES == (256, 288, 320, 352)
    assert evaluation.default_scales(224) == (256, 288, 320, 352)
    assert evaluation.default_scales(28) == (32, 36, 40, 44)
    assert evaluation.googlenet_144_crops(np.zeros((32, 40, 1)), size=28).shape == (144, 28, 28, 1)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, pattern",
    [
        (lambda: evaluation.center_crop(np.zeros((5, 8, 1)), 6), r"`size`.*shorter side 5.*size=6"),
        (lambda: evaluation.center_crop(np.zeros((5, 8, 1)), 0), r"`size`.*>= 1.*size=0"),
        (
            lambda: evaluation.center_crop(np.zeros((9, 9, 1)), 4, resize=3),
            r"`size`.*shorter side 3",
        ),
        (lambda: evaluation.ten_crops(np.zeros((2, 5, 8, 1)), 7), r"`size`.*size=7"),
        (lambda: evaluation.ten_crops(np.zeros((5, 8)), 2), r"`image_or_batch`.*shape=\(5, 8\)"),
        (
            lambda: evaluation.googlenet_144_crops(np.zeros((9, 9, 1)), 8, scales=(8, 6)),
            r"`scales`.*>= size=8.*scales=\(8, 6\)",
        ),
        (
            lambda: evaluation.googlenet_144_crops(np.zeros((9, 9, 1)), 4, scales=8),
            r"`scales`.*scales=8",
        ),
    ],
)
def test_bad_geometry_raises_naming_argument_value_and_allowed(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


# ----------------------------------------------------------------------------- averaging

WEIGHTS_A = (np.array([[2.0, 0.0, -2.0]]), np.array([0.0, 0.3, 0.0]))
WEIGHTS_B = (np.array([[-1.0, 3.0, 0.5]]), np.array([0.2, -1.0, 0.0]))


def mean_pixel_model(weights, size=4, softmax=True, aux=False):
    """probs = softmax(mean_pixel * w + b): a tiny model whose output we can compute by hand."""
    inputs = keras.Input((size, size, 1))
    pooled = keras.layers.GlobalAveragePooling2D(name="avg_pool")(inputs)
    dense = keras.layers.Dense(3, activation="softmax" if softmax else None, name="predictions")
    outputs = dense(pooled)
    if aux:  # an aux head that would predict the opposite class
        aux_out = keras.layers.Dense(3, activation="softmax", name="aux1")(pooled)
        model = keras.Model(inputs, [outputs, aux_out])
        model.get_layer("aux1").set_weights([-10 * weights[0], -weights[1]])
    else:
        model = keras.Model(inputs, outputs)
    dense.set_weights([w.astype("float32") for w in weights])
    return model


def hand_probs(means, weights):
    w, b = weights
    logits = np.asarray(means)[..., None] * w[0] + b
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def ramp_images(n, height=6, width=7, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, size=(n, height, width, 1)).astype("float32")


def ten_crop_means(images, size):
    """Mean pixel of each of the 10 crops, by NumPy slicing (mirrors keep the mean)."""
    n, h, w, _ = images.shape
    means = [[images[i, rs, cs].mean() for rs, cs in five_windows(h, w, size)] for i in range(n)]
    return np.concatenate([means, means], axis=1)


def test_probabilities_are_averaged_over_crops_not_logits():
    images = ramp_images(5)
    means = ten_crop_means(images, 4)  # [5, 10]
    expected = hand_probs(means, WEIGHTS_A).mean(axis=1)
    got = evaluation.predict_probabilities(mean_pixel_model(WEIGHTS_A), images, "10")
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # Averaging logits would give a measurably different answer.
    assert not np.allclose(got, hand_probs(means.mean(axis=1), WEIGHTS_A), atol=1e-4)
    # A logits model gets the softmax applied: the same probabilities.
    logits_model = mean_pixel_model(WEIGHTS_A, softmax=False)
    got_logits = evaluation.predict_probabilities(logits_model, images, "10", batch_size=3)
    np.testing.assert_allclose(got_logits, expected, rtol=1e-5, atol=1e-6)


def test_centre_crop_and_144_crop_averaging_by_hand():
    images = ramp_images(2, 8, 12, seed=1)
    centre = images[:, 2:6, 4:8].mean(axis=(1, 2, 3))
    got = evaluation.predict_probabilities(mean_pixel_model(WEIGHTS_A), images, "center")
    np.testing.assert_allclose(got, hand_probs(centre, WEIGHTS_A), rtol=1e-5, atol=1e-6)
    # 144 crops with the scale equal to the image's shorter side (no resizing of
    # the image): means of the 5 windows of each square and of the whole
    # square (a 2x downscale of an 8x8 square averages 2x2 blocks exactly).
    crops = evaluation.googlenet_144_crops(images, size=4, scales=(8, 8, 8, 8)).numpy()
    means = crops.mean(axis=(2, 3, 4))
    for q, left in enumerate((0, 2, 4)):
        square = images[:, :, left : left + 8]
        for c, (rs, cs) in enumerate(five_windows(8, 8, 4)):
            np.testing.assert_allclose(
                means[:, q * 12 + c], square[:, rs, cs].mean(axis=(1, 2, 3)), atol=1e-5
            )
        np.testing.assert_allclose(means[:, q * 12 + 5], square.mean(axis=(1, 2, 3)), atol=1e-5)
    expected = hand_probs(means, WEIGHTS_A).mean(axis=1)
    got = evaluation.predict_probabilities(
        mean_pixel_model(WEIGHTS_A), images, "144", scales=(8, 8, 8, 8), batch_size=50
    )
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # Two scales: 72 crops per image, and the averages of the first two scales.
    labels = expected.argmax(-1)
    result = evaluation.evaluate(
        mean_pixel_model(WEIGHTS_A), (images, labels), "144", top_k=1, scales=(8, 8)
    )
    assert (result["crops_per_image"], result["cost"], result["top1_accuracy"]) == (72, 72, 1.0)


def test_ensemble_of_two_models_averages_their_probabilities():
    images = ramp_images(6)
    means = ten_crop_means(images, 4)
    pa = hand_probs(means, WEIGHTS_A).mean(axis=1)
    pb = hand_probs(means, WEIGHTS_B).mean(axis=1)
    models = [mean_pixel_model(WEIGHTS_A), mean_pixel_model(WEIGHTS_B)]
    got = evaluation.predict_probabilities(models, images, "10", batch_size=7)
    np.testing.assert_allclose(got, (pa + pb) / 2, rtol=1e-5, atol=1e-6)
    # Labels = the ensemble's own argmax: 100 % top-1 for the ensemble, while
    # each model alone gets the hand-computed share.
    labels = got.argmax(axis=-1)
    result = evaluation.evaluate(models, (images, labels), crops="10", top_k=(1, 2))
    assert result["top1_accuracy"] == 1.0 and result["models"] == 2
    assert result["crops_per_image"] == 10 and result["cost"] == 20
    for weights, p in ((WEIGHTS_A, pa), (WEIGHTS_B, pb)):
        alone = evaluation.evaluate(
            mean_pixel_model(weights), (images, labels), crops="10", top_k=1
        )
        assert alone["top1_accuracy"] == pytest.approx(np.mean(p.argmax(-1) == labels))
        assert alone["cost"] == 10


def test_top1_top5_against_hand_computation():
    # A model that outputs its input: the "probabilities" are given directly.
    inputs = keras.Input((1, 1, 6))
    flat = keras.layers.Flatten(name="flatten")(inputs)
    model = keras.Model(inputs, keras.layers.Softmax(name="predictions")(flat))
    logits = np.array(
        [
            [6, 5, 4, 3, 2, 1],  # label 0: rank 0
            [6, 5, 4, 3, 2, 1],  # label 2: rank 2
            [6, 5, 4, 3, 2, 1],  # label 5: rank 5 (outside the top 5)
            [1, 2, 3, 4, 5, 6],  # label 1: rank 4
            [1, 2, 3, 4, 5, 6],  # label 5: rank 0
        ],
        dtype="float32",
    )
    labels = np.array([0, 2, 5, 1, 5])
    images = logits[:, None, None, :]
    result = evaluation.evaluate(model, (images, labels), top_k=(1, 5, 3))
    assert result["images"] == 5
    assert result["top1_accuracy"] == pytest.approx(2 / 5)
    assert result["top1_error"] == pytest.approx(3 / 5)
    assert result["top3_accuracy"] == pytest.approx(3 / 5)
    assert result["top5_accuracy"] == pytest.approx(4 / 5)
    assert result["top5_error"] == pytest.approx(1 / 5)
    # One-hot labels, a tf.data pipeline, small batches and max_images.
    ds = tf.data.Dataset.from_tensor_slices((images, np.eye(6)[labels])).batch(2)
    cut = evaluation.evaluate(model, ds, top_k=1, batch_size=1, max_images=3)
    assert cut["images"] == 3 and cut["top1_accuracy"] == pytest.approx(1 / 3)


def test_images_of_different_sizes_one_at_a_time():
    images = [ramp_images(1, 6, 9, seed=2)[0], ramp_images(1, 11, 7, seed=3)[0]]
    model = mean_pixel_model(WEIGHTS_B)
    probs = [evaluation.predict_probabilities(model, x, "10")[0] for x in images]
    labels = [int(np.argmax(p)) for p in probs]
    labels[1] = int(np.argmin(probs[1]))
    result = evaluation.evaluate(model, list(zip(images, labels)), crops="10", top_k=(1, 3))
    assert result["images"] == 2
    assert result["top1_accuracy"] == 0.5 and result["top3_accuracy"] == 1.0


def test_multi_output_models_are_evaluated_on_the_main_head():
    images = ramp_images(4)
    model = mean_pixel_model(WEIGHTS_A, aux=True)
    assert len(model.outputs) == 2
    expected = hand_probs(ten_crop_means(images, 4), WEIGHTS_A).mean(axis=1)
    got = evaluation.predict_probabilities(model, images, "10")
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    labels = expected.argmax(-1)
    assert evaluation.evaluate(model, (images, labels), crops="10", top_k=1)["top1_accuracy"] == 1


def test_preprocess_is_applied_to_the_crops():
    images = ramp_images(3)
    model = mean_pixel_model(WEIGHTS_A)
    got = evaluation.predict_probabilities(model, images, preprocess=lambda x: 2 * x + 1)
    centre = images[:, 1:5, 1:5].mean(axis=(1, 2, 3))
    np.testing.assert_allclose(got, hand_probs(2 * centre + 1, WEIGHTS_A), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"crops": "5"}, r"`crops` must be one of 'center', '10', '144'.*crops='5'"),
        ({"size": 5}, r"`size` must be the models' input size 4.*size=5"),
        ({"top_k": 0}, r"`top_k`.*>= 1.*top_k=0"),
        ({"top_k": ()}, r"`top_k`.*non-empty.*top_k=\(\)"),
        ({"top_k": (1, 1)}, r"`top_k`.*distinct.*top_k=\(1, 1\)"),
        ({"top_k": "5"}, r"`top_k`.*top_k='5'"),
        ({"top_k": (1, 5)}, r"`top_k` must be at most the number of classes 3.*\(1, 5\)"),
        ({"batch_size": 0}, r"`batch_size`.*batch_size=0"),
        ({"resize": 3}, r"`resize` must be at least `size`=4.*resize=3"),
        ({"preprocess": "bgr"}, r"`preprocess`.*caffe.*preprocess='bgr'"),
        ({"crops": "144", "scales": (8, 2)}, r"`scales`.*size=4.*\(8, 2\)"),
    ],
)
def test_evaluate_bad_arguments_raise_naming_argument_value_and_allowed(kwargs, pattern):
    model = mean_pixel_model(WEIGHTS_A)
    kwargs = {"top_k": 1, **kwargs}
    with pytest.raises(ValueError, match=pattern):
        evaluation.evaluate(model, (ramp_images(2), np.zeros(2, np.int64)), **kwargs)


def test_evaluate_bad_models_labels_and_dynamic_size():
    data = (ramp_images(2), np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="`models`.*Received: \\[\\]"):
        evaluation.evaluate([], data)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        evaluation.evaluate(
            mean_pixel_model(WEIGHTS_A), (ramp_images(2), np.array([0, 3])), top_k=1
        )
    inputs = keras.Input((None, None, 1))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    dynamic = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    with pytest.raises(ValueError, match="`size` is needed.*size=None"):
        evaluation.evaluate(dynamic, data, top_k=1)
    assert evaluation.evaluate(dynamic, data, size=5, top_k=1)["images"] == 2
    with pytest.raises(ValueError, match=r"`size`.*shorter side 6.*size=9"):
        evaluation.evaluate(dynamic, data, crops="10", size=9, top_k=1)
    with pytest.raises(ValueError, match=r"same input size.*\(4, 4\).*\(5, 5\)"):
        evaluation.evaluate(
            [mean_pixel_model(WEIGHTS_A), mean_pixel_model(WEIGHTS_B, size=5)], data
        )


# ----------------------------------------------------------------------------- the CLI


def small_cnn(seed, classes=10):
    """A tiny 24x24 grayscale classifier with fixed random weights."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((24, 24, 1))
    x = keras.layers.Rescaling(1 / 255.0, name="rescale")(inputs)
    x = keras.layers.Conv2D(4, 5, strides=2, activation="relu", name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=f"small_cnn_{seed}")


def run_cli(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    return subprocess.run(
        [sys.executable, "-m", "recipes.evaluate", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.mark.skipif(not os.path.isdir(FASHION_MNIST_DIR), reason="needs dataset-fashion-mnist")
def test_cli_ensemble_on_fashion_mnist_matches_the_library(tmp_path):
    models = [small_cnn(1), small_cnn(2)]
    paths = []
    for i, model in enumerate(models):
        paths.append(str(tmp_path / f"m{i}.keras"))
        model.save(paths[-1])
    out = tmp_path / "reports" / "eval.json"
    proc = run_cli(
        "--model_file", paths[0], "--model_file", paths[1],
        "--dataset", "fashion_mnist", "--crops", "10", "--max_images", "12",
        "--batch_size", "32", "--output", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "top-1 acc" in proc.stdout and "top-5 err" in proc.stdout
    report = json.loads(out.read_text())
    assert [p for p in os.listdir(out.parent)] == ["eval.json"]  # no temp file left
    images, labels = load_idx_dataset(FASHION_MNIST_DIR, "test")
    expected = evaluation.evaluate(models, (images[:12], labels[:12]), crops="10")
    for key in ("images", "crops_per_image", "models", "cost"):
        assert report[key] == expected[key]
    assert (report["images"], report["crops_per_image"], report["cost"]) == (12, 10, 20)
    for key in ("top1_accuracy", "top1_error", "top5_accuracy", "top5_error"):
        assert report[key] == pytest.approx(expected[key])
    assert report["model_names"] == paths and report["size"] == 24


def test_cli_image_folder_and_bad_flags(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "images"
    for label in ("a_class", "b_class"):
        (root / label).mkdir(parents=True)
        for i in range(2):
            # Different sizes: each image is resized and cropped on its own.
            image = rng.integers(0, 256, size=(30 + 4 * i, 26 + 8 * i, 1), dtype=np.uint8)
            png = tf.io.encode_png(image).numpy()
            (root / label / f"{i}.png").write_bytes(png)
    (root / "b_class" / "broken.jpg").write_text("not an image")  # skipped and counted
    model = small_cnn(3, classes=2)  # as many classes as the folder
    path = str(tmp_path / "m.keras")
    model.save(path)
    out = tmp_path / "eval.json"
    proc = run_cli(
        "--model_file", path, "--dataset", str(root), "--crops", "center",
        "--resize", "28", "--output", str(out), "--top_k", "1,2",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    files = sorted(root.glob("*/*.png"))
    pairs = [
        (tf.io.decode_png(f.read_bytes()).numpy(), int(f.parent.name == "b_class")) for f in files
    ]
    expected = evaluation.evaluate(model, pairs, crops="center", resize=28, top_k=(1, 2))
    assert report["images"] == 4 and report["resize"] == 28
    assert report["skipped_images"] == 1 and report["skipped_files"][0].endswith("broken.jpg")
    assert "skipped 1 unreadable image file (not an image, or corrupt): " in proc.stdout
    assert "broken.jpg" in proc.stdout
    assert report["top1_accuracy"] == pytest.approx(expected["top1_accuracy"])
    assert report["top2_accuracy"] == pytest.approx(expected["top2_accuracy"])
    # One spelling for every command, --preprocessing; the former --preprocess still works.
    common = ("--model_file", path, "--dataset", str(root), "--resize", "28")
    new = run_cli(*common, "--preprocessing", "rescale", "--output", str(tmp_path / "new.json"))
    old = run_cli(*common, "--preprocess", "rescale", "--output", str(tmp_path / "old.json"))
    assert new.returncode == old.returncode == 0, old.stderr[-2000:]
    assert "--preprocess is deprecated: use --preprocessing" in old.stderr
    assert "deprecated" not in new.stderr
    reports = [json.loads((tmp_path / f"{n}.json").read_text()) for n in ("new", "old")]
    assert reports[0]["preprocess"] == reports[1]["preprocess"] == "rescale"
    assert reports[0]["top1_accuracy"] == reports[1]["top1_accuracy"]
    clash = run_cli(*common, "--preprocess", "caffe", "--preprocessing", "rescale")
    assert clash.returncode == 2 and "contradicts --preprocessing=rescale" in clash.stderr
    # Bad values are usage errors naming the flag's problem; nothing is written.
    bad = run_cli("--model_file", path, "--dataset", str(root), "--resize", "10",
                  "--output", str(tmp_path / "bad.json"))  # fmt: skip
    assert bad.returncode != 0
    assert "`resize` must be at least `size`=24" in bad.stderr
    assert not (tmp_path / "bad.json").exists()
    # A folder none of whose images can be read: said as such, not "no images".
    for f in files:
        f.write_bytes(b"\x89PNG truncated")
    bad = run_cli("--model_file", path, "--dataset", str(root), "--output", str(out))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "All 5 image files of the 'all' split are unreadable" in bad.stderr


def test_large_arrays_are_evaluated_slice_by_slice():
    images = ramp_images(300, 4, 4, seed=4)  # more than one 256-image slice
    model = mean_pixel_model(WEIGHTS_B)
    expected = hand_probs(images.mean(axis=(1, 2, 3)), WEIGHTS_B)
    labels = np.where(np.arange(300) % 3 == 0, expected.argmin(-1), expected.argmax(-1))
    result = evaluation.evaluate(model, (images, labels), top_k=(1, 3), batch_size=128)
    assert result["images"] == 300
    assert result["top1_accuracy"] == pytest.approx(200 / 300)
    assert result["top3_accuracy"] == 1.0
