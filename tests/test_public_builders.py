"""Every public model function: keras.applications' signature, its extras, its docstring example."""

from __future__ import annotations

import doctest
import inspect

import keras
import pytest

import keras_convnets

BUILDERS = [n for n in keras_convnets.__all__ if n[0].isupper() and n != "ModelInfo"]
EXTRAS = {
    "GoogLeNet": ["aux_logits", "batch_norm", "style"],
    "InceptionV1": ["aux_logits", "batch_norm", "style"],
    "InceptionV2": ["aux_logits", "dropout", "style"],
    "InceptionV3": ["aux_logits", "dropout", "style"],
    "InceptionResNetV1": ["scales", "dropout"],
    "InceptionResNetV2": ["scales"],
    "InceptionV4": ["dropout"],
    "ResNet50V2": [],  # exactly keras.applications' signature
    "ResNet101V2": [],
    "ResNet152V2": [],
    "PreActResNet110": ["unit"],
    "PreActResNet164": ["unit"],
    "PreActResNet1001": ["unit"],
}
RESNET_EXTRAS = ["shortcut", "residual", "conv_bias", "style"]
SLOW = {
    "ResNet1202",
    "ResNet152",
    "ResNet101",
    "InceptionV2",
    "InceptionV3",
    "ResNet152V2",
    "PreActResNet1001",
}


def test_every_builder_is_listed():
    assert set(EXTRAS) | {n for n in BUILDERS if n.startswith("ResNet")} == set(BUILDERS)
    assert len(BUILDERS) == 24


@pytest.mark.parametrize("name", BUILDERS)
def test_signature_is_keras_applications_plus_keyword_only_extras(name):
    fn = getattr(keras_convnets, name)
    ours = list(inspect.signature(fn).parameters.values())
    ref = list(inspect.signature(keras.applications.ResNet50).parameters.values())
    assert [p.name for p in ours[: len(ref)]] == [p.name for p in ref]
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in ours[: len(ref)])
    for mine, theirs in zip(ours[:5], ref[:5]):  # include_top ... pooling: same defaults,
        if mine.name != "weights":  # except weights=None: nothing downloads unasked (README)
            assert mine.default == theirs.default, mine.name
    assert ours[1].default is None
    extras = ours[len(ref) :]
    assert [p.name for p in extras] == EXTRAS.get(name, RESNET_EXTRAS)
    assert all(p.kind is p.KEYWORD_ONLY for p in extras)
    assert fn.__name__ in (name, "GoogLeNet") and fn.__module__.startswith("keras_convnets.")
    with pytest.raises(TypeError, match="unexpected keyword argument 'no_such_arg'"):
        fn(no_such_arg=1)
    with pytest.raises(TypeError):  # a ninth positional argument: the extras are keyword-only
        fn(True, None, None, None, None, 10, "softmax", "x", "extra")


@pytest.mark.parametrize("name", BUILDERS)
def test_keras_module_is_no_longer_an_argument(name):
    # API change (issue 11): the tf_keras twin is built by keras_convnets.tf_keras_twin;
    # the builders themselves build Keras 3 only and refuse the old keyword.
    import tf_keras

    fn = getattr(keras_convnets, name)
    assert "keras_module" not in inspect.signature(fn).parameters
    with pytest.raises(TypeError, match="unexpected keyword argument 'keras_module'"):
        fn(keras_module=tf_keras)


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in BUILDERS]
)
def test_docstring_example_runs(name):
    fn = getattr(keras_convnets, name)
    parser = doctest.DocTestParser()
    test = parser.get_doctest(fn.__doc__, {}, name, None, 0)
    assert test.examples, f"{name} has no docstring example"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    out = []
    runner.run(test, out=out.append)
    assert runner.failures == 0, "".join(out)


def test_positional_arguments_bind_as_in_keras_applications():
    model = keras_convnets.ResNet20(True, None, None, (28, 28, 1), None, 7, "softmax", "r20")
    assert model.name == "r20" and model.output_shape == (None, 7)
    assert model.input_shape == (None, 28, 28, 1)
