"""``python -m export`` from a checkout or Colab; installed: ``keras-convnets export``.

The implementation and its flags: :mod:`keras_convnets.cli.export` (``--help`` lists them).
"""

from keras_convnets.cli.export import run

if __name__ == "__main__":
    run()
