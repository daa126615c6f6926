"""A one-sheet XLSX workbook of text cells, streamed as it is written.

An XLSX file is a zip of a few small XML parts and one XML part per sheet. The
sheet is written row by row, as inline strings (no shared-string table to hold in
memory), straight into the standard library's zip writer, which writes to a
stream that need not seek (sizes go in data descriptors after each part). Each
chunk of the zip is handed on as soon as a batch of rows is written: memory holds
one batch, the first bytes leave at once.

General writers (XlsxWriter) spend about 14 µs of Python per cell on checks and
formats that text cells do not need; here a row costs one regular-expression
search and a few substring searches over its joined text, then one string per
cell; only rows holding something to escape (``&``, ``<``, a control character,
a formula-like start, white space at an edge) take the slower path, cell by cell.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence

from datameta.api.formulas import FORMULA_STARTS, is_formula_like

# Excel's limits: longer text is cut (as XlsxWriter cuts it), later rows are left out.
MAX_CELL_CHARS = 32_767
MAX_ROWS = 1_048_576

# Cells of a row are joined by NUL to be searched at once: PostgreSQL's text,
# where every cell comes from, cannot hold NUL. A row whose joined text holds
# none of these is written as it is: no XML special character, no control
# character (nor the literal text of Excel's _xHHHH_ escape of one), no cell
# that starts like a formula or with a space, none that ends with a space. Tab,
# line feed and carriage return are control characters here, so a cell starting
# or ending with one takes the careful path too.
_SEPARATOR = "\x00"
_SPECIAL_CHARACTER = re.compile(r"[&<>\x01-\x1f\ufffe\uffff]")
_SPECIAL_TEXT = (
    "_x",
    *(_SEPARATOR + start for start in [*sorted(FORMULA_STARTS), " "]),
    " " + _SEPARATOR,
)
_EXCEL_ESCAPE = re.compile(r"_x[0-9A-Fa-f]{4}_")
# Carriage returns are kept as a character reference (XML parsers turn a bare one
# into a line feed); the other control characters cannot be in XML 1.0 at all.
_CONTROL = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XML_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})

# Index of the quote-prefix cell format in styles.xml's cellXfs.
_QUOTED = 1

_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_PACKAGE = "http://schemas.openxmlformats.org/package/2006"
_RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_SPREADSHEETML = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def _override(part: str, content_type: str) -> str:
    return f'<Override PartName="{part}" ContentType="{_SPREADSHEETML}.{content_type}+xml"/>'


def _relationship(number: int, kind: str, target: str) -> str:
    return f'<Relationship Id="rId{number}" Type="{_RELATIONSHIPS}/{kind}" Target="{target}"/>'


_CONTENT_TYPES = (
    f'{_XML}<Types xmlns="{_PACKAGE}/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    + _override("/xl/workbook.xml", "sheet.main")
    + _override("/xl/worksheets/sheet1.xml", "worksheet")
    + _override("/xl/styles.xml", "styles")
    + "</Types>"
)
_ROOT_RELS = (
    f'{_XML}<Relationships xmlns="{_PACKAGE}/relationships">'
    + _relationship(1, "officeDocument", "xl/workbook.xml")
    + "</Relationships>"
)
_WORKBOOK = (
    f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_RELATIONSHIPS}">'
    '<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    f'{_XML}<Relationships xmlns="{_PACKAGE}/relationships">'
    + _relationship(1, "worksheet", "worksheets/sheet1.xml")
    + _relationship(2, "styles", "styles.xml")
    + "</Relationships>"
)
# The smallest style sheet Excel accepts, and a second cell format: quote prefix.
_STYLES = (
    f'{_XML}<styleSheet xmlns="{_MAIN}">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" quotePrefix="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_SHEET_START = f'{_XML}<worksheet xmlns="{_MAIN}"><sheetData>'
_SHEET_END = "</sheetData></worksheet>"


def column_letters(index: int) -> str:
    """The letters of the 0-based column ``index``: A, ..., Z, AA, AB, ..."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _escaped(text: str) -> str:
    """``text`` as XML character data, with Excel's escapes for control characters
    (``_x0007_``; Excel and LibreOffice read them back, openpyxl shows them as they are)."""
    text = _EXCEL_ESCAPE.sub(r"_x005F\g<0>", text)  # the literal text of an escape
    text = _CONTROL.sub(lambda match: f"_x{ord(match.group()):04X}_", text)
    return text.translate(_XML_TEXT)


def _careful_cell(reference: str, cell: str) -> str:
    """One cell of a row that is not plain (see ``_is_plain``)."""
    cell = cell[:MAX_CELL_CHARS]
    style = f' s="{_QUOTED}"' if is_formula_like(cell) else ""
    space = ' xml:space="preserve"' if cell[0].isspace() or cell[-1].isspace() else ""
    return f'<c r="{reference}"{style} t="inlineStr"><is><t{space}>{_escaped(cell)}</t></is></c>'


def _is_plain(joined: str) -> bool:
    """The row whose cells ``joined`` are can be written as it is (one search per kind)."""
    if len(joined) > MAX_CELL_CHARS or _SPECIAL_CHARACTER.search(joined) is not None:
        return False
    return not any(text in joined for text in _SPECIAL_TEXT)


class _Chunks:
    """A write-only stream that keeps what is written until it is taken."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


class _RowWriter:
    """Rows of text cells as sheet XML, numbered from 1."""

    def __init__(self) -> None:
        self.number = 0
        self.letters: list[str] = []

    def row(self, cells: Sequence[str | None]) -> str:
        self.number += 1
        number = self.number
        if len(cells) > len(self.letters):
            self.letters = [column_letters(index) for index in range(len(cells))]
        # Separators at both ends too: every cell is between two.
        joined = _SEPARATOR.join(["", *[cell or "" for cell in cells], ""])
        if _is_plain(joined):
            written = [
                f'<c r="{letter}{number}" t="inlineStr"><is><t>{cell}</t></is></c>'
                for letter, cell in zip(self.letters, cells, strict=False)
                if cell
            ]
        else:
            written = [
                _careful_cell(f"{letter}{number}", cell)
                for letter, cell in zip(self.letters, cells, strict=False)
                if cell
            ]
        if not cells[-1]:
            # An empty last cell, written: readers that size rows by their last
            # cell (openpyxl's read-only mode) then see every row as wide as the header.
            written.append(f'<c r="{self.letters[len(cells) - 1]}{number}"/>')
        return f'<row r="{number}">{"".join(written)}</row>'


def workbook_bytes(
    batches: Iterable[Sequence[Sequence[str | None]]],
    *,
    sheet_name: str = "Sheet1",
    compresslevel: int = 6,
) -> Iterator[bytes]:
    """The bytes of an XLSX workbook of one sheet whose rows are ``batches``' rows.

    Every non-empty cell is a text cell (a string, never a number or a date); a
    cell that would be read as a formula keeps its text and gets the quote-prefix
    format; empty cells (None or "") are left out. One chunk per batch.
    """
    sink = _Chunks()
    with zipfile.ZipFile(
        sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel
    ) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK.format(name=_escaped(sheet_name)))
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr("xl/styles.xml", _STYLES)
        writer = _RowWriter()
        # Zip64 from the start: the sheet's size is not known before it is written.
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(_SHEET_START.encode())
            for batch in batches:
                rows = [writer.row(cells) for cells in batch[: MAX_ROWS - writer.number]]
                sheet.write("".join(rows).encode())
                yield sink.take()
            sheet.write(_SHEET_END.encode())
    yield sink.take()
