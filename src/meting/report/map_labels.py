"""Names beside points on a map, placed so that they do not overlap (for :mod:`report.maps`).

A greedy placement: points from north to south, each name at the first of eight spots around its
point (right, left, above, below, then the corners) whose box overlaps no name placed before and
no other point; the box is estimated from the font size and the number of characters, so the
placement needs no drawing pass and is the same on every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import numpy as np
from matplotlib import patheffects

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["LABEL_SIZE", "place_labels"]

LABEL_SIZE: Final = 6.5
#: Where a name may go beside its point, in order of preference: offset (points), alignment.
SPOTS: Final = (
    ((5, 0), "left", "center"),
    ((-5, 0), "right", "center"),
    ((0, 6), "center", "bottom"),
    ((0, -6), "center", "top"),
    ((5, 6), "left", "bottom"),
    ((5, -6), "left", "top"),
    ((-5, 6), "right", "bottom"),
    ((-5, -6), "right", "top"),
)
_Box = tuple[float, float, float, float]
_Spot = tuple[tuple[int, int], str, str]


def _box(x: float, y: float, text: str, spot: _Spot, size: float) -> _Box:
    """The box (in points) that ``text`` takes at ``spot`` beside the point (x, y) (points)."""
    (dx, dy), ha, va = spot
    width, height = 0.56 * size * len(text), 1.2 * size
    left = x + dx - {"left": 0.0, "center": width / 2, "right": width}[ha]
    bottom = y + dy - {"bottom": 0.0, "center": height / 2, "top": height}[va]
    return left, bottom, left + width, bottom + height


def _overlaps(a: _Box, b: _Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_labels(
    ax: Axes,
    x: Sequence[float],
    y: Sequence[float],
    names: Sequence[str],
    *,
    size: float = LABEL_SIZE,
    point_radius: float = 4.0,
) -> None:
    """Write ``names`` beside the points (x, y) (data coordinates of ``ax``, whose limits and
    aspect are set), with a white halo, as plain text (a ``$`` is no mathtext); ``point_radius`` (points) is the room a marker takes."""
    ax.apply_aspect()
    figure = ax.get_figure(root=True)
    if figure is None:
        raise ValueError("place_labels needs axes on a figure")
    to_points = ax.transData + figure.dpi_scale_trans.inverted()
    xy = to_points.transform(np.column_stack([x, y]).astype(float)) * 72.0
    r = point_radius
    points: list[_Box] = [(px - r, py - r, px + r, py + r) for px, py in xy]
    taken: list[_Box] = list(points)
    halo = [patheffects.withStroke(linewidth=2.0, foreground="white")]
    for i in np.argsort(-xy[:, 1], kind="stable"):
        px, py, name = float(xy[i, 0]), float(xy[i, 1]), str(names[i])
        spot = next(
            (
                s
                for s in SPOTS
                if not any(
                    _overlaps(_box(px, py, name, s, size), t) for t in taken if t is not points[i]
                )
            ),
            SPOTS[0],
        )
        taken.append(_box(px, py, name, spot, size))
        ax.annotate(
            name, (x[i], y[i]), xytext=spot[0], textcoords="offset points", ha=spot[1],
            va=spot[2], fontsize=size, zorder=5, path_effects=halo, parse_math=False,
        )  # fmt: skip
