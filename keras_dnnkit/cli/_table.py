"""Plain-text tables for the command line."""

from __future__ import annotations

from collections.abc import Sequence


def format_table(rows: Sequence[Sequence[str]], header: Sequence[str] | None = None) -> str:
    """Return ``rows`` as left-aligned columns separated by two spaces.

    Example:
        >>> print(format_table([["a", "bb"], ["ccc", "d"]], header=["x", "y"]))
        x    y
        a    bb
        ccc  d
    """
    table = [list(header)] if header else []
    table += [list(row) for row in rows]
    if not table:
        return ""
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in table
    )
