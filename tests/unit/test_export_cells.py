"""Export cells that spreadsheet programs would read as formulas are shown as text."""

from __future__ import annotations

import pytest

from datameta.api.formulas import as_text, is_formula_like


@pytest.mark.parametrize(
    "cell",
    ["=1+2", '=HYPERLINK("http://example.org")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\r=1", "-"],
)
def test_a_formula_like_cell_gets_an_apostrophe(cell):
    assert is_formula_like(cell)
    assert as_text(cell) == "'" + cell


@pytest.mark.parametrize(
    "cell",
    ["-12.5", "+3", "-1e5", "-0.5E-3", "-.5", "12", "0012", "a=b", "S100", "", None, " =1"],
)
def test_numbers_and_plain_text_stay_as_they_are(cell):
    assert not is_formula_like(cell)
    assert as_text(cell) == cell
