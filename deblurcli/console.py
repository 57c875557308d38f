"""rich output for the CLI: progress, errors, summary tables (stderr)."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


def error(message: str) -> None:
    """One line on stderr, shown even with --quiet."""
    err.print(Text(message, style="red"), soft_wrap=True)


class RateColumn(ProgressColumn):
    """Megapixels per second, from a ``mp`` field the caller keeps updated."""

    def render(self, task) -> Text:  # type: ignore[override]
        mp = task.fields.get("mp", 0.0)
        elapsed = task.elapsed or 0.0
        rate = mp / elapsed if elapsed > 0 else 0.0
        return Text(f"{rate:.2f} MP/s", style="cyan")


def _progress(quiet: bool, rate: ProgressColumn, *extra: ProgressColumn) -> Progress:
    """Description, bar, done/total, a rate, elapsed and ETA, on stderr; silent with --quiet."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        rate,
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        *extra,
        console=err,
        disable=quiet,
        transient=False,
    )


def file_progress(quiet: bool) -> Progress:
    return _progress(quiet, RateColumn(), TextColumn("{task.fields[current]}", style="dim"))


def table(title: str, columns: Iterable[str], rows: Iterable[Iterable[object]]) -> Table:
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c, justify="left" if c in ("name", "variant", "file", "status", "weights", "error") else "right")
    for r in rows:
        t.add_row(*(str(v) for v in r))
    return t


class FpsColumn(ProgressColumn):
    """Frames per second so far."""

    def render(self, task) -> Text:  # type: ignore[override]
        elapsed = task.elapsed or 0.0
        return Text(f"{task.completed / elapsed if elapsed > 0 else 0:.2f} fps", style="cyan")


def frame_progress(quiet: bool) -> Progress:
    """Frames done of total (open-ended when the total is unknown), fps, ETA."""
    return _progress(quiet, FpsColumn())
