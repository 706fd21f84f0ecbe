"""Data: task declarations, synthetic degradations, photo IO, the benchmark layout, datasets and datamodules."""
