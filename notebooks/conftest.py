"""Notebooks run under pytest (nbmake) in smoke mode and offline: their kernels inherit this environment."""

import os

os.environ.setdefault("TPIR_NOTEBOOK_SMOKE", "1")  # TPIR_NOTEBOOK_SMOKE=0 runs them in full
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
