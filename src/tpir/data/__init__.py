"""Data: synthetic degradations, datasets, datamodules and prompts."""
