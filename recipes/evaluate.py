"""``python -m recipes.evaluate`` from a checkout or Colab; installed: ``keras-convnets evaluate``.

The implementation and its flags: :mod:`keras_convnets.cli.evaluate` (``--help`` lists them).
"""

from keras_convnets.cli.evaluate import run

if __name__ == "__main__":
    run()
