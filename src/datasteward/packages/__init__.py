"""Packages: what an access (Art. 15) or portability (Art. 20) request returns.

A package is a zip of ``data.json``, one CSV per dataset and, for access, a
readable ``report.html``. It is written by streaming each dataset's rows
(:mod:`.writer`), so memory stays flat however much data a subject has, and
kept encrypted in the engine's data directory until it expires
(:mod:`.vault`). Which columns portability returns is decided from the policy
alone (:mod:`.portability`). The formats are documented in docs/packages.md.

The model, scope, portability selection and report are pure; the writer and
the vault touch files (and the vault the keyring).
"""

from datasteward.packages.model import (
    DatasetSummary,
    FieldInfo,
    PackageSection,
    WrittenPackage,
)
from datasteward.packages.portability import portable_activity, portable_fields, select_portable
from datasteward.packages.report import render_access_report
from datasteward.packages.scope import activity_uses, concerned_activities, dataset_fields
from datasteward.packages.vault import (
    CHUNK_SIZE,
    PackageExpired,
    StoredPackage,
    delete_package,
    download_token,
    export_package,
    new_package_id,
    open_package,
    package_info,
    packages_dir,
    purge_expired,
    purge_staging,
    staging_path,
    store_package,
    verify_token,
)
from datasteward.packages.writer import (
    ACCESS_FORMAT,
    PORTABILITY_FORMAT,
    write_access_package,
    write_portability_package,
)

__all__ = [
    "ACCESS_FORMAT",
    "CHUNK_SIZE",
    "PORTABILITY_FORMAT",
    "DatasetSummary",
    "FieldInfo",
    "PackageExpired",
    "PackageSection",
    "StoredPackage",
    "WrittenPackage",
    "activity_uses",
    "concerned_activities",
    "dataset_fields",
    "delete_package",
    "download_token",
    "export_package",
    "new_package_id",
    "open_package",
    "package_info",
    "packages_dir",
    "portable_activity",
    "portable_fields",
    "purge_expired",
    "purge_staging",
    "render_access_report",
    "select_portable",
    "staging_path",
    "store_package",
    "verify_token",
    "write_access_package",
    "write_portability_package",
]
