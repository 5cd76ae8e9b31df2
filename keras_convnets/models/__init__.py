"""The networks: spec tables, builders, registry, layers, weights loading, saving."""
