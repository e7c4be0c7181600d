"""Static plots for the report: matplotlib figures (no display, no pyplot state) rendered to inline SVG text."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Series = tuple[Sequence[float] | np.ndarray, Sequence[float] | np.ndarray]
#: a band over seeds: x, the mean, and the interval's low and high bounds
Band = tuple[Sequence[float] | np.ndarray, Sequence[float] | np.ndarray, Sequence[float] | np.ndarray,
             Sequence[float] | np.ndarray]

#: units of simulated time for an x-axis, the first whose span the run stays within
_UNITS = (("minutes", 60.0, 3 * 3600.0), ("hours", 3600.0, 4 * 86400.0), ("days", 86400.0, 3 * 365 * 86400.0),
          ("weeks", 7 * 86400.0, float("inf")))


@dataclass(frozen=True)
class TimeAxis:
    """Simulated time on a plot's x-axis: the time since the first step began, in a unit that suits
    the run's span, with the step on a secondary axis on top. Built from a steps table's ``step``
    and ``time`` columns (the time each step began)."""

    start: np.datetime64
    step_seconds: float
    unit: str
    unit_seconds: float
    steps: bool = True  # number the steps on top (not where the runs drawn have different clocks)

    @classmethod
    def of(cls, steps: Sequence[int] | np.ndarray, times: Sequence[Any] | np.ndarray) -> TimeAxis | None:
        """The axis of a run's steps and times; None where time cannot be told (fewer than two
        steps, no times): plot by step then."""
        s = np.asarray(steps, dtype=np.int64)
        t = np.asarray(times, dtype="datetime64[ms]")
        keep = ~np.isnat(t)
        s, t = s[keep], t[keep]
        if len(np.unique(s)) < 2:
            return None
        order = np.argsort(s, kind="stable")
        s, t = s[order], t[order]
        step_seconds = float((t[-1] - t[0]) / np.timedelta64(1, "ms")) / 1000.0 / float(s[-1] - s[0])
        if step_seconds <= 0:
            return None
        start = t[0] - np.timedelta64(round(float(s[0]) * step_seconds * 1000.0), "ms")
        span = step_seconds * float(s[-1] + 1)
        unit, seconds, _ = next(u for u in _UNITS if span <= u[2])
        return cls(start, step_seconds, unit, seconds)

    def at_steps(self, steps: Sequence[float] | np.ndarray) -> np.ndarray:
        """The x of each step: its time since the start, in :attr:`unit`."""
        return np.asarray(steps, dtype=float) * self.step_seconds / self.unit_seconds

    @property
    def label(self) -> str:
        return f"simulated time ({self.unit} since {str(self.start.astype('datetime64[m]')).replace('T', ' ')})"

    def step_axis(self, ax: Any) -> None:
        """Number the steps along the top of ``ax``."""
        from matplotlib.ticker import MaxNLocator

        if not self.steps:
            return
        ratio = self.unit_seconds / self.step_seconds
        top = ax.secondary_xaxis("top", functions=(lambda x: np.asarray(x) * ratio, lambda s: np.asarray(s) / ratio))
        top.set_xlabel("step", fontsize=8)
        top.tick_params(labelsize=7)
        top.xaxis.set_major_locator(MaxNLocator(integer=True))


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


#: line styles in turn, so series stay apart in grey print
STYLES = ["-", "--", ":", "-."]


def _time_axis(ax: Any, time: TimeAxis | None, xlabel: str) -> Any:
    """Label the x-axis: simulated time with the step on top, or ``xlabel`` where there is no time."""
    if time is None:
        ax.set_xlabel(xlabel)
        return lambda x: np.asarray(x, dtype=float)
    ax.set_xlabel(time.label)
    time.step_axis(ax)
    return time.at_steps


def line_svg(series: Mapping[str, Series], title: str, ylabel: str = "", xlabel: str = "step",
             mark: float | None = None, time: TimeAxis | None = None) -> str:
    """One line per series (label -> (step, y)); ``mark`` draws a vertical line at a step (e.g. a
    fork point); with ``time`` the x-axis is simulated time and the steps are numbered on top."""
    fig, ax = _figure()
    x_of = _time_axis(ax, time, xlabel)
    for i, (label, (x, y)) in enumerate(series.items()):
        ax.plot(x_of(x), np.asarray(y, dtype=float), STYLES[i % len(STYLES)], lw=1.6, label=label)
    if mark is not None:
        ax.axvline(float(x_of([mark])[0]), color="0.4", lw=1, ls=":")
    ax.set_title(title, loc="left", fontsize=10)
    if ylabel:
        ax.set_ylabel(ylabel)
    if len(series) > 1:
        ax.legend(frameon=False, fontsize=8)
    return _svg(fig)


def band_svg(bands: Mapping[str, Band], title: str, ylabel: str = "", xlabel: str = "step",
             mark: float | None = None, time: TimeAxis | None = None, level: float | None = None,
             slots: Mapping[str, int] | None = None) -> str:
    """One line per series (label -> (step, mean, low, high)) with its interval shaded (hatched too,
    so bands stay apart in print); ``level`` draws a horizontal line (0 under differences);
    ``slots`` gives a label its colour and style (so that it looks the same on every chart);
    otherwise as :func:`line_svg`."""
    fig, ax = _figure()
    if level is not None:
        ax.axhline(level, color="0.3", lw=0.8)
    x_of = _time_axis(ax, time, xlabel)
    hatches = ["", "////", "\\\\", "...."]
    for i, (label, (x, mean, low, high)) in enumerate(bands.items()):
        i = slots.get(label, i) if slots is not None else i
        xs = x_of(x)
        (line,) = ax.plot(xs, np.asarray(mean, dtype=float), STYLES[i % len(STYLES)], lw=1.6, label=label,
                          color=f"C{i % 10}")
        lo, hi = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
        if np.isfinite(lo).any():
            ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.18, lw=0, hatch=hatches[i % len(hatches)])
    if mark is not None:
        ax.axvline(float(x_of([mark])[0]), color="0.4", lw=1, ls=":")
    ax.set_title(title, loc="left", fontsize=10)
    if ylabel:
        ax.set_ylabel(ylabel)
    if len(bands) > 1:  # beside the chart: bands fill much of it
        ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
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


def cascade_svg(tree: Any, title: str, time: TimeAxis | None = None) -> str:
    """A cascade as a tree over time (``tree``: :func:`populace.analysis.cascade_tree`'s rows): one
    row per post at the time it was made, an elbow from the post it shares; hovering a post says who
    shared whose post, and when. Agents are named beside the posts where there are few."""
    import html

    from matplotlib.collections import LineCollection

    n = len(tree)
    fig, ax = _figure(width=6.4, height=min(7.5, max(2.2, 0.16 * n + 1.2)))
    x_of = _time_axis(ax, time, "step")
    posts = list(tree["post"])
    index = {p: i for i, p in enumerate(posts)}
    children: dict[int, list[int]] = {}
    for i, parent in enumerate(tree["parent"]):
        if parent is not None and parent in index:
            children.setdefault(index[parent], []).append(i)
    order: list[int] = []
    stack = [i for i, parent in enumerate(tree["parent"]) if parent is None or parent not in index][::-1]
    while stack:  # depth first, earlier reposts above later ones
        i = stack.pop()
        order.append(i)
        stack.extend(sorted(children.get(i, []), key=lambda c: (tree["step"].iloc[c], c), reverse=True))
    row = np.empty(n, dtype=float)
    row[order] = np.arange(n)
    steps = tree["step"].to_numpy(dtype=float)
    x = x_of(steps)
    segments = []
    for parent, kids in children.items():
        for c in kids:
            segments.append([(x[parent], row[parent]), (x[c], row[parent]), (x[c], row[c])])
    ax.add_collection(LineCollection(segments, colors="#8a94a6", linewidths=0.8))
    depth = tree["depth"].to_numpy(dtype=float)
    agents, sources = tree["agent"].to_numpy(), tree["parent_agent"].to_numpy()
    when = [f"at {time.unit.removesuffix('s')} {x[i]:.3g} (step {int(steps[i])})" if time is not None
            else f"at step {int(steps[i])}" for i in range(n)]
    colours = ["#1d2b45", "#2f6db5", "#d9822b"]  # the root, a repost of it, a repost of a repost (or deeper)
    for i in range(n):
        ax.plot([x[i]], [row[i]], "o", ms=4 if n <= 60 else 2.5, color=colours[min(int(depth[i]), 2)],
                gid=f"post-{i}")
        if n <= 40:
            ax.annotate(f"{agents[i]}", (x[i], row[i]), xytext=(3, 0), textcoords="offset points", fontsize=6,
                        va="center")
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.set_title(title, loc="left", fontsize=10)
    text = _svg(fig)
    for i in range(n):
        said = (f"agent {agents[i]} posted it, {when[i]}" if sources[i] < 0
                else f"agent {agents[i]} reposted agent {sources[i]}'s post, {when[i]}")
        text = text.replace(f'<g id="post-{i}">', f'<g id="post-{i}"><title>{html.escape(said)}</title>', 1)
    return text
