"""The Colab notebooks: in sync with their generator, and they run headless with SMALL_RUN=True."""

from __future__ import annotations

import json
import os
import sys
import time

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLAB = os.path.join(ROOT, "colab")
sys.path.insert(0, COLAB)
import build_notebooks  # noqa: E402

# Small runs measured on 2 shared cores: 01 15 s, 02 28 s, 03 13 s, 04 44 s (its four
# conversions and QAT vary most with the load), so 04 runs with the slow tests.
FAST = ["01_quickstart.ipynb", "02_degradation.ipynb", "03_googlenet_aux.ipynb"]
SLOW = ["04_quantization.ipynb", "05_your_photos.ipynb"]


def test_every_notebook_is_tested():
    assert sorted(FAST + SLOW) == sorted(build_notebooks.NOTEBOOKS)
    assert sorted(f for f in os.listdir(COLAB) if f.endswith(".ipynb")) == sorted(FAST + SLOW)


@pytest.mark.parametrize("filename", sorted(build_notebooks.NOTEBOOKS))
def test_committed_notebook_matches_generator(filename):
    nb = nbformat.read(os.path.join(COLAB, filename), as_version=4)
    built = build_notebooks.build(build_notebooks.NOTEBOOKS[filename])
    assert [(c.cell_type, c.source) for c in nb.cells] == [
        (c.cell_type, c.source) for c in built.cells
    ], f"{filename} is stale: run python colab/build_notebooks.py"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("filename", sorted(build_notebooks.NOTEBOOKS))
def test_notebook_structure(filename):
    nb = nbformat.read(os.path.join(COLAB, filename), as_version=4)
    install, parameters = nb.cells[1], nb.cells[2]
    # Colab installs the package itself; locally the cell must not run pip.
    assert '"google.colab" in sys.modules' in install.source
    assert "!pip install" in install.source and "GITHUB_ORG" in install.source
    assert parameters.metadata.get("tags") == ["parameters"]
    assert parameters.source.startswith("SMALL_RUN = False")


def test_readme_badges_match_the_notebooks_and_their_install_cell():
    # Every notebook has a README badge; badges and install cells name one GitHub home.
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    bn = build_notebooks
    start, end = readme.index(bn.BADGES_START), readme.index(bn.BADGES_END)
    block = readme[start + len(bn.BADGES_START) : end].strip()
    assert block == bn.readme_badges(), "stale badges: run python colab/build_notebooks.py"
    org = bn.GITHUB_ORG
    for filename in bn.NOTEBOOKS:
        url = f"colab.research.google.com/github/{org}/keras_convnets/blob/main/colab/{filename}"
        assert url in block
        install = nbformat.read(os.path.join(COLAB, filename), as_version=4).cells[1].source
        assert f'GITHUB_ORG = "{org}"' in install


def test_org_flag_rewrites_generator_notebooks_and_readme(tmp_path):
    import shutil
    import subprocess

    shutil.copytree(COLAB, tmp_path / "colab", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(os.path.join(ROOT, "README.md"), tmp_path / "README.md")
    script = str(tmp_path / "colab" / "build_notebooks.py")
    proc = subprocess.run([sys.executable, script, "--org=acme-ml"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert 'GITHUB_ORG = "acme-ml"' in (tmp_path / "colab" / "build_notebooks.py").read_text()
    readme = (tmp_path / "README.md").read_text()
    expected = len(build_notebooks.NOTEBOOKS)
    assert readme.count("colab.research.google.com/github/acme-ml/keras_convnets/") == expected
    assert "github/your-org/" not in readme
    nb = nbformat.read(str(tmp_path / "colab" / "01_quickstart.ipynb"), as_version=4)
    assert 'GITHUB_ORG = "acme-ml"' in nb.cells[1].source
    bad = subprocess.run([sys.executable, script, "--org=no/slash"], capture_output=True, text=True)
    assert bad.returncode != 0 and "Received: org='no/slash'" in bad.stderr


def _kernel_dir(tmp_path):
    """A ``python3`` kernelspec that runs this interpreter (the venv's), found first."""
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (test)",
                "language": "python",
            }
        )
    )
    return str(tmp_path / "jupyter")


def _run(filename, tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", _kernel_dir(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("PYTHONPATH", ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    nb = nbformat.read(os.path.join(COLAB, filename), as_version=4)
    (params,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    params.source = "SMALL_RUN = True"  # as papermill would inject it
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=600,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError on the first failing cell
    seconds = time.perf_counter() - start
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    print(f"{filename}: {seconds:.0f} s")
    return images, text


def test_quickstart_notebook_runs(tmp_path, monkeypatch):
    images, text = _run("01_quickstart.ipynb", tmp_path, monkeypatch)
    assert "resnet50" in text and "Data: " in text and "test accuracy" in text
    assert "resnet20_int8.tflite" in text  # the parity table of the export
    assert len(images) == 1  # the predictions


def test_degradation_notebook_runs(tmp_path, monkeypatch):
    images, text = _run("02_degradation.ipynb", tmp_path, monkeypatch)
    for name in ("plain20", "plain56", "resnet20", "resnet56"):
        assert f"{name}: test error" in text
    assert len(images) == 1


def test_googlenet_aux_notebook_runs(tmp_path, monkeypatch):
    images, text = _run("03_googlenet_aux.ipynb", tmp_path, monkeypatch)
    assert "'aux1': 0.3" in text and "'aux2': 0.3" in text
    assert "inference model:" in text and "(None, 10)" in text
    assert len(images) == 1


@pytest.mark.slow
def test_quantization_notebook_runs(tmp_path, monkeypatch):
    images, text = _run("04_quantization.ipynb", tmp_path, monkeypatch)
    for quantize in ("none", "dynamic", "int8", "qat"):
        assert f"resnet20_{quantize}.tflite" in text
    assert len(images) == 1


@pytest.mark.slow
def test_your_photos_notebook_runs(tmp_path, monkeypatch):
    _, text = _run("05_your_photos.ipynb", tmp_path, monkeypatch)
    assert "python -m recipes.evaluate --run=" in text and "the same" in text
    assert "new_photos_int8.tflite" in text and "dress\ncoat\nsandal" not in text
    assert "coat\ndress\nsandal" in text  # labels.txt: the class folders, sorted
    line = next(ln for ln in text.splitlines() if ln.startswith("LiteRT on"))
    litert, report = line.split(": ")[1].split("%")[0], line.split("parity report: ")[1][:5]
    assert float(litert) == pytest.approx(float(report), abs=0.01)
