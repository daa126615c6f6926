"""Cells that spreadsheet programs would read as formulas, and how exports show them as text.

A cell is read as a formula when its first character is one of ``FORMULA_STARTS``
(tab and carriage return: programs strip them before reading one). A value that
is a number and nothing else (``-12.5``, ``+3``, ``-1e5``) is no formula and stays
as it is. CSV and TSV put an apostrophe before such a cell (``as_text``); XLSX
keeps its text in a cell with the quote-prefix format (``datameta.api.xlsx``).
"""

from __future__ import annotations

import re

FORMULA_STARTS = frozenset("=+-@\t\r")
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def is_formula_like(cell: str | None) -> bool:
    """The cell would be read as a formula: it starts so, and is not just a number."""
    return bool(cell and cell[0] in FORMULA_STARTS and not NUMBER.fullmatch(cell))


def as_text(cell: str | None) -> str | None:
    """A CSV/TSV cell that spreadsheet programs show as the text it is."""
    if cell and cell[0] in FORMULA_STARTS and not NUMBER.fullmatch(cell):
        return "'" + cell
    return cell
