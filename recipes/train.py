"""``python -m recipes.train`` from a checkout or Colab; installed: ``keras-convnets train``.

The implementation and its flags: :mod:`keras_convnets.cli.train` (``--help`` lists them).
"""

from keras_convnets.cli.train import run

if __name__ == "__main__":
    run()
