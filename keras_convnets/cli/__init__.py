"""The command lines: ``keras-convnets train|evaluate|export|demo|list|summary|table`` when
installed, ``python -m recipes.train`` / ``python -m export`` from a checkout or Colab."""
