"""Bad-input cases generated from the builder signatures and the CLI flag definitions.

Used by ``tests/test_bad_input.py`` (which asserts every verdict is ``clear``)
and by ``tests/reliability.py`` (which writes RELIABILITY.md from the same
cases). A new builder argument or CLI flag gets cases without new test code:
the bad values come from the argument's name (:data:`BAD_ARGS`,
:data:`BAD_FLAGS`) or else from the type of its default; an argument or flag
with neither gets the verdict ``no-case``, which the tests refuse.

Verdicts: ``clear`` (ValueError/TypeError, or exit != 0 with ``error`` on
stderr, naming the argument), ``warning`` (the expected warning was given, for
an input that is legal but likely a mistake: another architecture's weights of
the same shapes), ``unclear`` (an error that names neither), ``traceback`` (another
exception, or a Python traceback on stderr), ``silent`` (accepted), ``disk``
(a file in the sandbox changed), ``no-case``.

Run one CLI's cases in a fresh process (flags of different CLIs collide)::

    python tests/bad_input_cases.py cli recipes.train SANDBOX OUT.json
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import inspect
import io
import json
import math
import os
import shutil
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

VERDICTS = ("clear", "warning", "unclear", "traceback", "silent", "disk", "no-case")
# Models whose cases run in the default suite: one of each family and layout.
MODELS = ("resnet20", "plain20", "resnet18", "resnet50", "googlenet", "inception_v2")


@dataclasses.dataclass
class Case:
    id: str
    area: str
    arg: str
    value: object
    call: object = None  # library: a callable of no argument
    expect: str = "error"  # "error" or "warning"
    argv: tuple = ()  # CLI


# --- the sandbox of files (corrupt, truncated, another model's) ------------------------


def make_sandbox(root) -> dict:
    """Writes the files the cases push through; returns ``{label: path}``."""
    import keras_convnets as kc
    from keras_convnets.data.sample_data import load_fashion_mnist_sample
    from keras_convnets.quickstart import write_idx

    root = os.fspath(root)
    os.makedirs(root, exist_ok=True)
    p = {k: os.path.join(root, v) for k, v in _SANDBOX_NAMES.items()}
    good = kc.ResNet20(input_shape=(32, 32, 3), classes=10)
    good.save_weights(p["good_weights"])
    kc.get_model("resnet32", classes=10).save_weights(p["other_weights"])
    plain = kc.get_model("plain20", classes=10)
    plain.save_weights(p["plain_weights"])
    plain.save(p["plain_keras"])
    kc.tf_keras_twin(plain).save_weights(p["plain_legacy_h5"])  # a Keras 2 HDF5 file
    good.save(p["good_keras"])
    blob = open(p["good_weights"], "rb").read()
    open(p["truncated_weights"], "wb").write(blob[: len(blob) // 3])
    open(p["empty_weights"], "wb").close()
    open(p["random_weights"], "wb").write(np.random.default_rng(0).bytes(4096))
    keras_blob = open(p["good_keras"], "rb").read()
    open(p["truncated_keras"], "wb").write(keras_blob[: len(keras_blob) // 2])
    open(p["random_keras"], "wb").write(np.random.default_rng(1).bytes(4096))
    open(p["a_file"], "w").write("not a folder\n")
    open(p["empty_labels"], "w").close()
    np.save(p["bad_mean"], np.zeros((3, 3), np.float32))
    open(p["random_npy"], "wb").write(np.random.default_rng(2).bytes(512))
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images, labels = load_fashion_mnist_sample(split)
        n = 64 if split == "train" else 32
        write_idx(os.path.join(p["idx_dir"], f"{prefix}-images-idx3-ubyte.gz"), images[:n, ..., 0])
        write_idx(os.path.join(p["idx_dir"], f"{prefix}-labels-idx1-ubyte.gz"), labels[:n])
    shutil.copytree(p["idx_dir"], p["corrupt_idx_dir"])
    for stem in ("train", "t10k"):  # both splits: evaluation reads the test one only
        gz = os.path.join(p["corrupt_idx_dir"], f"{stem}-images-idx3-ubyte.gz")
        data = open(gz, "rb").read()
        open(gz, "wb").write(data[: len(data) // 2])
    open(p["empty_gz"], "wb").close()
    open(p["random_idx"], "wb").write(np.random.default_rng(3).bytes(256))
    with gzip.open(p["truncated_idx"], "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + (100).to_bytes(4, "big") + bytes(10))
    open(p["bad_class_index"], "w").write(json.dumps({"0": ["n0", "zero"]}))
    _write_one_class_folder(p["one_class_dir"])
    return p


def _write_one_class_folder(root):
    """A photo folder of one class, beside a hidden .ipynb_checkpoints/ holding a photo too."""
    from PIL import Image

    pixels = np.random.default_rng(4).integers(0, 256, (12, 10, 3), dtype=np.uint8)
    for folder, name in (("cat", "0.jpg"), (".ipynb_checkpoints", "0-checkpoint.jpg")):
        os.makedirs(os.path.join(root, folder))
        Image.fromarray(pixels).save(os.path.join(root, folder, name))


_SANDBOX_NAMES = {
    "good_weights": "good.weights.h5",
    "other_weights": "resnet32.weights.h5",
    "plain_weights": "plain20.weights.h5",
    "plain_keras": "plain20.keras",
    "plain_legacy_h5": "plain20_legacy.h5",
    "good_keras": "good.keras",
    "truncated_weights": "truncated.weights.h5",
    "empty_weights": "empty.weights.h5",
    "random_weights": "random.weights.h5",
    "truncated_keras": "truncated.keras",
    "random_keras": "random.keras",
    "a_file": "a_file",
    "empty_labels": "empty_labels.txt",
    "bad_mean": "bad_mean.npy",
    "random_npy": "random.npy",
    "idx_dir": "idx",
    "corrupt_idx_dir": "corrupt_idx",
    "empty_gz": "empty-idx1-ubyte.gz",
    "random_idx": "random-idx1-ubyte",
    "truncated_idx": "truncated-idx1-ubyte.gz",
    "bad_class_index": "class_index_1.json",
    "one_class_dir": "one_class_photos",
}
MISSING = "/nonexistent/keras_convnets/missing"
PROC = "/proc/keras_convnets_test/out"


def snapshot(root) -> dict:
    """``{relative path: (size, mtime_ns)}`` of every file under ``root``."""
    state = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not (folder == os.fspath(root) and d == "work"))
        for name in files + [d + "/" for d in dirs]:
            full = os.path.join(folder, name.rstrip("/"))
            st = os.lstat(full)
            state[os.path.relpath(full, root) + ("/" if name.endswith("/") else "")] = (
                0 if name.endswith("/") else st.st_size,
                0 if name.endswith("/") else st.st_mtime_ns,
            )
    return state


# --- builder arguments ---------------------------------------------------------------------

# Bad values by argument name; otherwise by the type of the default (_by_type).
BAD_ARGS = {
    "include_top": ["no", 1, None],
    "weights": [5, MISSING + ".weights.h5"],
    "input_tensor": [5, "x"],
    "input_shape": [(32.7, 32, 3), "32,32,3", (32, 32), (32, 32, 0), (1, 1, 3), 32],
    "pooling": ["mean", 1],
    "classes": [0, -1, 2.5, "10", True],
    "classifier_activation": [3, ["softmax"]],
    "name": ["", 3],
    "shortcut": ["D", 1],
    "conv_bias": ["no", 1],
    "residual": ["no", 1, None],
    "aux_logits": ["no", 1],
    "batch_norm": ["no", 1],
    "dropout": [-0.1, 1.0, "0.2"],
    "style": [3, "keras", "Torch"],
}


def _by_type(default):
    if isinstance(default, bool):
        return ["no", 1]
    if isinstance(default, int):
        return [0, -1, 2.5, "1"]
    if isinstance(default, float):
        return [-1.0, "0.5", math.nan]
    if isinstance(default, str):
        return [3]
    return None


def builder_cases(models=MODELS) -> list[Case]:
    """Every argument of every listed model's builder, through its bad values."""
    from keras_convnets.models import registry

    cases = []
    for name in models:
        info = registry.model_info(name)
        for param in inspect.signature(info.builder).parameters.values():
            values = BAD_ARGS.get(param.name, _by_type(param.default))
            if values is None:
                cases.append(Case(f"{name}({param.name}=?)", "builders", param.name, None))
                continue
            for value in values:
                cases.append(
                    Case(
                        f"{name}({param.name}={value!r})",
                        "builders",
                        param.name,
                        value,
                        call=_get_model(name, **{param.name: value}),
                    )
                )
    return cases


def _get_model(model, /, **kwargs):
    def call():
        from keras_convnets.models import registry

        return registry.get_model(model, **kwargs)

    return call


def contradiction_cases() -> list[Case]:
    """Arguments that are fine alone and wrong together."""
    import keras

    return [
        Case(
            "get_model('plain20', residual=True)",
            "builders",
            "residual",
            True,
            _get_model("plain20", residual=True),
        ),
        Case(
            "resnet20(include_top=True, pooling='max')",
            "builders",
            "pooling",
            "max",
            _get_model("resnet20", pooling="max"),
        ),
        Case(
            "resnet20(input_tensor=Input((32,32,3)), input_shape=(64,64,1))",
            "builders",
            "input_shape",
            (64, 64, 1),
            lambda: _get_model(
                "resnet20", input_tensor=keras.Input((32, 32, 3)), input_shape=(64, 64, 1)
            )(),
        ),
        Case(
            "resnet20(weights='imagenet') (not hosted)",
            "builders",
            "weights",
            "imagenet",
            _get_model("resnet20", weights="imagenet"),
        ),
        Case(
            "resnet50(weights='imagenet', classes=10)",
            "builders",
            "classes",
            10,
            _get_model("resnet50", weights="imagenet", classes=10),
        ),
        Case(
            "inception_v3(weights='imagenet', aux_logits=True)",
            "builders",
            "aux_logits",
            True,
            _get_model("inception_v3", weights="imagenet", aux_logits=True),
        ),
        Case(
            "resnet50(weights='imagenet', shortcut='A')",
            "builders",
            "shortcut",
            "A",
            _get_model("resnet50", weights="imagenet", shortcut="A"),
        ),
        Case(
            "resnet50(style='paper', weights='torchvision')",
            "builders",
            "style",
            "paper",
            _get_model("resnet50", style="paper", weights="torchvision"),
        ),
        Case(
            "googlenet(style='torch', aux_logits=True)",
            "builders",
            "aux_logits",
            True,
            _get_model("googlenet", style="torch", aux_logits=True),
        ),
        Case(
            "inception_v2(style='torch')",
            "builders",
            "style",
            "torch",
            _get_model("inception_v2", style="torch"),
        ),
    ]


# --- other public functions --------------------------------------------------------------


def api_cases(files) -> list[Case]:
    """Registry, heads, twin, preprocessing, decoding and loading of (corrupt) files."""
    import keras_convnets as kc
    from keras_convnets import data, quickstart
    from keras_convnets.data import imagenet
    from keras_convnets.models import weights

    def c(id_, area, arg, value, call, expect="error"):
        return Case(id_, area, arg, value, call, expect)

    def resnet20():
        return kc.ResNet20(classes=10)

    f = files
    cases = [
        c("list_models(5)", "registry", "pattern", 5, lambda: kc.list_models(5)),
        c(
            "get_model('resnt50')",
            "registry",
            "resnt50",
            "resnet50",
            lambda: kc.get_model("resnt50"),
        ),
        c("get_model(None)", "registry", "name", None, lambda: kc.get_model(None)),
        c("model_info(3)", "registry", "name", 3, lambda: kc.model_info(3)),
        c(
            "inference_model('resnet20')",
            "heads",
            "model",
            "resnet20",
            lambda: kc.inference_model("resnet20"),
        ),
        c("tf_keras_twin(None)", "twin", "model", None, lambda: kc.tf_keras_twin(None)),
        c(
            "with_aux_targets(list, model)",
            "heads",
            "dataset",
            "list",
            lambda: kc.with_aux_targets([1, 2], kc.GoogLeNet(input_shape=(96, 96, 3))),
        ),
        c(
            "with_aux_targets(ds, [])",
            "heads",
            "model_or_names",
            [],
            lambda: kc.with_aux_targets(None, []),
        ),
        c(
            "preprocess_input(shape (4,4))",
            "preprocessing",
            "images",
            "(4, 4)",
            lambda: kc.preprocess_input(np.zeros((4, 4))),
        ),
        c(
            "preprocess_input(5 channels)",
            "preprocessing",
            "images",
            "5 channels",
            lambda: kc.preprocess_input(np.zeros((1, 4, 4, 5))),
        ),
        c(
            "preprocess_input(1-channel, caffe)",
            "preprocessing",
            "images",
            "1 channels",
            lambda: kc.preprocess_input(np.zeros((1, 4, 4, 1)), mode="caffe"),
        ),
        c(
            "preprocess_input(mode='bgr')",
            "preprocessing",
            "mode",
            "bgr",
            lambda: kc.preprocess_input(np.zeros((1, 4, 4, 3)), mode="bgr"),
        ),
        c(
            "preprocess_input(strings)",
            "preprocessing",
            "images",
            "<U1",
            lambda: kc.preprocess_input(np.array([[[["a"] * 3]]])),
        ),
        c(
            "decode_predictions(NaN)",
            "preprocessing",
            "preds",
            "NaN",
            lambda: imagenet.decode_predictions(
                np.full((1, 1000), np.nan), class_index_path=f["bad_class_index"]
            ),
        ),
        c(
            "decode_predictions(top=True)",
            "preprocessing",
            "top",
            True,
            lambda: imagenet.decode_predictions(np.zeros((1, 1000)), top=True),
        ),
        c(
            "decode_predictions(1-entry class index)",
            "preprocessing",
            "class index",
            "1 entries",
            lambda: imagenet.decode_predictions(
                np.zeros((1, 1000)), class_index_path=f["bad_class_index"]
            ),
        ),
        c(
            "decode_predictions(shape (2, 10))",
            "preprocessing",
            "preds",
            "(2, 10)",
            lambda: imagenet.decode_predictions(np.zeros((2, 10))),
        ),
    ]
    for label in ("truncated_weights", "empty_weights", "random_weights", "other_weights",
                  "truncated_keras", "random_keras"):  # fmt: skip
        path = f[label]
        cases.append(
            c(
                f"ResNet20(weights=<{label}>)",
                "files",
                "weights",
                path,
                lambda path=path: kc.ResNet20(classes=10, weights=path),
            )
        )
    cases.append(
        c(
            "ResNet20(weights=<plain-20 weights>)",
            "files",
            "weights",
            f["plain_weights"],
            lambda: kc.ResNet20(classes=10, weights=f["plain_weights"]),
            "warning",
        )
    )
    for label in ("plain_keras", "plain_legacy_h5"):
        path = f[label]
        cases.append(
            c(
                f"load_weights_checked(ResNet20, <{label}>)",
                "files",
                "weights",
                path,
                lambda path=path: weights.load_weights_checked(resnet20(), path),
                "warning",
            )
        )
    for label in ("truncated_keras", "random_keras", "random_weights"):
        path = f[label]
        cases.append(
            c(
                f"load_model(<{label}>)",
                "files",
                "path",
                path,
                lambda path=path: kc.load_model(path),
            )
        )
    cases.append(
        c(
            "load_model(<missing>)",
            "files",
            "path",
            MISSING + ".keras",
            lambda: kc.load_model(MISSING + ".keras"),
        )
    )
    for label in ("empty_gz", "random_idx", "truncated_idx"):
        path = f[label]
        cases.append(
            c(f"read_idx(<{label}>)", "files", "idx", path, lambda path=path: data.read_idx(path))
        )
    cases.append(
        c(
            "read_idx(<truncated .gz>)",
            "files",
            "idx",
            os.path.join(f["corrupt_idx_dir"], "train-images-idx3-ubyte.gz"),
            lambda: data.read_idx(os.path.join(f["corrupt_idx_dir"], "train-images-idx3-ubyte.gz")),
        )
    )
    cases.append(
        c(
            "quickstart data_dir=<corrupt IDX>",
            "files",
            "data_dir",
            f["corrupt_idx_dir"],
            lambda: quickstart.resolve_data(f["corrupt_idx_dir"], f["idx_dir"] + "_work"),
        )
    )
    cases.append(
        c(
            "load_split('folder', data_dir=<one class + hidden folder>)",
            "files",
            "data_dir",
            f["one_class_dir"],
            lambda: data.load_split("folder", "train", data_dir=f["one_class_dir"]),
        )
    )
    return cases


def library_verdict(case: Case, sandbox=None) -> tuple[str, str]:
    """``(verdict, message)`` of one library case."""
    if case.call is None:
        return "no-case", f"no bad values known for argument {case.arg!r}"
    before = snapshot(sandbox) if sandbox else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            case.call()
        except (ValueError, TypeError) as err:
            verdict, message = ("clear" if _names(str(err), case) else "unclear"), str(err)
        except Exception as err:  # noqa: BLE001 - the point is to classify it
            verdict, message = "traceback", f"{type(err).__name__}: {err}"
        else:
            ours = [w for w in caught if "architecture" in str(w.message)]
            if ours and case.expect == "warning":
                verdict, message = "warning", str(ours[0].message)
            else:
                verdict, message = "silent", "accepted"
    if before is not None and snapshot(sandbox) != before:
        verdict = "disk"
    return verdict, message.splitlines()[0] if message else ""


def _names(message: str, case: Case) -> bool:
    """The message names the argument (a value alone can be a parser's "could not convert")."""
    message = message.lower()
    arg = case.arg.lower()
    variants = {arg, arg.replace("_", "-"), arg.replace("_", " "), arg.replace("-", "_")}
    return any(a in message for a in variants)


# --- CLI flags -----------------------------------------------------------------------------

CLIS = (
    "recipes.train",
    "recipes.evaluate",
    "export",
    "keras_convnets",
    "keras_convnets.quickstart",
)
# The module that defines each CLI's flags and ``main`` (recipes/ and export/ are shims).
CLI_MODULES = {
    "recipes.train": "keras_convnets.cli.train",
    "recipes.evaluate": "keras_convnets.cli.evaluate",
    "export": "keras_convnets.cli.export",
    "keras_convnets": "keras_convnets.__main__",
    "keras_convnets.quickstart": "keras_convnets.quickstart",
}


def _base_argv(cli, f, work):
    """Flags that make a cheap, valid run: a bad value the CLI accepts costs seconds."""
    if cli == "recipes.train":
        return [
            "--dataset=fashion_mnist", f"--data_dir={f['idx_dir']}", "--model=resnet20",
            "--steps=2", "--batch_size=8", "--max_train_examples=32", "--max_eval_examples=16",
            f"--model_dir={work}/run", "--verbose=0", "--noplots", "--log_every=1",
        ]  # fmt: skip
    if cli == "recipes.evaluate":
        return [
            "--model=resnet20", "--input_shape=28,28,1", "--classes=10",
            "--dataset=fashion_mnist_idx", f"--data_dir={f['idx_dir']}", "--max_images=8",
            "--batch_size=8", "--top_k=1",
        ]  # fmt: skip
    if cli == "export":
        return [
            "--model=resnet20", "--classes=10", "--input_shape=32,32,3",
            f"--output={work}/out/m.tflite", "--eval_count=8",
        ]  # fmt: skip
    if cli == "keras_convnets.quickstart":
        return [
            f"--output_dir={work}/demo", f"--data_dir={f['idx_dir']}", "--small", "--steps=2",
            "--verbose",  # TF log lines on stderr: non-verbose runs swap sys.stderr
        ]  # fmt: skip
    return []


# By flag name: the bad values (strings as typed); labels in <> are sandbox files.
BAD_FLAGS = {
    "recipe": ["nope"],
    "recipe_options": ["cutout", "cutuot=0", "cutout=big", "cutout=1.5", "base_lr=-1"],
    "model": ["resnt50", "<a_file>"],
    "dataset": ["nope"],
    "model_dir": ["<a_file>", PROC],
    "data_dir": [MISSING, "<corrupt_idx_dir>", "<a_file>"],
    "run": [MISSING, "<a_file>", "<idx_dir>"],  # missing, a file, a folder that is no run
    "manual_dir": [MISSING],
    "input_shape": ["32,32", "a,b,c", "32.5,32,3"],
    "weights": [
        MISSING + ".weights.h5",
        "<truncated_weights>",
        "<empty_weights>",
        "<random_weights>",
        "<other_weights>",
        "<idx_dir>",  # a folder that is not a training run
        "torchvision",  # converted weights for a network that has none (resnet20)
        "timm:resnet18.nope",
    ],  # fmt: skip
    "model_file": [MISSING + ".keras", "<truncated_keras>", "<random_keras>"],
    "split": ["nope"],
    "format": ["onnx"],
    "quantize": ["int4"],
    "io_type": ["int16"],
    "input": ["bogus"],
    "raw_size": ["28", "a,b"],
    "quantizer": ["onnx"],
    "output": ["<a_file>/m.tflite", PROC + "/m.tflite", "m.onnx"],
    "output_dir": ["<a_file>", PROC],
    "labels": [MISSING + ".txt", "<empty_labels>"],
    "preprocessing": ["bgr"],
    "pipeline": ["nope"],
    "mean_image": [MISSING + ".npy", "<random_npy>"],
    "shortcut": ["D"],
    "top_k": ["a", "0"],
    "scales": ["a,b", "-1"],
    # Free-text metadata: any printable text is fine; empty, NUL and (but for the
    # description) a line break are refused.
    "model_name": ["", "a<NL>b", "a<NUL>b"],
    "model_version": ["", "1<NL>2"],
    "author": [" ", "a<NUL>b"],
    "license": ["", "MIT<NL>x"],
    "description": ["", "a<NUL>b"],
}
_BY_FLAG_TYPE = {
    "int": ["abc", "-1"],
    "float": ["abc", "-1", "nan"],
    "bool": ["maybe"],
    "enum": ["bogus"],
}


def _fill(value, f):
    for label, path in f.items():
        value = value.replace(f"<{label}>", path)
    return value.replace("<NL>", "\n").replace("<NUL>", "\0")


# Per CLI: other bad values for a flag name than BAD_FLAGS's.
BAD_FLAGS_BY_CLI = {
    "recipes.evaluate": {"output": ["<a_file>/r.json", PROC + "/r.json"]},
    "keras_convnets.quickstart": {"data_dir": ["<corrupt_idx_dir>", "<a_file>"]},
}
# A case for this flag drops these flags of the base command (they exclude each other).
EXCLUDES = {
    "model_file": ("model", "classes", "input_shape"),
    "run": ("model", "classes", "input_shape"),
}


def cli_cases(cli, flag_defs, f, work) -> list[Case]:
    """One case per (flag, bad value); ``flag_defs``: ``[(name, type), ...]``."""
    cases = []
    for name, kind in flag_defs:
        base = [
            a for a in _base_argv(cli, f, work)
            if not any(a.startswith(f"--{x}=") for x in EXCLUDES.get(name, ()))
        ]  # fmt: skip
        rules = {**BAD_FLAGS, **BAD_FLAGS_BY_CLI.get(cli, {})}
        values = rules.get(name, _BY_FLAG_TYPE.get(kind))
        if values is None:
            cases.append(Case(f"{cli} --{name}=?", cli, name, None))
            continue
        for raw in values:
            value = _fill(raw, f)
            if kind == "bool":
                argv = [a for a in base if a.lstrip("-").removeprefix("no") != name]
                argv.append(f"--{name}={value}")
            else:
                argv = [a for a in base if not a.startswith(f"--{name}=")] + [f"--{name}={value}"]
            cases.append(Case(f"{cli} --{name}={raw}", cli, name, value, argv=tuple(argv)))
    return cases


def absl_flag_defs(module_name):
    from absl import flags

    defs = []
    for fl in flags.FLAGS.get_flags_for_module(module_name):
        if isinstance(fl.parser, flags.EnumParser):
            kind = "enum"
        elif isinstance(fl.parser, flags.ListParser):
            kind = "list"
        else:
            kind = fl.flag_type().replace("multi_string", "string")
        defs.append((fl.name, kind))
    return defs


def argparse_flag_defs(parser):
    defs = []
    for action in parser._actions:
        if not action.option_strings or action.dest == "help":
            continue
        kind = (
            "bool" if action.nargs == 0 else "int" if action.type not in (None, str) else "string"
        )
        if action.type is float:
            kind = "float"
        defs.append((action.dest, kind))
    return defs


def cli_verdict(case: Case, rc, stderr: str, changed: bool) -> tuple[str, str]:
    if case.argv == ():
        return "no-case", f"no bad values known for flag --{case.arg}"
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    if changed:
        return "disk", last
    if "Traceback" in stderr:
        return "traceback", last
    if rc == 0:
        return "silent", "exit 0"
    said = "\n".join(line for line in lines if "error" in line.lower())
    if said and _names(said, case):
        return "clear", said.splitlines()[-1]
    return "unclear", last


def run_cli(cli, sandbox_json, out_json):
    """Runs every case of ``cli`` in this process, in a fresh sandbox copy each time."""
    import importlib

    import keras

    f = json.load(open(sandbox_json))
    work = f["work"]
    module = importlib.import_module(CLI_MODULES[cli])
    if cli in ("keras_convnets", "keras_convnets.quickstart"):
        defs = _argparse_defs(cli, module)
    else:
        defs = absl_flag_defs(module.__name__)
    results = []
    for case in cli_cases(cli, defs, f, work) + _extra_cli_cases(cli, f, work):
        if not case.argv:
            results.append((case.id, case.area, *cli_verdict(case, None, "", False)))
            continue
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        os.chdir(work)  # relative outputs land in the checked folder
        before = snapshot(f["root"])
        rc, err = _run_one(cli, module, list(case.argv))
        keras.backend.clear_session()
        # Nothing outside the work folder may change, and a rejected run leaves it empty.
        changed = snapshot(f["root"]) != before or bool(os.listdir(work))
        results.append((case.id, case.area, *cli_verdict(case, rc, err, bool(changed))))
    json.dump(results, open(out_json, "w"), indent=1)


def _argparse_defs(cli, module):
    if cli == "keras_convnets.quickstart":
        import argparse

        captured = {}
        original = argparse.ArgumentParser.parse_args

        def grab(self, *a, **k):
            captured["parser"] = self
            raise SystemExit(0)

        argparse.ArgumentParser.parse_args = grab
        try:
            module.parse_args([])
        except SystemExit:
            pass
        finally:
            argparse.ArgumentParser.parse_args = original
        return argparse_flag_defs(captured["parser"])
    return []  # the model CLI: subcommands, see _extra_cli_cases


def _extra_cli_cases(cli, f, work):
    if cli != "keras_convnets":
        return []
    rows = [
        ("model", "resnt50", ["summary", "resnt50"]),
        ("input_shape", "32,32", ["summary", "resnet20", "--input_shape=32,32"]),
        ("input_shape", "a,b,c", ["summary", "resnet20", "--input_shape=a,b,c"]),
        ("command", "nope", ["nope"]),
    ]
    # predict: one image that exists (a JPEG of the sandbox), every source wrong in turn.
    image = os.path.join(f["one_class_dir"], "cat", "0.jpg")
    keras_file = f"--file={f['good_keras']}"
    rows += [
        ("images", MISSING + ".jpg", ["predict", keras_file, MISSING + ".jpg"]),
        ("run", "<a_file>", ["predict", f"--run={f['a_file']}", image]),
        ("run", MISSING, ["predict", f"--run={MISSING}", image]),
        ("top_k", "0", ["predict", keras_file, "--top_k=0", image]),
        ("model", "resnt50", ["predict", "--model=resnt50", "--weights=imagenet", image]),
        ("file", "<random_keras>", ["predict", f"--file={f['random_keras']}", image]),
        ("file", MISSING + ".tflite", ["predict", f"--file={MISSING}.tflite", image]),
        ("run", "with --model", ["predict", f"--run={f['idx_dir']}", "--model=resnet20", image]),
    ]
    return [Case(f"keras_convnets {' '.join(a)}", cli, arg, v, argv=tuple(a)) for arg, v, a in rows]


def _run_one(cli, module, argv):
    err = io.StringIO()
    out = io.StringIO()
    rc = 0
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            if cli in ("keras_convnets", "keras_convnets.quickstart"):
                rc = module.main(argv)
            else:
                from absl import app, flags

                flags.FLAGS.unparse_flags()
                app.run(module.main, argv=[cli, *argv])
        except SystemExit as exc:
            code = exc.code
            if isinstance(code, str):
                print(code, file=err)
                code = 1
            rc = code or 0
        except BaseException:  # noqa: BLE001 - a raw exception is what we classify
            import traceback

            traceback.print_exc(file=err)
            rc = 1
    return rc, err.getvalue()


if __name__ == "__main__":
    if sys.argv[1] == "cli":
        run_cli(sys.argv[2], sys.argv[3], sys.argv[4])
