"""Evaluation of trained restorers: test protocols, prompt modes and tables in the paper's layout."""
