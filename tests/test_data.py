"""Datasets by name, splits, preprocessing and the tf.data pipelines."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from keras_convnets import data

FMNIST = data.FASHION_MNIST_DIR


def test_read_idx_rejects_a_file_that_is_not_idx(tmp_path):
    path = tmp_path / "x-idx1-ubyte"
    path.write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(ValueError, match="not an IDX file"):
        data.read_idx(path)
    images, labels = data.load_idx_dataset(FMNIST, "test")
    assert images.shape == (10_000, 28, 28, 1) and labels.shape == (10_000,)


def test_fashion_mnist_splits_from_local_idx_files():
    train_full = data.load_split("fashion_mnist", "train_full")
    train = data.load_split("fashion_mnist", "train")
    val = data.load_split("fashion_mnist", "val")
    test = data.load_split("fashion_mnist", "test")
    assert (train_full.num_examples, train.num_examples, val.num_examples) == (
        60_000,
        54_000,
        6_000,
    )
    assert test.num_examples == 10_000 and test.classes == 10
    # val is a stratified holdout: 600 of each class's 6,000, disjoint from train
    assert np.bincount(val.labels).tolist() == [600] * 10
    assert np.bincount(train.labels).tolist() == [5_400] * 10
    np.testing.assert_array_equal(
        np.sort(np.concatenate([train.labels, val.labels])), np.sort(train_full.labels)
    )
    small = data.load_split("fashion_mnist", "val", max_examples=10)
    assert small.num_examples == 10 and small.images.shape == (10, 28, 28, 1)


def test_unknown_names_and_missing_dirs_list_what_is_allowed(tmp_path):
    with pytest.raises(ValueError, match="Allowed datasets: cifar10, cifar100, fashion_mnist"):
        data.dataset_info("svhn")
    with pytest.raises(ValueError, match="split="):
        data.load_split("fashion_mnist", "dev")
    with pytest.raises(ValueError, match="data_dir does not exist|`data_dir` does not exist"):
        data.load_split("cifar10", data_dir=str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="not prepared in data_dir=.*download_and_prepare"):
        data.load_split("cifar10", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="manual_dir"):
        data.tfds_builder("imagenet2012", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="one sub-folder per class"):
        data.load_split("folder", data_dir=str(tmp_path / "nope"))


def test_every_named_tfds_dataset_maps_to_its_real_builder(tmp_path):
    import tensorflow_datasets as tfds

    for name, info in data.DATASETS.items():
        if info.tfds_name is None:
            continue
        builder = tfds.builder(info.tfds_name, data_dir=str(tmp_path))
        assert builder.name == info.tfds_name.split("/")[0]
        label = builder.info.features["label"]
        assert label.num_classes == info.classes, name
        assert info.test_split in ("test", "validation")


@pytest.fixture(scope="module")
def tiny_cifar10(tmp_path_factory):
    """A real TFDS ``cifar10`` prepared offline from 26 records in the CIFAR binary format.

    The builder's own ``_split_generators``/``_generate_examples`` run; only
    the download is replaced by a local folder (and its checksum table).
    """
    import tensorflow_datasets as tfds
    from tensorflow_datasets.image_classification import cifar

    root = tmp_path_factory.mktemp("tfds")
    raw = root / "raw" / "cifar-10-batches-bin"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, n in [(f"data_batch_{i}.bin", 4) for i in range(1, 6)] + [("test_batch.bin", 6)]:
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 256, (n, 3072)).astype(np.uint8)
        (raw / name).write_bytes(np.concatenate([labels[:, None], images], 1).tobytes())
    (raw / "batches.meta.txt").write_text("\n".join(f"class{i}" for i in range(10)))
    mp = pytest.MonkeyPatch()
    mp.setattr(tfds.download.DownloadManager, "download_and_extract", lambda s, u: str(raw.parent))
    # url_infos is an inherited class property that reads a checksum file through a
    # package absent here; an own attribute shadows it until the fixture removes it.
    assert "url_infos" not in vars(cifar.Cifar10)
    cifar.Cifar10.url_infos = {}
    try:
        builder = tfds.builder("cifar10", data_dir=str(root / "data"))
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(try_download_gcs=False)
        )
    finally:
        mp.undo()
        del cifar.Cifar10.url_infos
    return str(root / "data")


def test_tfds_cifar10_from_a_locally_prepared_data_dir(tiny_cifar10, monkeypatch):
    train = data.load_split("cifar10", "train", data_dir=tiny_cifar10)
    val = data.load_split("cifar10", "val", data_dir=tiny_cifar10)
    test = data.load_split("cifar10", "test", data_dir=tiny_cifar10)
    assert (train.num_examples, val.num_examples, test.num_examples) == (18, 2, 6)
    assert train.images.shape == (18, 32, 32, 3)  # small: decoded into memory
    # Streamed (as ImageNet is): the same images through TFDS reads.
    monkeypatch.setattr(data.datasets, "IN_MEMORY_LIMIT_BYTES", 0)
    stream = data.load_split("cifar10", "test", data_dir=tiny_cifar10)
    assert stream.images is None and stream.tfds is not None
    held_out = data.load_split("cifar10", "val", data_dir=tiny_cifar10, max_examples=1)
    assert held_out.tfds[1] == "train[18:19]" and held_out.num_examples == 1
    assert data.load_split("cifar10", "train", data_dir=tiny_cifar10).tfds[1] == "train[0:18]"
    fn = data.make_preprocess("none", training=False, input_shape=(32, 32, 3))
    xs, ys, ws = next(iter(data.build_dataset(stream, fn, batch_size=6, training=False)))
    np.testing.assert_array_equal(xs.numpy(), test.images.astype("float32"))
    np.testing.assert_array_equal(ys.numpy(), test.labels)
    shard = data.build_dataset(
        stream, fn, batch_size=2, training=True, num_shards=2, shard_index=1, seed=3
    )
    assert sum(int(x.shape[0]) for x, _ in shard) == 2  # 3 of 6 examples, full batches


def _write_folder(root, broken=True):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        os.makedirs(root / cls)
        for i in range(4):
            Image.fromarray(rng.integers(0, 255, (20 + i, 30, 3), dtype=np.uint8)).save(
                root / cls / f"{i}.jpg"
            )
    if broken:
        good = (root / "cat" / "0.jpg").read_bytes()
        (root / "cat" / "truncated.jpg").write_bytes(good[: len(good) // 3])
        (root / "dog" / "not_an_image.jpg").write_text("hello")
    (root / "dog" / "notes.txt").write_text("not an image extension: ignored")


def test_image_folder_skips_and_counts_broken_jpegs(tmp_path):
    _write_folder(tmp_path)
    full = data.load_split("folder", "train_full", data_dir=str(tmp_path), val_fraction=0.0)
    assert full.class_names == ("cat", "dog")
    assert full.num_examples == 8
    assert sorted(os.path.basename(p) for p in full.skipped) == [
        "not_an_image.jpg",
        "truncated.jpg",
    ]
    fn = data.make_preprocess("inception", training=True, input_shape=(24, 24, 3), mode="tf")
    batches = list(data.build_dataset(full, fn, batch_size=4, training=True))
    assert [tuple(x.shape) for x, _ in batches] == [(4, 24, 24, 3)] * 2
    assert all(float(abs(x).numpy().max()) <= 1.0 for x, _ in batches)


def test_image_folder_of_only_unreadable_files_says_so(tmp_path):
    for cls in ("cat", "dog"):
        os.makedirs(tmp_path / cls)
        for i in range(3):
            (tmp_path / cls / f"{i}.jpg").write_text("not an image")
    with pytest.raises(ValueError, match=r"All 6 image files of the 'train_full' split are "):
        data.load_split("folder", "train_full", data_dir=str(tmp_path), val_fraction=0.0)


def test_preprocessing_adapts_grey_28x28_to_rgb_32x32_and_is_seeded():
    images, labels = data.load_idx_dataset(FMNIST, "test")
    split = data.Split(
        "fashion_mnist", "test", 10, 8, (28, 28, 1), images=images[:8], labels=labels[:8]
    )
    mean = data.mean_image(split, (32, 32, 3))
    padded = np.zeros((8, 32, 32, 3), np.float64)
    padded[:, 2:30, 2:30, :] = images[:8]
    np.testing.assert_allclose(mean, padded.mean(0), rtol=1e-5, atol=1e-3)
    ev = data.make_preprocess("cifar", training=False, input_shape=(32, 32, 3), mean_image=mean)
    x, y = ev(images[0], labels[0])
    np.testing.assert_allclose(x.numpy(), padded[0] - mean, atol=1e-3)
    tr = data.make_preprocess("cifar", training=True, input_shape=(32, 32, 3), mean_image=mean)
    a = tr(images[0], labels[0], np.array([1, 2]))[0].numpy()
    b = tr(images[0], labels[0], np.array([1, 2]))[0].numpy()
    c = [tr(images[0], labels[0], np.array([1, s]))[0].numpy() for s in range(3, 9)]
    np.testing.assert_array_equal(a, b)  # stateless: the seed fixes the augmentation
    assert any(not np.array_equal(a, other) for other in c)
    for pipeline, mode in (("resnet_imagenet", "caffe"), ("inception", "tf")):
        for training in (True, False):
            fn = data.make_preprocess(
                pipeline, training=training, input_shape=(64, 64, 3), mode=mode
            )
            assert tuple(fn(images[0], labels[0])[0].shape) == (64, 64, 3)
    with pytest.raises(ValueError, match="pipeline"):
        data.make_preprocess("autoaugment", training=True, input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match="mean_image"):
        data.make_preprocess("cifar", training=True, input_shape=(32, 32, 3))


def test_sharded_batches_are_the_single_process_batches_and_skip_resumes():
    split = data.load_split("fashion_mnist", "val", max_examples=64)
    fn = data.make_preprocess(
        "cifar",
        training=True,
        input_shape=(28, 28, 1),
        mean_image=np.zeros((28, 28, 1), np.float32),
    )
    kw = {"training": True, "seed": 5, "epoch": 2}
    single = [(x.numpy(), y.numpy()) for x, y in data.build_dataset(split, fn, batch_size=8, **kw)]
    shards = [
        [
            (x.numpy(), y.numpy())
            for x, y in data.build_dataset(
                split, fn, batch_size=4, num_shards=2, shard_index=i, **kw
            )
        ]
        for i in range(2)
    ]
    assert len(single) == len(shards[0]) == 8
    for k, (x, y) in enumerate(single):
        merged_x = np.concatenate([shards[0][k][0], shards[1][k][0]])
        merged_y = np.concatenate([shards[0][k][1], shards[1][k][1]])
        order_a, order_b = np.lexsort(x.reshape(8, -1).T), np.lexsort(merged_x.reshape(8, -1).T)
        np.testing.assert_array_equal(x[order_a], merged_x[order_b])  # same images, same crops
        np.testing.assert_array_equal(np.sort(y), np.sort(merged_y))
    resumed = list(data.build_dataset(split, fn, batch_size=8, skip_examples=3 * 8, **kw))
    assert len(resumed) == 5
    np.testing.assert_array_equal(resumed[0][0].numpy(), single[3][0])
    other_epoch = next(
        iter(data.build_dataset(split, fn, batch_size=8, training=True, seed=5, epoch=3))
    )
    assert not np.array_equal(other_epoch[1].numpy(), single[0][1])


def test_evaluation_padding_gives_every_worker_the_same_number_of_batches():
    split = data.load_split("fashion_mnist", "test", max_examples=10)
    fn = data.make_preprocess("none", training=False, input_shape=(28, 28, 1))
    per_worker = [
        list(
            data.build_dataset(
                split,
                fn,
                batch_size=2,
                training=False,
                num_shards=2,
                shard_index=i,
                pad_to_batches=3,
            )
        )
        for i in range(2)
    ]
    assert [len(b) for b in per_worker] == [3, 3]
    weights = sum(float(w.numpy().sum()) for batches in per_worker for _, _, w in batches)
    assert weights == 10.0


def test_training_reads_tfds_cifar10_by_name(tiny_cifar10, tmp_path):
    import keras

    from keras_convnets.training import TrainConfig, train

    def tiny(input_shape, classes):
        x = inp = keras.Input(input_shape)
        x = keras.layers.Conv2D(4, 3, strides=2, activation="relu", name="c1")(x)
        x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
        return keras.Model(
            inp, keras.layers.Dense(classes, activation="softmax", name="predictions")(x)
        )

    cfg = TrainConfig(
        recipe="resnet_cifar",
        model="tiny",
        dataset="cifar10",
        data_dir=tiny_cifar10,
        batch_size=6,
        steps=4,
        input_shape="32,32,3",
        verbose=0,
        plots=False,
        model_dir=str(tmp_path),
    )
    summary = train(cfg, model_fn=tiny)
    assert summary["steps"] == 4 and summary["epochs"] == pytest.approx(4 / 3)
    with open(tmp_path / "config.json") as f:
        resolved = json.load(f)
    assert (resolved["num_train"], resolved["num_val"], resolved["num_test"]) == (18, 2, 6)
