"""Every command of tpir (``tpir-train``, ``tpir-text``, ``tpir-restore``, ``tpir-export``, ``tpir-eval``,
``tpir-collect``, ``tpir-app``): each composes or parses its arguments, builds, runs, and exits with the
codes of :mod:`tpir.cli.common`."""
