"""Circle fits to a track's hits, and its transverse momentum p_T = 0.3 B R.

The fit is Taubin's algebraic fit (G. Taubin, "Estimation of planar curves, surfaces and nonplanar
space curves defined by implicit equations", IEEE PAMI 13, 1991), which unlike Kåsa's is not
biased towards small circles on short arcs, refined by a few Gauss–Newton steps on the geometric
residuals r_i = |x_i − c| − R. Nearly straight tracks give very large radii; they are kept (a
stiff track is a high-momentum one) up to ``max_radius_px``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

C_LIGHT = 0.299792458


@dataclass(frozen=True)
class CircleFit:
    """A fitted circle in pixels: centre, radius, rms residual, hits used."""

    cx: float
    cy: float
    radius: float
    rms: float
    hits: int

    def momentum(self, field_tesla: float, pixel_size_m: float) -> float:
        """p_T (GeV/c) = 0.3 B R, with R converted to metres."""
        return C_LIGHT * field_tesla * self.radius * pixel_size_m


def taubin_fit(xy: np.ndarray) -> tuple[float, float, float]:
    """Centre and radius of the Taubin circle through points (N, 2), N ≥ 3."""
    centroid = xy.mean(axis=0)
    u = xy - centroid
    z = (u * u).sum(axis=1)
    z_mean = z.mean()
    z0 = (z - z_mean) / (2.0 * math.sqrt(z_mean)) if z_mean > 0 else z
    _, _, vt = np.linalg.svd(np.column_stack([z0, u[:, 0], u[:, 1]]), full_matrices=False)
    a = vt[2]
    a0 = a[0] / (2.0 * math.sqrt(z_mean)) if z_mean > 0 else a[0]
    constant = -z_mean * a0
    if abs(a0) < 1e-12:
        return float(centroid[0]), float(centroid[1]), math.inf
    cx, cy = -a[1] / (2 * a0), -a[2] / (2 * a0)
    radius = math.sqrt(max(cx * cx + cy * cy - constant / a0, 0.0))
    return float(cx + centroid[0]), float(cy + centroid[1]), float(radius)


def fit_circle(xy: np.ndarray, *, iterations: int = 5, max_radius_px: float = 1e6) -> CircleFit | None:
    """Least-squares circle through a track's hits; None for fewer than 3 hits or collinear ones."""
    xy = np.asarray(xy, dtype=np.float64)
    if len(xy) < 3:
        return None
    cx, cy, radius = taubin_fit(xy)
    if not math.isfinite(radius) or radius > max_radius_px:
        return CircleFit(cx, cy, max_radius_px, float(_line_rms(xy)), len(xy))
    for _ in range(iterations):  # Gauss–Newton on r_i = |x_i − c| − R
        d = xy - (cx, cy)
        dist = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)
        residual = dist - radius
        jacobian = np.column_stack([-d[:, 0] / dist, -d[:, 1] / dist, -np.ones(len(xy))])
        step, *_ = np.linalg.lstsq(jacobian, -residual, rcond=None)
        cx, cy, radius = cx + step[0], cy + step[1], radius + step[2]
        if np.abs(step).max() < 1e-6 * max(1.0, radius):
            break
    radius = abs(radius)
    residual = np.hypot(xy[:, 0] - cx, xy[:, 1] - cy) - radius
    return CircleFit(float(cx), float(cy), float(min(radius, max_radius_px)), float(np.sqrt(np.mean(residual ** 2))),
                     len(xy))


def _line_rms(xy: np.ndarray) -> float:
    u = xy - xy.mean(axis=0)
    return float(np.linalg.svd(u, compute_uv=False)[-1] / math.sqrt(len(xy)))


def circle_through(p1: np.ndarray, p2: np.ndarray, p3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres (T, 2) and radii (T,) of the circles through T triples of points (T, 2) each
    (collinear triples give an infinite radius)."""
    ax, ay = p1[:, 0], p1[:, 1]
    bx, by = p2[:, 0], p2[:, 1]
    cx, cy = p3[:, 0], p3[:, 1]
    d = 2 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
    a2, b2, c2 = ax * ax + ay * ay, bx * bx + by * by, cx * cx + cy * cy
    with np.errstate(divide="ignore", invalid="ignore"):
        ux = (a2 * (by - cy) + b2 * (cy - ay) + c2 * (ay - by)) / d
        uy = (a2 * (cx - bx) + b2 * (ax - cx) + c2 * (bx - ax)) / d
    centres = np.stack([ux, uy], axis=1)
    radii = np.hypot(ax - ux, ay - uy)
    radii[~np.isfinite(radii)] = np.inf
    return centres, radii
