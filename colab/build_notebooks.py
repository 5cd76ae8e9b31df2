"""Writes the Colab notebooks of this folder (without outputs) from the cells below.

    python colab/build_notebooks.py                # notebooks and README badges
    python colab/build_notebooks.py --org=NAME     # once the repository's home is known

Edit the cells here, not in the ``.ipynb`` files, and run this again. Each
notebook starts with an install cell (pip, only inside Colab) and a
``parameters`` cell (papermill's tag) holding ``SMALL_RUN``: ``True`` runs a
short schedule in about a minute on a laptop CPU (the tests set it), ``False``
the schedule that gives meaningful figures (a Colab GPU is advised).

The README's "Open in Colab" badges are generated here too (between its
``colab-badges`` markers), so the notebooks' install cell and the badges
always name the same GitHub home: :data:`GITHUB_ORG`. ``--org=NAME`` rewrites
that constant in this file, then the notebooks and the README.
"""

from __future__ import annotations

import argparse
import os
import re

import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(os.path.dirname(HERE), "README.md")

# The GitHub organisation (or user) that hosts keras_convnets. "your-org" is a
# placeholder until the repository is published: set it with --org=NAME.
GITHUB_ORG = "your-org"
REPOSITORY = "keras_convnets"

INSTALL = """\
# In Colab, install keras_convnets from GitHub (elsewhere it is already installed).
import sys

GITHUB_ORG = "<org>"  # the GitHub organisation (or user) that hosts keras_convnets
if "google.colab" in sys.modules:
    !pip install -q "keras_convnets[train,export] @ git+https://github.com/{GITHUB_ORG}/keras_convnets"
"""

PARAMETERS = """\
SMALL_RUN = False  # True: a short schedule for a quick check (about a minute on a CPU)
"""

QUICKSTART = [
    (
        "markdown",
        """\
# keras_convnets quickstart

Build a paper architecture and read its cost, fine-tune the CIFAR ResNet-20 on
Fashion-MNIST, export it as a full-integer int8 TFLite model and run it with the
LiteRT interpreter. Everything runs offline: without the Fashion-MNIST IDX
files, the 5,000/1,000-image sample shipped in the package is used.""",
    ),
    ("code", INSTALL),
    ("code", PARAMETERS),
    (
        "markdown",
        "## 1. ResNet-50 and its cost table (He et al. 2015, Table 1: 3.8 billion FLOPs)",
    ),
    (
        "code",
        """\
import keras_convnets
from keras_convnets.analysis import cost

resnet50 = keras_convnets.ResNet50()
print(cost.format_table(cost.analyze(resnet50)))""",
    ),
    (
        "markdown",
        """\
## 2. Fine-tune ResNet-20 on Fashion-MNIST

The `resnet_cifar` recipe (§4.2 of the paper: SGD 0.1 scaled to the batch,
momentum 0.9, weight decay 1e-4, /10 at 50% and 75% of training); the 28x28
grey images are zero-padded to 32x32 and repeated to RGB.""",
    ),
    (
        "code",
        """\
import os
import tempfile

from keras_convnets import data
from keras_convnets.quickstart import resolve_data
from keras_convnets.training import TrainConfig, train

work = tempfile.mkdtemp(prefix="quickstart_")
data_dir, source = resolve_data(data.FASHION_MNIST_DIR, work)
print("Data:", source)
cfg = TrainConfig(
    recipe="resnet_cifar",
    model="resnet20",
    dataset="fashion_mnist",
    data_dir=data_dir,
    model_dir=os.path.join(work, "train"),
    batch_size=32 if SMALL_RUN else 128,
    steps=40 if SMALL_RUN else None,
    epochs=None if SMALL_RUN else 10,
    max_train_examples=1000 if SMALL_RUN else None,
    max_eval_examples=200 if SMALL_RUN else None,
    log_every=10 if SMALL_RUN else 100,
    plots=False,  # the run's own PNGs are not needed: this notebook draws its curves below
)
summary, model = train(cfg, return_model=True)
print(f"test accuracy {summary['test_accuracy']:.4f}")""",
    ),
    ("markdown", "## 3. Export a full-integer int8 TFLite model and check its parity"),
    (
        "code",
        """\
import numpy as np

from keras_convnets import deploy

train_x, train_y = data.load_idx_dataset(data_dir, "train")
test_x, test_y = data.load_idx_dataset(data_dir, "test")
n_eval = 200 if SMALL_RUN else 2000
tflite_path = os.path.join(work, "resnet20_int8.tflite")
report = deploy.export_model(
    model,
    tflite_path,
    quantize="int8",
    arch="resnet20",
    pipeline="cifar",
    mean_image=os.path.join(cfg.model_dir, "mean_image.npy"),
    labels=list(data.FASHION_MNIST_LABELS),
    representative_images=train_x[np.random.default_rng(0).permutation(len(train_x))[:200]],
    eval_images=test_x[:n_eval],
    eval_labels=test_y[:n_eval],
)""",
    ),
    ("markdown", "## 4. Run the TFLite file with the interpreter and show a few predictions"),
    (
        "code",
        """\
import matplotlib.pyplot as plt

# The int8 file takes raw uint8 pixels (padding, grey -> RGB and the mean image are in
# its graph): the grey images are only shown as RGB, as a camera frame would be.
with open(tflite_path, "rb") as f:
    runner = deploy.TFLiteRunner(f.read())
images, labels = test_x[:8], test_y[:8]
probs = runner.predict(np.repeat(images, 3, axis=-1))
fig, axes = plt.subplots(1, 8, figsize=(16, 2.6))
for ax, image, label, p in zip(axes, images, labels, probs):
    ax.imshow(image[..., 0], cmap="gray")
    guess = data.FASHION_MNIST_LABELS[p.argmax()]
    ax.set_title(f"{guess}\\n({data.FASHION_MNIST_LABELS[label]})", fontsize=9)
    ax.axis("off")
plt.show()""",
    ),
]

DEGRADATION = [
    (
        "markdown",
        """\
# Plain vs residual networks (He et al. 2015, Figures 1 and 6)

The degradation problem: a deeper *plain* network (plain-56) trains to a
higher training error than a shallower one (plain-20); with identity
shortcuts (ResNet-56 vs ResNet-20) the deeper network is the better one. The
paper trains on CIFAR-10 for 64k iterations; here Fashion-MNIST (offline), for
a short schedule: the gap shows in the first epochs already.""",
    ),
    ("code", INSTALL),
    ("code", PARAMETERS),
    (
        "code",
        """\
import os
import tempfile

from keras_convnets import data
from keras_convnets.quickstart import resolve_data
from keras_convnets.training import TrainConfig, train

work = tempfile.mkdtemp(prefix="degradation_")
data_dir, source = resolve_data(data.FASHION_MNIST_DIR, work)
print("Data:", source)
histories = {}
for name in ("plain20", "plain56", "resnet20", "resnet56"):
    cfg = TrainConfig(
        recipe="resnet_cifar",
        model=name,
        dataset="fashion_mnist",
        data_dir=data_dir,
        model_dir=os.path.join(work, name),
        batch_size=32 if SMALL_RUN else 128,
        epochs=2 if SMALL_RUN else 20,
        max_train_examples=160 if SMALL_RUN else None,
        max_eval_examples=64 if SMALL_RUN else None,
        verbose=0,
        plots=False,
    )
    summary = train(cfg)
    histories[name] = summary
    print(f"{name}: test error {100 * (1 - summary['test_accuracy']):.1f}%")""",
    ),
    (
        "markdown",
        "Training error per epoch (dashed: plain, solid: residual; thin: 20 layers, thick: 56).",
    ),
    (
        "code",
        """\
import csv

import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(7, 4.5))
for name in histories:
    with open(os.path.join(work, name, "history.csv")) as f:
        rows = list(csv.DictReader(f))
    epochs = [float(r["epoch"]) for r in rows]
    errors = [100 * (1 - float(r["train_accuracy"])) for r in rows]
    ax.plot(
        epochs,
        errors,
        "--" if name.startswith("plain") else "-",
        linewidth=2.5 if name.endswith("56") else 1.2,
        marker="o",
        label=name,
    )
ax.set_xlabel("epoch")
ax.set_ylabel("training error (%)")
ax.set_title("Plain vs residual on Fashion-MNIST")
ax.grid(alpha=0.3)
ax.legend()
plt.show()""",
    ),
]

GOOGLENET = [
    (
        "markdown",
        """\
# GoogLeNet and its auxiliary classifiers (Szegedy et al. 2014, §5)

GoogLeNet adds two auxiliary classifiers on inception (4a) and (4d) during
training; their losses are added with weight 0.3 and they are discarded at
inference. Here on Fashion-MNIST images resized to 65x65 (the smallest input
the auxiliary heads' 5x5/3 pooling accepts) so that it runs on a CPU.""",
    ),
    ("code", INSTALL),
    ("code", PARAMETERS),
    (
        "code",
        """\
import tempfile

import keras
import numpy as np
import tensorflow as tf

import keras_convnets
from keras_convnets import data
from keras_convnets.quickstart import resolve_data

SIZE = 65 if SMALL_RUN else 96
N_TRAIN, N_TEST, EPOCHS = (128, 64, 2) if SMALL_RUN else (20000, 2000, 8)
data_dir, source = resolve_data(data.FASHION_MNIST_DIR, tempfile.mkdtemp(prefix="googlenet_"))
print("Data:", source)
train_x, train_y = data.load_idx_dataset(data_dir, "train")
test_x, test_y = data.load_idx_dataset(data_dir, "test")
order = np.random.default_rng(0).permutation(len(train_x))[:N_TRAIN]


def to_model_input(x, y):
    # uint8 grey 28x28 -> float RGB SIZE x SIZE in [-1, 1] (the registry's "tf" mode).
    x = tf.image.resize(tf.image.grayscale_to_rgb(tf.cast(x, tf.float32)), (SIZE, SIZE))
    return x / 127.5 - 1.0, y


train_ds = tf.data.Dataset.from_tensor_slices((train_x[order], train_y[order]))
train_ds = train_ds.shuffle(N_TRAIN, seed=0).batch(32).map(to_model_input)
test_ds = tf.data.Dataset.from_tensor_slices((test_x[:N_TEST], test_y[:N_TEST]))
test_ds = test_ds.batch(64).map(to_model_input)""",
    ),
    (
        "code",
        """\
model = keras_convnets.GoogLeNet(input_shape=(SIZE, SIZE, 3), classes=10)
weights = keras_convnets.loss_weights("googlenet")
print("outputs:", model.output_names, "loss weights:", weights)
model.compile(
    optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
    loss={name: "sparse_categorical_crossentropy" for name in model.output_names},
    loss_weights=weights,
    metrics={"predictions": "accuracy"},
)
history = model.fit(
    keras_convnets.with_aux_targets(train_ds, model),
    validation_data=keras_convnets.with_aux_targets(test_ds, model),
    epochs=EPOCHS,
    verbose=2,
)""",
    ),
    ("markdown", "The three training losses (the total is `main + 0.3 aux1 + 0.3 aux2`)."),
    (
        "code",
        """\
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(7, 4))
for name in model.output_names:
    losses = history.history[f"{name}_loss"]
    ax.plot(range(1, len(losses) + 1), losses, marker="o", label=f"{name} (x{weights[name]})")
ax.set_xlabel("epoch")
ax.set_ylabel("training loss")
ax.grid(alpha=0.3)
ax.legend()
plt.show()""",
    ),
    ("markdown", "At inference the auxiliary heads go: the same layers, one output."),
    (
        "code",
        """\
serving = keras_convnets.inference_model(model)
print(f"training model:  {model.count_params():,} parameters, outputs {model.output_names}")
print(f"inference model: {serving.count_params():,} parameters, output {serving.output_shape}")
probs = serving.predict(test_ds, verbose=0)
print(f"test accuracy (main head): {100 * np.mean(probs.argmax(-1) == test_y[:N_TEST]):.1f}%")""",
    ),
]

QUANTIZATION = [
    (
        "markdown",
        """\
# Float vs dynamic-range vs int8 vs quantization-aware training

One trained ResNet-20, four TFLite exports with `keras_convnets.deploy.export_model`:
float32, dynamic-range (int8 weights), full-integer int8 (post-training,
calibrated on training images) and QAT (fine-tuned with fake quantization,
then converted). Accuracy on the same test images, file size, latency.""",
    ),
    ("code", INSTALL),
    ("code", PARAMETERS),
    (
        "code",
        """\
import os
import tempfile

import numpy as np

from keras_convnets import data, deploy
from keras_convnets.quickstart import resolve_data
from keras_convnets.training import TrainConfig, train

work = tempfile.mkdtemp(prefix="quantization_")
data_dir, source = resolve_data(data.FASHION_MNIST_DIR, work)
print("Data:", source)
cfg = TrainConfig(
    recipe="resnet_cifar",
    model="resnet20",
    dataset="fashion_mnist",
    data_dir=data_dir,
    model_dir=os.path.join(work, "train"),
    batch_size=32 if SMALL_RUN else 128,
    steps=30 if SMALL_RUN else None,
    epochs=None if SMALL_RUN else 10,
    max_train_examples=1000 if SMALL_RUN else None,
    max_eval_examples=100 if SMALL_RUN else None,
    verbose=0,
    plots=False,
)
summary, model = train(cfg, return_model=True)
print(f"Keras test accuracy {summary['test_accuracy']:.4f}")""",
    ),
    (
        "code",
        """\
train_x, train_y = data.load_idx_dataset(data_dir, "train")
test_x, test_y = data.load_idx_dataset(data_dir, "test")
n_eval = 100 if SMALL_RUN else 2000
picks = np.random.default_rng(0).permutation(len(train_x))[:1000]
reports = []
for quantize in ("none", "dynamic", "int8", "qat"):
    reports.append(
        deploy.export_model(
            model,
            os.path.join(work, f"resnet20_{quantize}.tflite"),
            quantize=quantize,
            arch="resnet20",
            pipeline="cifar",
            mean_image=os.path.join(cfg.model_dir, "mean_image.npy"),
            representative_images=train_x[picks],
            eval_images=test_x[:n_eval],
            eval_labels=test_y[:n_eval],
            train_images=train_x[picks],
            train_labels=train_y[picks],
            qat_steps=5 if SMALL_RUN else 300,
            verbose=False,
        )
    )
print(deploy.parity.format_table(reports))""",
    ),
    (
        "code",
        """\
import matplotlib.pyplot as plt

names = [r["quantize"].replace("none", "float32") for r in reports]
panels = [
    ("accuracy (%)", [r["export_accuracy"] for r in reports]),
    ("size (KB)", [r["size_bytes"] / 1024 for r in reports]),
    ("latency, 1 thread (ms)", [r["latency_ms"]["1"] for r in reports]),
]
fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
for ax, (title, values) in zip(axes, panels):
    ax.bar(names, values, color=["tab:gray", "tab:blue", "tab:orange", "tab:green"])
    ax.set_title(title)
    for i, v in enumerate(values):
        ax.annotate(f"{v:.2f}", (i, v), ha="center", va="bottom", fontsize=9)
fig.suptitle(f"ResNet-20 on Fashion-MNIST, {reports[0]['samples']} test images")
fig.tight_layout()
plt.show()""",
    ),
]

PHOTOS = [
    (
        "markdown",
        """\
# Your photos to a phone

The most common job: you have labelled images in folders, one folder per class.
Train a classifier on them (or fine-tune one you trained before), check it on images
it never saw, and ship an int8 TFLite file with its labels. Every step reads the
*run directory* of the training: no flag is typed twice, so the numbers agree.
Here the notebook writes a small photo folder itself (Fashion-MNIST images of the
shipped sample, as JPEG files); point `PHOTOS` at your own folder instead.""",
    ),
    ("code", INSTALL),
    ("code", PARAMETERS),
    (
        "markdown",
        """\
## 1. The image folder

`PHOTOS/<class>/<image>.jpg`: a seeded, stratified 10% of each class is held out
as the test split, and 10% of the rest for validation. With
`PHOTOS/train/<class>/...` and `PHOTOS/val/<class>/...` (or `validation/`, `test/`)
the second folder is the test split.""",
    ),
    (
        "code",
        """\
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

from keras_convnets.data.sample_data import load_fashion_mnist_sample

WORK = tempfile.mkdtemp(prefix="photos_")
PER_CLASS = 40 if SMALL_RUN else 450
x, y = load_fashion_mnist_sample("train")


def write_folder(root, classes):
    for label, name in classes.items():
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i, index in enumerate(np.flatnonzero(y == label)[:PER_CLASS]):
            image = Image.fromarray(x[index, :, :, 0]).convert("RGB")
            image.save(os.path.join(root, name, f"{i:04d}.jpg"), quality=95)
    return root


OLD_CLASSES = {0: "tshirt", 1: "trouser", 7: "sneaker", 8: "bag"}
PHOTOS = write_folder(os.path.join(WORK, "photos"), OLD_CLASSES)
NEW_PHOTOS = write_folder(os.path.join(WORK, "new_photos"), {3: "dress", 4: "coat", 5: "sandal"})
for folder in (PHOTOS, NEW_PHOTOS):
    print(folder, {c: len(os.listdir(os.path.join(folder, c))) for c in sorted(os.listdir(folder))})


def sh(*args, tail=1500):
    \"\"\"Runs `python -m ARGS` as in a terminal and prints the end of what it printed.\"\"\"
    print("$ python -m", " ".join(args))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, env=env)
    print(proc.stdout[-tail:])
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])""",
    ),
    (
        "markdown",
        """\
## 2. Train, then fine-tune on new classes

The first run trains ResNet-20 from scratch (`resnet_cifar` recipe). The second
starts from it (`--recipe=finetune --weights=RUN`): a new classifier for the three
new classes, the backbone frozen for the first epoch, BatchNorm frozen throughout,
a tenth of the learning rate, and the first run's input transform.""",
    ),
    (
        "code",
        """\
RUN = os.path.join(WORK, "runs", "photos")
TUNED = os.path.join(WORK, "runs", "new_photos")
EPOCHS, TUNE_EPOCHS = ("2", "2") if SMALL_RUN else ("15", "6")
common = ["--model=resnet20", "--dataset=folder", "--batch_size=32", "--verbose=2", "--noplots"]
sh("recipes.train", f"--data_dir={PHOTOS}", "--input_shape=32,32,3", f"--epochs={EPOCHS}",
   f"--model_dir={RUN}", *common, tail=400)
sh("recipes.train", "--recipe=finetune", f"--weights={RUN}", f"--data_dir={NEW_PHOTOS}",
   f"--epochs={TUNE_EPOCHS}", f"--model_dir={TUNED}", *common, tail=600)
print(sorted(os.listdir(TUNED)))""",
    ),
    (
        "markdown",
        """\
## 3. Check it: `recipes.evaluate --run`

The run's model, transform (pipeline, mean image), classes and test split: the
accuracy is exactly the one the training printed.""",
    ),
    ("code", 'sh("recipes.evaluate", f"--run={TUNED}")'),
    (
        "markdown",
        """\
## 4. Ship it: `export --run`, int8, calibrated on the photos

The run's transform is embedded in the metadata, its labels are written beside the
model, and the parity report compares the int8 model with the Keras one on the
run's test images.""",
    ),
    (
        "code",
        """\
TFLITE = os.path.join(WORK, "phone", "new_photos_int8.tflite")
sh("export", f"--run={TUNED}", "--quantize=int8", f"--output={TFLITE}")
print(open(TFLITE.replace(".tflite", ".labels.txt")).read())""",
    ),
    (
        "markdown",
        """\
## 5. On the phone: the LiteRT interpreter on the raw images

What an app does with this file: decode the image, hand its uint8 pixels over as they
are (the int8 file takes raw pixels; the run's transform is inside it, and its `.json`
says so: `"input": "raw"`), invoke, read the label.""",
    ),
    (
        "code",
        """\
import json

from ai_edge_litert.interpreter import Interpreter

from keras_convnets import data
from keras_convnets.training import load_run

card = load_run(TUNED)
images, labels = data.split_arrays(card.load_split("test"))
print("input contract:", json.load(open(TFLITE.replace(".tflite", ".json")))["input"])
interpreter = Interpreter(model_path=TFLITE)
interpreter.allocate_tensors()
inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
print("input tensor:", inp["shape"], inp["dtype"].__name__)
hits = 0
for image, label in zip(images, labels):
    x = np.asarray(image, np.uint8)[None]  # the camera's pixels, as they are
    x = np.repeat(x, inp["shape"][-1] // x.shape[-1], axis=-1)  # a grey frame as RGB
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    hits += int(np.argmax(interpreter.get_tensor(out["index"])[0]) == label)
parity = json.load(open(TFLITE.replace(".tflite", ".parity.json")))
print(f"LiteRT on {len(labels)} raw test images: {100 * hits / len(labels):.2f}% "
      f"(parity report: {parity['export_accuracy']:.2f}%, Keras {parity['keras_accuracy']:.2f}%)")
last = card.class_names[int(np.argmax(interpreter.get_tensor(out["index"])[0]))]
print(f"last image: predicted {last!r}, labelled {card.class_names[int(labels[-1])]!r}")""",
    ),
]

NOTEBOOKS = {
    "01_quickstart.ipynb": QUICKSTART,
    "02_degradation.ipynb": DEGRADATION,
    "03_googlenet_aux.ipynb": GOOGLENET,
    "04_quantization.ipynb": QUANTIZATION,
    "05_your_photos.ipynb": PHOTOS,
}

# What the README's badge line says about each notebook.
BLURBS = {
    "01_quickstart.ipynb": "**Quickstart**: ResNet-50 and its cost table, fine-tune ResNet-20 on "
    "Fashion-MNIST, int8 TFLite with the interpreter.",
    "02_degradation.ipynb": "**Degradation**: plain-20/56 vs ResNet-20/56 training error "
    "(Figures 1 and 6 of He et al.).",
    "03_googlenet_aux.ipynb": "**GoogLeNet auxiliary classifiers**: loss weights 0.3, the three "
    "losses, the inference model without them.",
    "04_quantization.ipynb": "**Quantization**: float32 vs dynamic vs int8 vs QAT: accuracy, "
    "size, latency.",
    "05_your_photos.ipynb": "**Your photos to a phone**: an image folder, train, fine-tune, "
    "evaluate --run, export int8 --run, the LiteRT interpreter on the raw images.",
}

BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
BADGES_START, BADGES_END = "<!-- colab-badges:start -->", "<!-- colab-badges:end -->"


def colab_url(filename: str, org: str = GITHUB_ORG) -> str:
    """The address that opens ``colab/<filename>`` of the main branch in Colab."""
    return f"https://colab.research.google.com/github/{org}/{REPOSITORY}/blob/main/colab/{filename}"


def readme_badges(org: str = GITHUB_ORG) -> str:
    """The README's badge block (between the markers), one paragraph per notebook."""
    return "\n\n".join(
        f"[![Open In Colab]({BADGE})]({colab_url(name, org)}) {BLURBS[name]}" for name in NOTEBOOKS
    )


def _replace_atomically(path: str, text: str):
    from keras_convnets import atomic

    atomic.write_text(path, text)


def update_readme(org: str = GITHUB_ORG, path: str = README):
    """Rewrites the README's badge block; raises if its markers are missing."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    pattern = re.compile(re.escape(BADGES_START) + r"\n.*?\n" + re.escape(BADGES_END), re.S)
    if not pattern.search(text):
        raise ValueError(f"{path} has no {BADGES_START} ... {BADGES_END} block")
    block = f"{BADGES_START}\n{readme_badges(org)}\n{BADGES_END}"
    _replace_atomically(path, pattern.sub(lambda _: block, text))


def set_org(org: str):
    """Rewrites :data:`GITHUB_ORG` in this file (so that tests and rebuilds agree)."""
    if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})", org):
        raise ValueError(
            f"`--org` must be a GitHub organisation or user name (letters, digits, '-'). "
            f"Received: org={org!r}"
        )
    path = os.path.abspath(__file__)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r'^GITHUB_ORG = ".*"$', f'GITHUB_ORG = "{org}"', text, count=1, flags=re.M)
    _replace_atomically(path, text)


def build(cells, org: str = GITHUB_ORG) -> nbformat.NotebookNode:
    """A notebook of ``(kind, source)`` cells; the ``SMALL_RUN`` cell is tagged ``parameters``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["colab"] = {"provenance": []}
    for kind, source in cells:
        source = source.rstrip("\n").replace('GITHUB_ORG = "<org>"', f'GITHUB_ORG = "{org}"')
        if kind == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            cell = nbformat.v4.new_code_cell(source)
            if source.startswith("SMALL_RUN"):
                cell.metadata["tags"] = ["parameters"]
            nb.cells.append(cell)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"  # stable ids: rebuilding gives the same files
    nbformat.validate(nb)
    return nb


def main(argv=None):
    """Writes every notebook of :data:`NOTEBOOKS` beside this script and the README badges."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--org", help="GitHub organisation or user that hosts the repository")
    args = parser.parse_args(argv)
    org = args.org or GITHUB_ORG
    if org != GITHUB_ORG:
        set_org(org)
    for filename, cells in NOTEBOOKS.items():
        path = os.path.join(HERE, filename)
        _replace_atomically(path, nbformat.writes(build(cells, org)) + "\n")
        print(f"wrote {path}")
    update_readme(org)
    print(f"wrote the Colab badges of {README} (GitHub home: {org}/{REPOSITORY})")


if __name__ == "__main__":
    main()
