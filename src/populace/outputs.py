"""Files the user asks for with ``--out`` (reports, schemas, evaluations)."""

from __future__ import annotations

from pathlib import Path

from populace.errors import PopulaceError


def write_output(path: Path, text: str) -> Path:
    """Write an ``--out`` file, creating missing parent directories; a path that cannot be written
    is a one-line error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename and str(exc.filename) != str(path) else ""
        reason = "a file, not a directory" if isinstance(exc, FileExistsError) else exc.strerror or str(exc)
        raise PopulaceError(f"cannot write {path}: {where}{reason}") from None
    return path
