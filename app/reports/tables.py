"""Reports as CSV: one header row and the report's rows, streamed, in UTF-8 with a byte order mark.

The mark makes Excel read the file as UTF-8 (Vietnamese names stay intact); Python's csv module reads it
with `encoding="utf-8-sig"`. A cell of text that a spreadsheet would take for a formula (starting with
=, +, -, @, a tab or a carriage return: a group's name such as "=HYPERLINK(…)") is written with a
leading apostrophe, so that it stays text; numbers are written as they are.
"""

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

MEDIA_TYPE = "text/csv; charset=utf-8"
BOM = "\ufeff"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Rows written between two chunks of the stream.
_ROWS_PER_CHUNK = 500

# The OpenAPI description of a report's CSV form.
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "The report; as CSV when the request says `Accept: text/csv`",
    }
}


def wants_csv(request: Request) -> bool:
    return "text/csv" in request.headers.get("accept", "").lower()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _chunks(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(header)
    for count, row in enumerate(rows, start=1):
        writer.writerow([_cell(value) for value in row])
        if count % _ROWS_PER_CHUNK == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def csv_response(name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> StreamingResponse:
    """The rows (already read: nothing is read from the database while the answer streams)."""
    return StreamingResponse(
        _chunks(header, rows),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
