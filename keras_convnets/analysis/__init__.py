"""Reading models and results: cost counting, paper evaluation."""
