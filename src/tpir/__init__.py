"""tpir: textual-prompt guided all-in-one image restoration."""

__version__ = "0.1.0"
