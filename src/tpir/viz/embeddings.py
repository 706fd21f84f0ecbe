"""2-D projections of prompt embeddings, coloured by category (TextPromptIR Fig. 9)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

PROJECTIONS = ("tsne", "pca")


def project_2d(embeddings: torch.Tensor, method: str = "tsne", seed: int = 0) -> np.ndarray:
    """Project embeddings (N, D) to (N, 2) with t-SNE or PCA."""
    if method not in PROJECTIONS:
        raise ValueError(f"projection must be one of {PROJECTIONS}, got {method!r}.")
    points = embeddings.detach().cpu().float().numpy()
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(points)
    perplexity = float(min(30, max(2, (len(points) - 1) // 3)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(points)


def plot_embedding_panels(
    panels: dict[str, torch.Tensor],
    labels: Sequence[str],
    path: str | Path,
    method: str = "tsne",
    seed: int = 0,
) -> Path:
    """Save one scatter panel per entry of ``panels`` (title -> embeddings (N, D)), coloured by label."""
    categories = list(dict.fromkeys(labels))
    colours = matplotlib.colormaps["tab10"]
    # A bare Figure renders with Agg and leaves pyplot's (e.g. a notebook's) backend alone.
    figure = Figure(figsize=(5 * len(panels), 4.5))
    axes = figure.subplots(1, len(panels), squeeze=False)
    for axis, (title, embeddings) in zip(axes[0], panels.items(), strict=True):
        points = project_2d(embeddings, method, seed)
        for index, category in enumerate(categories):
            rows = [i for i, label in enumerate(labels) if label == category]
            axis.scatter(points[rows, 0], points[rows, 1], s=18, color=colours(index), label=category)
        axis.set_title(f"{title} ({method})")
        axis.set_xticks([])
        axis.set_yticks([])
    axes[0][-1].legend(loc="best", fontsize=8)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    return path
