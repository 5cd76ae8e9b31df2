"""Command-line export (``python -m export``); the library is :mod:`keras_convnets.deploy`."""
