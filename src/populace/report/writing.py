"""The report's "model output" section: how much of what the run's language models wrote is their
own words (:mod:`populace.analysis.text`), over every text they wrote and over those posted, and a
warning when the output is degenerate."""

from __future__ import annotations

from typing import Any

from populace.analysis.tables import RunLike
from populace.analysis.text import TEXT_LIMIT, authored_texts, personas, text_measures

LABELS = {"distinct": "distinct texts", "persona": "copy the author's persona",
          "earlier": "repeat the author's earlier text", "echo": "carry escapes or prompt text", "loops": "loop",
          "wordless": "have no words"}


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def writing_section(run: RunLike, limit: int = TEXT_LIMIT) -> dict[str, Any] | None:
    """Rows ``(measure, written, posted)``, the counts and the warnings; None when no model wrote."""
    texts = authored_texts(run, limit)
    if texts.empty:
        return None
    known = personas(run, sorted(set(texts["agent"].astype(int))))  # their rows of the last snapshot only
    written = text_measures(texts, known)
    posted = text_measures(texts[texts["outcome"] == "ok"], known)
    return {
        "texts": written.texts, "authors": written.authors, "posted": posted.texts, "withheld": written.withheld,
        "limited": written.texts >= limit, "limit": limit,
        "rows": [(label, _share(getattr(written, key)), _share(getattr(posted, key)) if posted.texts else "–")
                 for key, label in LABELS.items()],
        "warnings": written.warnings(),
        "note": "" if known is not None else "Copies of the persona are not measured: the run has no checkpoint "
                "to read the personas from, or its last one is too large to read whole.",
    }
