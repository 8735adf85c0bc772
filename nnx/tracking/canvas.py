"""A blank figure to draw on: bare matplotlib, Agg canvas, fixed margins; and a figure's
frame kept as pixels, finished later by drawing only what was added.

No pyplot, no display, no global backend state, so figures work on servers and inside
sweeps; fixed margins instead of a layout engine (constrained or tight measures every text
first and makes drawing a figure 3-6 times slower). Axes, ticks and labels are most of a
figure's drawing time: `keep_pixels` draws them ahead and `finish` draws over those pixels
only the artists added or changed since (matplotlib's blitting, as its animations do).
"""

from __future__ import annotations

from typing import Any

__all__ = ["blank", "keep_pixels", "finish"]


def blank(width: float, height: float, panels: int = 1, wspace: float = 0.3, left: float = 0.75,
          bottom: float = 0.6, top: float = 0.4, right: float = 0.2) -> tuple[Any, list[Any]]:
    """A ``width`` x ``height`` inch figure with ``panels`` axes side by side (margins in
    inches: ``left`` and ``bottom`` hold the axis labels)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    axes = list(figure.subplots(1, panels, squeeze=False)[0])
    figure.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height,
                           top=1 - top / height, wspace=wspace)
    return figure, axes


def keep_pixels(figure: Any) -> Any:
    """Draw ``figure`` without its spines (`finish` draws them over the data, once) and keep
    its pixels and view limits."""
    spines = [spine for ax in figure.axes for spine in _spines(ax)]
    for spine in spines:
        spine.set_visible(False)
    figure.canvas.draw()
    for spine in spines:
        spine.set_visible(True)
    return figure.canvas.copy_from_bbox(figure.bbox), _limits(figure)


def finish(figure: Any, kept: Any, path: Any, **png: Any) -> None:
    """Write ``figure`` as a PNG to ``path``: the pixels `keep_pixels` kept, with what was
    added or changed since and the spines drawn over them in z-order, the same pixels as the
    whole figure drawn; drawn whole if a view limit moved (the ticks would move)."""
    import matplotlib.image
    from matplotlib.axis import Axis

    pixels, limits = kept
    if _limits(figure) != limits:
        figure.savefig(path, format="png", **png)
        return
    canvas = figure.canvas
    canvas.restore_region(pixels)
    renderer = canvas.get_renderer()
    for ax in figure.axes:
        spines = _spines(ax)
        changed = [a for a in ax.get_children()
                   if a.stale and a is not ax.patch and a not in spines and not isinstance(a, Axis)]
        changed += [axis.label for axis in (ax.xaxis, ax.yaxis) if axis.label.stale]
        for artist in sorted(changed + spines, key=lambda a: a.get_zorder()):
            artist.draw(renderer)
    matplotlib.image.imsave(path, canvas.buffer_rgba(), format="png", origin="upper", **png)


def _spines(ax: Any) -> list[Any]:
    return [spine for spine in ax.spines.values() if spine.get_visible()]


def _limits(figure: Any) -> list[tuple[float, ...]]:
    return [tuple(ax.viewLim.bounds) for ax in figure.axes]
