"""An invented web shop to run datasteward against: eleven tables of a
WooCommerce-like shop (customers, orders, payments, newsletter, contact form,
access log, marketplace sellers), generated deterministically from a seed at
any size from a thousand to tens of millions of rows, and loaded into
SQLite, PostgreSQL or MariaDB.

``examples/shop/policy.yaml`` maps every table; docs/shop.md describes the
data. Command line: ``python -m datasteward.shop --rows N --url URL``.
"""

from datasteward.shop.fingerprint import TableDigest, fingerprint_batches
from datasteward.shop.generate import (
    DEFAULT_BATCH,
    DEFAULT_NOW,
    DEFAULT_SEED,
    GENERATION_ORDER,
    MIN_ROWS,
    Batch,
    generate,
    shop_size,
    table_counts,
)
from datasteward.shop.load import (
    SAMPLE_ROLES,
    LoadResult,
    add_heavy_customer,
    database_fingerprint,
    drop_shop,
    load,
    sample_subjects,
    sample_subjects_by_role,
    shop_engine,
)
from datasteward.shop.schema import SHOP_METADATA, TABLE_NAMES

__all__ = [
    "DEFAULT_BATCH",
    "DEFAULT_NOW",
    "DEFAULT_SEED",
    "GENERATION_ORDER",
    "MIN_ROWS",
    "SAMPLE_ROLES",
    "SHOP_METADATA",
    "TABLE_NAMES",
    "Batch",
    "LoadResult",
    "TableDigest",
    "add_heavy_customer",
    "database_fingerprint",
    "drop_shop",
    "fingerprint_batches",
    "generate",
    "load",
    "sample_subjects",
    "sample_subjects_by_role",
    "shop_engine",
    "shop_size",
    "table_counts",
]
