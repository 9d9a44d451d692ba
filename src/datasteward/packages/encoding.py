"""Values from company databases as JSON and as CSV text.

Database drivers hand back more than JSON knows: dates, times, decimals,
binary, UUIDs, network addresses, infinities. Every value must reach the
subject intact and the files must stay valid, so each type has one fixed
form:

===================== ============================== ==========================
value                 in JSON                        in CSV
===================== ============================== ==========================
``None``              ``null``                       empty cell
``True`` / ``False``  ``true`` / ``false``           ``true`` / ``false``
int                   number                         digits
finite float          number                         shortest round-trip text
NaN, ±infinity        ``"NaN"``, ``"Infinity"``, ... same text
Decimal               string (``"12.50"``, exact)    same text
date, datetime, time  ISO 8601 string                same text
timedelta             ``"PT<seconds>S"``             same text
bytes                 ``{"$base64": "<base64>"}``    ``base64:<base64>``
list / tuple          array (items encoded alike)    the JSON text of the array
mapping               object (keys as text)          the JSON text of the object
anything else         ``str(value)``                 ``str(value)``
===================== ============================== ==========================

A JSON object whose only key is ``$base64`` is therefore binary data. CSV
cells lose the type (an empty cell may be ``None`` or empty text); data.json
keeps it.

Pure: no I/O.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

__all__ = ["BYTES_MARKER", "CSV_BYTES_PREFIX", "csv_text", "dumps", "json_text", "json_value"]

BYTES_MARKER = "$base64"
CSV_BYTES_PREFIX = "base64:"

_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def _float_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return _NON_FINITE.get(value) or repr(value)


def _b64(value: bytes | bytearray | memoryview) -> str:
    return base64.b64encode(bytes(value)).decode("ascii")


# Exact types whose JSON value and CSV text are the same string (the common
# database types, looked up before the slower isinstance chain).
_AS_TEXT: dict[type, Callable[[Any], str]] = {
    Decimal: str,
    datetime: datetime.isoformat,
    date: date.isoformat,
    time: time.isoformat,
}


def json_value(value: object) -> Any:
    """``value`` as something :func:`json.dumps` writes without loss or error."""
    kind = type(value)
    if value is None or kind is str or kind is int or kind is bool:
        return value
    as_text = _AS_TEXT.get(kind)
    if as_text is not None:
        return as_text(value)
    if isinstance(value, Enum):
        return json_value(value.value)
    if isinstance(value, str | int):  # subclasses of str and int (bool included)
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _float_text(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, timedelta):
        return f"PT{_seconds(value)}S"
    if isinstance(value, bytes | bytearray | memoryview):
        return {BYTES_MARKER: _b64(value)}
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return str(value)


def _seconds(value: timedelta) -> str:
    whole = value.days * 86_400 + value.seconds
    if not value.microseconds:
        return str(whole)
    return str(Decimal(whole) + Decimal(value.microseconds) / Decimal(1_000_000))


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False)
_encode_text = json.encoder.encode_basestring  # the C version where available


def dumps(value: Any) -> str:
    """Compact JSON text, non-ASCII letters kept as they are (``Bērziņa``)."""
    return _ENCODER.encode(value)


def json_text(value: object) -> str:
    """The JSON text of one value (:func:`json_value`, then :func:`dumps`), with
    the common types written directly: this runs once per cell."""
    if type(value) is str:
        return str(_encode_text(value))
    if value is None:
        return "null"
    if type(value) is int:
        return int.__repr__(value)
    return dumps(json_value(value))


def csv_text(value: object) -> str:
    """``value`` as the text of one CSV cell."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if type(value) is int:
        return int.__repr__(value)
    as_text = _AS_TEXT.get(type(value))
    if as_text is not None:
        return as_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return csv_text(value.value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return CSV_BYTES_PREFIX + _b64(value)
    if isinstance(value, Mapping | list | tuple):
        return dumps(json_value(value))
    encoded = json_value(value)
    return encoded if isinstance(encoded, str) else dumps(encoded)
