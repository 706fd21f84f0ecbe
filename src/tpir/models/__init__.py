"""Restoration models: the text-guided Restormer backbone, its blocks and its text fusion."""
