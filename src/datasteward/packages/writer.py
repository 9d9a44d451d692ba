"""Writing access and portability packages: a zip on disk, streamed.

A package holds ``data.json`` (every value with its system, dataset, field
and data category), one CSV per dataset under ``csv/``, and for access a
readable ``report.html``. The formats are documented in docs/packages.md.

Memory stays flat however many rows a subject has. Each section's rows are
read once; every row goes at once into its CSV entry of the zip and, as one
JSON item, into an anonymous spool file beside the zip. A zip accepts only
one open entry at a time, so ``data.json`` is copied in from the spool after
the last section, in 1 MiB pieces, behind a header that can then already list
every dataset with its row count. The report is rendered last, from counts
only.

The zip is written under a temporary name with mode 0600 and renamed when
complete: a crash or an error (a row with a missing or undeclared column, a
dataset given twice) leaves no package behind, never half of one. The zip is
plaintext personal data; store it with :func:`~datasteward.packages.vault.
store_package`, which encrypts it and removes it.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from datasteward.documents.templating import resolve_language
from datasteward.errors import InvalidInput
from datasteward.packages.encoding import csv_text, dumps, json_text
from datasteward.packages.files import private_output
from datasteward.packages.model import DatasetSummary, PackageSection, WrittenPackage
from datasteward.packages.portability import select_portable
from datasteward.packages.report import render_access_report
from datasteward.policy.model import Contact, Policy

__all__ = [
    "ACCESS_FORMAT",
    "DATA_FILE",
    "PORTABILITY_FORMAT",
    "REPORT_FILE",
    "write_access_package",
    "write_portability_package",
]

ACCESS_FORMAT = "datasteward-access-1"
PORTABILITY_FORMAT = "datasteward-portability-1"
DATA_FILE = "data.json"
REPORT_FILE = "report.html"
CSV_DIR = "csv/"
_COPY_BUFFER = 1 << 20
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
_COMMA = ","

# (row number, values of the row) -> the JSON text of that row's item
_Item = Callable[[int, list[object]], str]


def write_access_package(
    path: Path,
    policy: Policy,
    sections: Iterable[PackageSection],
    *,
    generated_at: datetime,
    identity_kinds: Sequence[str] = (),
    language: str | None = None,
) -> WrittenPackage:
    """Write the access package (Art. 15) of ``sections`` to the zip ``path``.

    Pass one section per dataset searched, also those where nothing was
    found: the report lists them as "searched, nothing found"."""
    stamp = _instant(generated_at)
    language = resolve_language(language, policy.controller.languages)  # refuse before writing
    with _private_zip(path) as (archive, spool):
        datasets = _write_sections(archive, spool, sections, stamp, _access_items)
        header = _header(ACCESS_FORMAT, policy, stamp, identity_kinds)
        header["searched"] = [_dataset_entry(d) for d in datasets]
        _write_data_file(archive, stamp, header, "records", "[", spool, "]")
        report = render_access_report(
            policy,
            datasets,
            generated_at=stamp,
            identity_kinds=identity_kinds,
            language=language,
            data_file=DATA_FILE,
        )
        archive.writestr(_entry(REPORT_FILE, stamp), report.encode("utf-8"))
    return WrittenPackage("access", path, ACCESS_FORMAT, tuple(datasets))


def write_portability_package(
    path: Path,
    policy: Policy,
    sections: Iterable[PackageSection],
    *,
    generated_at: datetime,
    identity_kinds: Sequence[str] = (),
) -> WrittenPackage:
    """Write the portability package (Art. 20) to the zip ``path``.

    ``sections`` may carry more than is portable: only the columns
    :func:`~datasteward.packages.portability.select_portable` keeps are
    written, and datasets without a portable column are left out."""
    stamp = _instant(generated_at)
    with _private_zip(path) as (archive, spool):
        datasets = _write_sections(
            archive,
            spool,
            select_portable(policy, sections),
            stamp,
            _portability_items,
            opening=_dataset_opening,
            after="\n    ]",
        )
        header = _header(PORTABILITY_FORMAT, policy, stamp, identity_kinds)
        header["structure"] = {d.key: _dataset_entry(d) for d in datasets}
        _write_data_file(archive, stamp, header, "datasets", "{", spool, "}")
    return WrittenPackage("portability", path, PORTABILITY_FORMAT, tuple(datasets))


# -- the zip and the spool ----------------------------------------------------------


def _instant(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("generated_at must be timezone-aware")
    return moment.astimezone(UTC)


@contextmanager
def _private_zip(path: Path) -> Iterator[tuple[zipfile.ZipFile, IO[bytes]]]:
    """A zip that appears at ``path`` (mode 0600) only when complete, and an
    anonymous spool file beside it (never given a name, gone when closed)."""
    with (
        private_output(path) as handle,
        tempfile.TemporaryFile(dir=path.parent) as spool,
        zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive,
    ):
        yield archive, spool


def _entry(name: str, stamp: datetime) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=stamp.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16  # extracted files readable by their owner only
    return info


def _safe(part: str) -> str:
    return _UNSAFE_NAME.sub("_", part).lstrip(".") or "_"


def _csv_name(section: PackageSection, taken: set[str]) -> str:
    stem = f"{CSV_DIR}{_safe(section.system)}.{_safe(section.dataset)}"
    name, number = f"{stem}.csv", 1
    while name in taken:
        number += 1
        name = f"{stem}-{number}.csv"
    taken.add(name)
    return name


# -- sections ------------------------------------------------------------------------


def _write_sections(
    archive: zipfile.ZipFile,
    spool: IO[bytes],
    sections: Iterable[PackageSection],
    stamp: datetime,
    items_of: Callable[[PackageSection], _Item],
    *,
    opening: Callable[[PackageSection], str] | None = None,
    after: str = "",
) -> list[DatasetSummary]:
    """Stream every section into its CSV entry and its JSON items into ``spool``,
    comma-separated. With ``opening``, each section's items are wrapped in
    ``opening(section)`` and ``after`` (a named array of an object)."""
    done: list[DatasetSummary] = []
    seen: set[tuple[str, str]] = set()
    names: set[str] = set()
    items = 0
    for number, section in enumerate(sections):
        if (section.system, section.dataset) in seen:
            raise InvalidInput(f"dataset {section.key} is given twice; pass one section each")
        seen.add((section.system, section.dataset))
        csv_name = _csv_name(section, names)
        if opening is not None:
            spool.write(((_COMMA if number else "") + opening(section)).encode("utf-8"))
            items = 0
        item, rows = items_of(section), 0
        # closing(): an error while spooling must close the zip entry too.
        with closing(_stream_csv(archive, csv_name, section, stamp)) as stream:
            for rows, values in stream:
                text = item(rows, values)
                spool.write(((_COMMA if items else "") + text).encode("utf-8"))
                items += 1
        if opening is not None:
            spool.write(after.encode("utf-8"))
        done.append(DatasetSummary(section.system, section.dataset, section.fields, rows, csv_name))
    return done


def _stream_csv(
    archive: zipfile.ZipFile, name: str, section: PackageSection, stamp: datetime
) -> Generator[tuple[int, list[object]], None, None]:
    """Write ``section`` as the CSV entry ``name``, yielding each row's number
    (from 1) and values as it goes."""
    columns = [f.name for f in section.fields]
    if len(set(columns)) != len(columns):
        raise InvalidInput(f"dataset {section.key} names a column twice")
    with (
        archive.open(_entry(name, stamp), "w", force_zip64=True) as raw,
        io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text,
    ):
        writer = csv.writer(text)
        writer.writerow(columns)
        for number, row in enumerate(section.rows, start=1):
            values = _values(section, columns, row, number)
            writer.writerow([csv_text(v) for v in values])
            yield number, values


def _values(
    section: PackageSection, columns: list[str], row: Mapping[str, object], number: int
) -> list[object]:
    """The row's values in column order; a missing or undeclared column is an
    error (named by column, never by value)."""
    try:
        values = [row[c] for c in columns]
    except KeyError as missing:
        raise InvalidInput(
            f"dataset {section.key}, row {number}: no value for column '{missing.args[0]}'"
        ) from None
    if len(row) != len(columns):
        extra = sorted(str(k) for k in row if k not in set(columns))
        raise InvalidInput(
            f"dataset {section.key}, row {number}: undeclared column(s) {', '.join(extra)}"
        )
    return values


# -- JSON items ----------------------------------------------------------------------


def _access_items(section: PackageSection) -> _Item:
    """Items of ``records``: each cell with its field and category. The text
    around the values is built once per section; a row only adds its values."""
    head = f"\n    {{{dumps('system')}: {dumps(section.system)}, "
    head += f"{dumps('dataset')}: {dumps(section.dataset)}, {dumps('row')}: "
    parts = [
        ("" if i == 0 else ", ")
        + dumps({"field": f.name, "category": f.category, "category_name": f.category_name})[:-1]
        + ', "value": '
        for i, f in enumerate(section.fields)
    ]

    def item(number: int, values: list[object]) -> str:
        cells = [f"{p}{json_text(v)}}}" for p, v in zip(parts, values, strict=True)]
        return f'{head}{number}, "fields": [{"".join(cells)}]}}'

    return item


def _portability_items(section: PackageSection) -> _Item:
    """Items of one dataset's array: ``{column: value, ...}`` per row."""
    keys = [("" if i == 0 else ", ") + dumps(f.name) + ": " for i, f in enumerate(section.fields)]

    def item(number: int, values: list[object]) -> str:
        cells = [f"{k}{json_text(v)}" for k, v in zip(keys, values, strict=True)]
        return f"\n      {{{''.join(cells)}}}"

    return item


def _dataset_opening(section: PackageSection) -> str:
    return f"\n    {dumps(section.key)}: ["


# -- data.json -----------------------------------------------------------------------


def _contact(contact: Contact | None) -> dict[str, str | None] | None:
    if contact is None:
        return None
    email = str(contact.email) if contact.email else None
    return {
        "name": contact.name,
        "email": email,
        "phone": contact.phone,
        "address": contact.address,
    }


def _header(
    fmt: str, policy: Policy, stamp: datetime, identity_kinds: Sequence[str]
) -> dict[str, Any]:
    c = policy.controller
    authority = c.supervisory_authority
    return {
        "format": fmt,
        "generated_at": stamp.isoformat(),
        "controller": {
            "legal_name": c.legal_name,
            "short_name": c.short_name,
            "registration_number": c.registration_number,
            "registered_address": c.registered_address,
            "country": c.country,
            "email": str(c.contact_email) if c.contact_email else None,
            "phone": c.contact_phone,
            "website": c.website,
            "dpo": _contact(c.dpo),
            "supervisory_authority": authority.model_dump(mode="json") if authority else None,
        },
        "policy_version": policy.version,
        "subject": {"identity_kinds": list(dict.fromkeys(identity_kinds))},
    }


def _dataset_entry(summary: DatasetSummary) -> dict[str, Any]:
    return {
        "system": summary.system,
        "dataset": summary.dataset,
        "rows": summary.rows,
        "csv": summary.csv_name,
        "fields": [
            {"name": f.name, "category": f.category, "category_name": f.category_name}
            for f in summary.fields
        ],
    }


def _write_data_file(
    archive: zipfile.ZipFile,
    stamp: datetime,
    header: dict[str, Any],
    key: str,
    start: str,
    spool: IO[bytes],
    end: str,
) -> None:
    """``header`` with ``key`` appended, whose value is the spooled items
    between ``start`` and ``end`` (``[``/``]`` or ``{``/``}``)."""
    text = json.dumps(header, ensure_ascii=False, indent=2)
    head = f"{text[:-2]},\n  {json.dumps(key)}: {start}"
    spool.flush()
    spool.seek(0)
    with archive.open(_entry(DATA_FILE, stamp), "w", force_zip64=True) as out:
        out.write(head.encode("utf-8"))
        shutil.copyfileobj(spool, out, _COPY_BUFFER)
        out.write(f"\n  {end}\n}}\n".encode())
