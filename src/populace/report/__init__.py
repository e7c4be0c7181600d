"""Seeing and questioning a run: the HTML report, the live dashboard and counterfactual forks.

Imported lazily, so that loading the CLI's commands costs nothing until one of them runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from populace.report.html import render_report, write_report

__all__ = ["render_report", "write_report"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from populace.report import html

        return getattr(html, name)
    raise AttributeError(f"module 'populace.report' has no attribute {name!r}")
