"""Command-line entry points (thin wrappers over ``keras_convnets``)."""
