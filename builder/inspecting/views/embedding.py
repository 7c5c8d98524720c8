"""``embedding``: how a layer arranges the validation set.

Each sample's values at the node are flattened into one feature vector and projected to
2-D with scikit-learn: t-SNE (keeps neighbourhoods, not distances: clusters far apart may
be close in the features) or PCA (a linear view along the two directions of largest
variance). Points are coloured by class. The k-nearest-neighbour accuracy in the 2-D map
(k = 5, leave-one-out) says in one number how well the classes separate there; the same
score in the full feature space is reported beside it, and a grid shows the nearest
neighbours (in the feature space) of a few query samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Optional

import numpy as np
import torch
from matplotlib.figure import Figure

from builder.inspecting.errors import InspectError
from builder.inspecting.figures import as_picture, is_image
from builder.inspecting.subject import Samples, Subject
from builder.inspecting.views.applicable import require
from builder.inspecting.views.base import View, fresh, is_small, one_thread
from builder.inspecting.views.mosaic import mosaic, no_frame, tile_centres

METHODS = ("tsne", "pca")
DEFAULT_LIMIT = 1000  # samples embedded (t-SNE grows as N log N; 1,000 take a few seconds)
MIN_SAMPLES = 10
CHUNK = 256
K = 5  # neighbours voting in the k-NN accuracy


@dataclass
class EmbeddingView(View):
    """``points`` ``[N, 2]``, ``labels`` ``[N]`` (true classes, or predicted ones when the
    samples have no labels), ``indices`` the samples' positions (validation split or given
    samples), ``queries`` ``[Q]`` and ``neighbours`` ``[Q, n]`` as row numbers into points."""

    kind: ClassVar[str] = "embedding"
    method: str = "tsne"
    points: np.ndarray = None
    labels: np.ndarray = None
    indices: np.ndarray = None
    class_names: list[str] = field(default_factory=list)
    knn_accuracy: float = 0.0
    knn_accuracy_features: float = 0.0
    feature_size: int = 0
    queries: np.ndarray = None
    neighbours: np.ndarray = None
    thumbnails: Optional[list[np.ndarray]] = None  # one picture per row of points, image inputs only
    where: str = "validation"
    labelled: bool = True

    @property
    def tag(self) -> str:
        return self.method

    def arrays(self) -> dict[str, np.ndarray]:
        return {"points": self.points, "labels": self.labels, "indices": self.indices,
                "queries": self.queries, "neighbours": self.neighbours}

    def summary(self) -> list[str]:
        return [f"{self.node}: {self.method} of {len(self.points)} {self.where} samples "
                f"({self.feature_size:,} values each)",
                f"k-NN accuracy (k={K}, leave-one-out) in the 2-D embedding: {100 * self.knn_accuracy:.1f}%"
                f" (in the {self.feature_size:,}-D features: {100 * self.knn_accuracy_features:.1f}%)"]

    def figure_size(self) -> tuple[float, float]:
        return (13.0, 6.5)

    def draw(self, fig: Figure) -> None:
        fresh(fig)
        grid = fig.add_gridspec(1, 2, width_ratios=[1.25, 1])
        self._draw_points(fig.add_subplot(grid[0, 0]))
        self._draw_neighbours(fig.add_subplot(grid[0, 1]))
        colour = "true" if self.labelled else "predicted"
        fig.suptitle(f"{self.node}: {self.method.upper() if self.method == 'pca' else 't-SNE'} of "
                     f"{len(self.points)} {self.where} samples ({self.feature_size:,} values each), "
                     f"coloured by {colour} class\n"
                     f"k-NN accuracy (k={K}, leave-one-out): {100 * self.knn_accuracy:.1f}% in 2-D, "
                     f"{100 * self.knn_accuracy_features:.1f}% in the features", fontsize=10)
        fig.tight_layout()

    def _draw_points(self, ax) -> None:
        import matplotlib

        classes = np.unique(self.labels)
        palette = matplotlib.colormaps["tab10" if len(classes) <= 10 else "tab20"]
        for i, c in enumerate(classes):
            mine = self.labels == c
            ax.scatter(self.points[mine, 0], self.points[mine, 1], s=9, alpha=0.8,
                       color=palette(i % palette.N), label=self._name(int(c)))
        for n, row in enumerate(self.queries):
            x, y = self.points[row]
            ax.scatter([x], [y], s=90, facecolors="none", edgecolors="black", linewidths=1.4)
            ax.annotate(f"q{n + 1}", (x, y), xytext=(5, 5), textcoords="offset points", fontsize=9,
                        fontweight="bold")
        if len(classes) <= 20:
            ax.legend(title="class", fontsize=8, title_fontsize=9, markerscale=1.8, loc="center left",
                      bbox_to_anchor=(1.0, 0.5), frameon=False)
        no_frame(ax)
        ax.set_xlabel("2-D embedding (axes have no units; circles: the query samples on the right)", fontsize=8)

    def _name(self, label: int) -> str:
        return self.class_names[label] if 0 <= label < len(self.class_names) else str(label)

    def _draw_neighbours(self, ax) -> None:
        rows = [[q] + list(n) for q, n in zip(self.queries, self.neighbours)]
        ax.set_title("nearest neighbours in the feature space (green: same class as the query)", fontsize=9)
        if self.thumbnails is not None and rows:
            tiles = [self.thumbnails[i] for row in rows for i in row]
            fill = 1.0
            image = mosaic(tiles, len(rows[0]), fill=fill)
            ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
            h, w = tiles[0].shape[:2]
            xs, ys = tile_centres(len(rows[0]), w), tile_centres(len(rows), h)
            for r, row in enumerate(rows):
                for c, i in enumerate(row):
                    same = self.labels[i] == self.labels[row[0]]
                    colour = "black" if c == 0 else ("#1a8f1a" if same else "#d62728")
                    # the class name in a small box in the tile's corner, coloured by agreement
                    ax.text(xs[c] - w / 2, ys[r] + h / 2 - 0.2, self._name(int(self.labels[i])), ha="left",
                            va="bottom", fontsize=7, color="white",
                            bbox={"facecolor": colour, "edgecolor": "none", "pad": 1.0})
            ax.set_xticks(xs, ["query"] + [str(c) for c in range(1, len(rows[0]))], fontsize=8)
            ax.set_yticks(ys, [f"q{r + 1}" for r in range(len(rows))], fontsize=8)
            ax.tick_params(length=0)
        else:
            no_frame(ax)
            lines = [f"q{r + 1} ({self._name(int(self.labels[row[0]]))}):  " +
                     " ".join(self._name(int(self.labels[i])) for i in row[1:]) for r, row in enumerate(rows)]
            ax.text(0.02, 0.95, "query (class):  classes of its neighbours\n\n" + "\n".join(lines),
                    va="top", family="monospace", fontsize=9, transform=ax.transAxes)


# --- computing it ----------------------------------------------------------------------------
def features_at(subject: Subject, inputs: list[torch.Tensor], node: str) -> np.ndarray:
    """``[N, D]``: every sample's values at ``node``, flattened, computed in chunks."""
    parts = []
    for start in range(0, len(inputs[0]), CHUNK):
        value = subject.value([x[start:start + CHUNK] for x in inputs], node)
        parts.append(value.detach().float().reshape(len(value), -1).cpu().numpy())
    return np.concatenate(parts)


def project(features: np.ndarray, method: str, seed: int = 0) -> np.ndarray:
    """2-D points from scikit-learn's PCA or t-SNE (t-SNE after PCA to 50 dimensions, the
    usual way to keep it fast and its neighbourhoods less noisy)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    n, d = features.shape
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(features).astype(np.float32)
    if d > 50:
        features = PCA(n_components=min(50, n), random_state=seed).fit_transform(features)
    tsne = TSNE(n_components=2, perplexity=min(30.0, (n - 1) / 3), init="pca", learning_rate="auto",
                random_state=seed)
    return tsne.fit_transform(features).astype(np.float32)


def knn_accuracy(points: np.ndarray, labels: np.ndarray, k: int = K) -> float:
    """Leave-one-out k-NN accuracy: each point is classified by the majority class of its
    ``k`` nearest other points (ties go to the smallest class id)."""
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(points) - 1)
    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(points).kneighbors(points)
    votes = labels[idx[:, 1:]]  # column 0 is the point itself (or a duplicate of it)
    predicted = np.array([np.bincount(v).argmax() for v in votes])
    return float(np.mean(predicted == labels))


def nearest(features: np.ndarray, rows: np.ndarray, count: int) -> np.ndarray:
    """``[Q, count]``: the nearest other samples (Euclidean, in the feature space) of each row."""
    from sklearn.neighbors import NearestNeighbors

    _, near = NearestNeighbors(n_neighbors=count + 1).fit(features).kneighbors(features[rows])
    return np.array([[j for j in row if j != q][:count] for q, row in zip(rows, near)], dtype=np.int64)


def pick_queries(labels: np.ndarray, count: int) -> np.ndarray:
    """The first sample of each of the first ``count`` classes (by class id)."""
    picked = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)[:count]]
    return np.array(picked, dtype=np.int64)


def _data(subject: Subject, samples: Optional[Samples], limit: int):
    if samples is not None:
        inputs = [x[:limit] for x in samples.inputs]
        labels = samples.labels[:limit] if samples.labels is not None and samples.labels.dim() == 1 else None
        return inputs, labels, np.arange(len(inputs[0])), "given"
    val = subject.validation()
    inputs = [x[:limit] for x in val.inputs]
    return inputs, val.targets[:limit], np.arange(len(inputs[0])), "validation"


def embedding(subject: Subject, node: str, method: str = "tsne", limit: int = DEFAULT_LIMIT, *,
              samples: Optional[Samples] = None, queries: int = 5, neighbours: int = 6,
              seed: int = 0) -> EmbeddingView:
    """The validation split's features at ``node`` (or those of ``samples``) in 2-D."""
    if method not in METHODS:
        raise InspectError(f"embedding method {method!r} is not known", f"use one of: {', '.join(METHODS)}")
    require(subject, node, "embedding", with_samples=samples is not None)
    inputs, labels, indices, where = _data(subject, samples, max(1, int(limit)))
    count = len(inputs[0])
    if count < MIN_SAMPLES:
        raise InspectError(f"node {node!r}: an embedding needs at least {MIN_SAMPLES} samples, {count} given",
                           "use more validation samples (a larger val_split)")
    with one_thread(is_small(subject)):
        features = features_at(subject, inputs, node)
        labelled = labels is not None
        if labels is None:  # colour by what the model predicts
            labels = subject.predictions(inputs).argmax(dim=1)
    labels = labels.cpu().numpy().astype(np.int64)
    with one_thread():  # scikit-learn's pools: see one_thread
        points = project(features, method, seed)
        scores = knn_accuracy(points, labels), knn_accuracy(features, labels)
        query_rows = pick_queries(labels, queries)
        near = nearest(features, query_rows, min(neighbours, count - 1))
    thumbnails = None
    first = subject.trained.inputs[0]
    if is_image(tuple(first.shape)) and first.dtype == "float32":
        wanted = set(query_rows.tolist()) | set(near.reshape(-1).tolist())
        thumbnails = [as_picture(inputs[0][i], subject.normalization) if i in wanted else None for i in range(count)]
    names = [subject.class_name(i) for i in range(int(labels.max()) + 1)]
    return EmbeddingView(node, method, points, labels, indices, names, *scores, features.shape[1], query_rows,
                         near, thumbnails, where, labelled)


def draw_embedding(fig: Figure, view: EmbeddingView) -> None:
    view.draw(fig)
