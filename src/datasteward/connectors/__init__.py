"""Connectors to the company's own databases: SQLite, PostgreSQL and
MariaDB/MySQL, through SQLAlchemy Core.

A connector reflects the tables a policy names (and nothing else), finds
one person's rows through the policy's identity fields and relations with
indexed sub-selects, streams them for access and portability, erases them
with the policy's operators, and checks that the database matches what the
policy says (``steward systems check``). See docs/connectors.md.
"""

from datasteward.connectors.check import CheckProblem, Severity, SystemCheck
from datasteward.connectors.compile import (
    Identities,
    SubjectQuery,
    identity_values,
    subject_keys_select,
    subject_select,
)
from datasteward.connectors.reflect import ConnectorError, Reflection, column_kind, reflect_system
from datasteward.connectors.sql import (
    DEFAULT_BATCH,
    ErasureResult,
    FieldsResult,
    SqlConnector,
    erasure_order,
    sql_connectors,
)

__all__ = [
    "DEFAULT_BATCH",
    "CheckProblem",
    "ConnectorError",
    "ErasureResult",
    "FieldsResult",
    "Identities",
    "Reflection",
    "Severity",
    "SqlConnector",
    "SubjectQuery",
    "SystemCheck",
    "column_kind",
    "erasure_order",
    "identity_values",
    "reflect_system",
    "sql_connectors",
    "subject_keys_select",
    "subject_select",
]
