"""Where the data lives: systems (company databases or manual processes),
their datasets (tables) and fields (columns), with the identity fields used
to find one person's rows and the erasure action for every field.

A system names the *environment variable* holding its connection URL, never
the URL itself: the policy file is meant to be committed and shared."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from datasteward.policy.model.base import CountryCode, Identifier, PolicyModel, Reference

__all__ = [
    "ConnectorKind",
    "Dataset",
    "DatasetField",
    "ErasureAction",
    "IdentityField",
    "IdentityKind",
    "ManualInstructions",
    "Relation",
    "System",
]


class ConnectorKind(StrEnum):
    """How the engine reaches a system."""

    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"
    MYSQL = "mysql"
    MANUAL = "manual"


class ErasureAction(StrEnum):
    """What erasure does to one field (see the erasure operators)."""

    DELETE_ROW = "delete_row"
    SET_NULL = "set_null"
    SET_VALUE = "set_value"
    KEYED_HASH = "keyed_hash"
    TRUNCATE_IP = "truncate_ip"
    GENERALISE_DATE = "generalise_date"
    KEEP = "keep"


class IdentityKind(StrEnum):
    """Kinds of identity a data subject can be found by."""

    EMAIL = "email"
    PHONE = "phone"
    CUSTOMER_ID = "customer_id"
    NATIONAL_ID = "national_id"
    USERNAME = "username"
    OTHER = "other"


class IdentityField(PolicyModel):
    """A column that identifies the data subject directly."""

    field: str = Field(description="Column name.")
    kind: IdentityKind = Field(description="email, phone, customer_id, national_id, ...")


class Relation(PolicyModel):
    """A link from this dataset to another one's key (a foreign key in spirit)."""

    field: str = Field(description="Column of this dataset.")
    references: str = Field(description="'dataset.column' of the same system.")


class DatasetField(PolicyModel):
    """A column holding personal data, its category and its erasure action."""

    name: str = Field(description="Column name.")
    category: Reference = Field(description="Data category id of the value.")
    erasure: ErasureAction = Field(
        ErasureAction.SET_NULL, description="Action on erasure: set_null, keyed_hash, ..."
    )
    erasure_value: str | None = Field(None, description="Replacement value for set_value.")
    generalise_to: str | None = Field(None, description="'month' or 'year', for generalise_date.")
    provided_by_subject: bool = Field(
        True, description="The subject provided it (portability covers it, Art. 20(1))."
    )


class ManualInstructions(PolicyModel):
    """What staff do for a system that has no connector."""

    instructions: str = Field(description="Steps to find, export or erase the subject's data.")
    assignee: str | None = Field(None, description="Role or team that carries them out.")


class Dataset(PolicyModel):
    """A table of a system that holds personal data."""

    name: str = Field(description="Dataset id within the system.")
    table: str | None = Field(None, description="Table name when it differs from name.")
    db_schema: str | None = Field(
        None, alias="schema", description="Database schema holding the table."
    )
    description: str | None = Field(None, description="What the dataset records.")
    primary_key: list[str] = Field(default_factory=lambda: ["id"], description="Key columns.")
    identity_fields: list[IdentityField] = Field(
        default_factory=list, description="Columns that identify the subject directly."
    )
    relations: list[Relation] = Field(
        default_factory=list, description="Links to the rows of other datasets."
    )
    restriction_flag: str | None = Field(
        None, description="Boolean column set when processing is restricted (Art. 18)."
    )
    fields: list[DatasetField] = Field(
        default_factory=list, description="Columns holding personal data."
    )


class System(PolicyModel):
    """A company system holding personal data: a database or a manual process."""

    id: Identifier = Field(description="Stable id used by references.")
    name: str = Field(description="Name shown to staff.")
    connector: ConnectorKind = Field(description="sqlite, postgresql, mysql or manual.")
    url_env: str | None = Field(
        None,
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="Name of the environment variable holding the connection URL.",
    )
    country: CountryCode | None = Field(None, description="Where the system is hosted.")
    operator: Reference | None = Field(
        None, description="Recipient id of the processor that hosts or runs the system."
    )
    manual: ManualInstructions | None = Field(
        None, description="Instructions when the connector is manual."
    )
    datasets: list[Dataset] = Field(default_factory=list, description="Tables of the system.")
