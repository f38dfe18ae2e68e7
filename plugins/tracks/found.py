"""A reconstructed track, as every method (detectors and the Hough baseline) hands it back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .fitting import CircleFit


@dataclass
class FoundTrack:
    """One reconstructed track."""

    box: np.ndarray  # (4,) x0y0x1y1 pixels
    score: float
    label: int  # 1…C
    hits: np.ndarray  # indices into the picture's hits
    fit: CircleFit | None
    pt_gev: float

    def to_dict(self, hits_xy: np.ndarray, names: list[str], *, field_tesla: float, pixel_size_m: float) -> dict:
        from .data import charge_of_class

        name = names[self.label - 1] if 0 < self.label <= len(names) else str(self.label)
        out: dict[str, Any] = {"box": [round(float(v), 2) for v in self.box], "score": round(self.score, 4),
                               "class": name, "charge": charge_of_class(name), "hits": int(len(self.hits))}
        if self.fit is not None:
            out.update(circle_px={"cx": round(self.fit.cx, 2), "cy": round(self.fit.cy, 2),
                                  "radius": round(self.fit.radius, 2), "rms": round(self.fit.rms, 3)},
                       radius_m=self.fit.radius * pixel_size_m, pt_gev=self.pt_gev)
        points = hits_xy[self.hits]
        if len(points):
            out["extent_px"] = [round(float(v), 1) for v in (*points.min(axis=0), *points.max(axis=0))]
        return out
