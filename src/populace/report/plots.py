"""Static plots for the report: matplotlib figures (no display, no pyplot state) rendered to inline SVG text."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

Series = tuple[Sequence[float] | np.ndarray, Sequence[float] | np.ndarray]


RC: dict[str, Any] = {"svg.fonttype": "none", "svg.hashsalt": "populace", "font.size": 9}


def _figure(width: float = 5.2, height: float = 2.8) -> tuple[Any, Any]:
    """A figure not registered with pyplot, so rendering never touches a user's backend or figures."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(RC):  # type: ignore[arg-type]
        fig = Figure(figsize=(width, height), layout="constrained")
        ax = fig.add_subplot()
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(alpha=0.25)
    return fig, ax


def _svg(fig: Any) -> str:
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context(RC):  # type: ignore[arg-type]
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    start, end = text.find("<metadata>"), text.find("</metadata>")
    return text[:start] + text[end + len("</metadata>"):] if 0 <= start < end else text


def line_svg(series: Mapping[str, Series], title: str, ylabel: str = "", xlabel: str = "step",
             mark: float | None = None) -> str:
    """One line per series (label -> (x, y)); ``mark`` draws a vertical line (e.g. a fork point)."""
    fig, ax = _figure()
    styles = ["-", "--", ":", "-."]
    for i, (label, (x, y)) in enumerate(series.items()):
        ax.plot(np.asarray(x), np.asarray(y, dtype=float), styles[i % len(styles)], lw=1.6, label=label)
    if mark is not None:
        ax.axvline(mark, color="0.4", lw=1, ls=":")
    ax.set_title(title, loc="left", fontsize=10)
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if len(series) > 1:
        ax.legend(frameon=False, fontsize=8)
    return _svg(fig)


def bars_svg(counts: Mapping[str, float], title: str) -> str:
    """Horizontal bars, one per label (e.g. events per action)."""
    fig, ax = _figure(height=max(1.6, 0.32 * len(counts) + 0.8))
    labels = list(counts)
    ax.barh(labels[::-1], [float(counts[k]) for k in labels][::-1], color="#4a7bb7")
    ax.set_title(title, loc="left", fontsize=10)
    ax.grid(axis="y", alpha=0)
    return _svg(fig)


def degree_svg(degree: Sequence[int] | np.ndarray, count: Sequence[int] | np.ndarray, title: str) -> str:
    """A degree distribution: points, on log-log axes when degrees span more than a decade."""
    fig, ax = _figure()
    d, c = np.asarray(degree), np.asarray(count)
    positive = d > 0
    wide = positive.any() and d[positive].max() > 10 * max(d[positive].min(), 1)
    if wide:
        d, c = d[positive], c[positive]
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.plot(d, c, "o", ms=3.5, color="#2f6db5")
    ax.set_title(title, loc="left", fontsize=10)
    ax.set_xlabel("degree")
    ax.set_ylabel("agents")
    return _svg(fig)
