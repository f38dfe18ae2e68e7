"""Pictures with the tracks found drawn over them (PNG, matplotlib's Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SYMBOLS = {"e-": "e⁻", "e+": "e⁺", "mu-": "μ⁻", "mu+": "μ⁺", "pi-": "π⁻", "pi+": "π⁺", "K-": "K⁻", "K+": "K⁺",
           "p": "p", "pbar": "p̄"}


def draw_tracks(image: np.ndarray, hits: np.ndarray, tracks: list, names: list[str], path: str | Path, *,
                title: str = "", true_boxes: np.ndarray | None = None, dpi: int = 100) -> Path:
    """Draw ``tracks`` (:class:`~.reconstruction.FoundTrack`) over a greyscale picture: each track's
    hits in its own colour, its box, its class and p_T; true boxes (if given) dashed grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import sciarch

    height, width = image.shape[:2]
    scale = max(1.0, 640 / max(height, width))
    fig = plt.figure(figsize=(width * scale / dpi, height * scale / dpi), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    if true_boxes is not None:
        for x0, y0, x1, y1 in true_boxes:
            ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=0.5, ls="--", ec="0.6"))
    colours = plt.get_cmap("tab20")(np.linspace(0, 1, 20))
    for i, track in enumerate(tracks):
        colour = colours[(i * 7) % 20]
        points = hits[track.hits]
        ax.scatter(points[:, 0] - 0.5, points[:, 1] - 0.5, s=1.5, color=colour, linewidths=0)
        x0, y0, x1, y1 = track.box
        ax.add_patch(plt.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, lw=0.6, ec=colour))
        name = names[track.label - 1] if 0 < track.label <= len(names) else str(track.label)
        text = SYMBOLS.get(name, name)
        if np.isfinite(track.pt_gev):
            text += f" {track.pt_gev:.2f}"
        ax.text(x0, y0 - 1, text, color=colour, fontsize=5, va="bottom")
    if title:
        ax.text(2, 2, title, color="yellow", fontsize=7, va="top", bbox={"fc": "black", "alpha": 0.5, "lw": 0})
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    ax.axis("off")
    path = Path(path)
    with sciarch.atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=dpi)
    plt.close(fig)
    return path
