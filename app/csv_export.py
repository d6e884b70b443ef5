"""CSV downloads that are safe to open in a spreadsheet.

A cell starting with = + - @ (or a tab or carriage return) is a formula to Excel, LibreOffice and
Google Sheets ("CSV injection", OWASP). A name typed by a parent could run as one on an
administrator's computer, so such cells are prefixed with a single quote, which spreadsheets show
as plain text. Plain numbers stay numbers: only strings are touched.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from flask import Response

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(header: list[str], rows: Iterable[Iterable[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return buffer.getvalue()


def csv_response(filename: str, header: list[str], rows: Iterable[Iterable[Any]]) -> Response:
    return Response(
        csv_text(header, rows),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )
