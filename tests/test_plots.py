"""The PNG writers leave matplotlib's global state alone and group curves by colour."""

import os

import pytest

matplotlib = pytest.importorskip("matplotlib")

from keras_convnets.training import plots  # noqa: E402


def test_plot_curves_leaves_pyplot_backend_and_figures_alone(tmp_path):
    import matplotlib.pyplot as plt

    plt.switch_backend("svg")  # any non-Agg backend a caller may have chosen
    try:
        fig = plt.figure()
        before = plt.get_fignums()
        path = str(tmp_path / "curves.png")
        curves = {"train a": ([1, 2], [50.0, 40.0]), "test a": ([1, 2], [55.0, 45.0])}
        plots.plot_curves(path, curves)
        assert matplotlib.get_backend().lower() == "svg"
        assert plt.get_fignums() == before
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
        assert not [n for n in os.listdir(tmp_path) if ".tmp." in n]
        plt.close(fig)
    finally:
        plt.switch_backend("agg")


def test_train_and_test_curves_of_one_series_share_a_colour(tmp_path, monkeypatch):
    from matplotlib.axes import Axes

    drawn = []
    real_plot = Axes.plot

    def spy(self, *args, **kwargs):
        drawn.append((kwargs["label"], args[2], kwargs["color"]))
        return real_plot(self, *args, **kwargs)

    monkeypatch.setattr(Axes, "plot", spy)
    curves = {
        "train plain20": ([1], [10.0]),
        "test plain20": ([1], [12.0]),
        "train resnet20": ([1], [8.0]),
        "test resnet20": ([1], [9.0]),
    }
    plots.plot_curves(str(tmp_path / "c.png"), curves)
    styles = {label: (style, color) for label, style, color in drawn}
    assert styles["train plain20"] == ("--", styles["test plain20"][1])
    assert styles["test plain20"][0] == "-"
    assert styles["train resnet20"][1] == styles["test resnet20"][1] != styles["test plain20"][1]
