"""Seeing and questioning a run: the HTML report, the live dashboard and counterfactual forks."""

from populace.report.html import render_report, write_report

__all__ = ["render_report", "write_report"]
