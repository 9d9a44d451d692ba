"""When data ends: retention rules (anchor event + period + action) and the
legal holds that override erasure (Art. 5(1)(e), 13(2)(a), 17(3))."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from datasteward.policy.model.base import Duration, Identifier, PolicyModel, Reference

__all__ = [
    "Anchor",
    "AnchorEvent",
    "DatasetRef",
    "Erasure17_3Ground",
    "LegalHold",
    "RetentionAction",
    "RetentionRule",
    "Suspension",
]


class AnchorEvent(StrEnum):
    """The event from which a retention period runs."""

    COLLECTED = "collected"
    ACCOUNT_CLOSED = "account_closed"
    CONTRACT_ENDED = "contract_ended"
    SUBSCRIPTION_ENDED = "subscription_ended"
    COMMUNICATION_RESOLVED = "communication_resolved"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    DISCOVERED = "discovered"
    CUSTOM = "custom"


class RetentionAction(StrEnum):
    """What happens when the period ends."""

    DELETE = "delete"
    ANONYMISE = "anonymise"


class Suspension(StrEnum):
    """What stops a retention period from ending data."""

    LEGAL_HOLD = "legal_hold"
    OUTSTANDING_OBLIGATIONS = "outstanding_obligations"
    PENDING_PROCEEDINGS = "pending_proceedings"
    RESTRICTION = "restriction"
    OPEN_REQUEST = "open_request"


class Erasure17_3Ground(StrEnum):  # noqa: N801 - named after the article
    """Art. 17(3) grounds for keeping data despite an erasure request."""

    FREEDOM_OF_EXPRESSION = "freedom_of_expression"
    LEGAL_OBLIGATION = "legal_obligation"
    PUBLIC_HEALTH = "public_health"
    ARCHIVING_RESEARCH = "archiving_research"
    LEGAL_CLAIMS = "legal_claims"

    @property
    def article(self) -> str:
        letter = {
            "freedom_of_expression": "a",
            "legal_obligation": "b",
            "public_health": "c",
            "archiving_research": "d",
            "legal_claims": "e",
        }[self.value]
        return f"Art. 17(3)({letter}) GDPR"


class Anchor(PolicyModel):
    """The start of a retention period: an event, and where it is recorded."""

    event: AnchorEvent = Field(description="collected, account_closed, contract_ended, ...")
    column: str | None = Field(
        None, description="Column of the dataset holding the event's time (e.g. closed_at)."
    )
    name: str | None = Field(None, description="Name of the event when event is 'custom'.")


class DatasetRef(PolicyModel):
    """A dataset of a declared system."""

    system: Reference = Field(description="System id.")
    dataset: str = Field(description="Dataset name within the system.")


class RetentionRule(PolicyModel):
    """Anchor event + period + action, applied to data categories or datasets."""

    id: Identifier = Field(description="Stable id used by references.")
    description: str | None = Field(None, description="The promise in the notice's words.")
    data_categories: list[Reference] = Field(
        default_factory=list, description="Data category ids the rule ends."
    )
    datasets: list[DatasetRef] = Field(
        default_factory=list, description="Datasets the rule is enforced in."
    )
    anchor: Anchor = Field(description="Event from which the period runs.")
    period: Duration | None = Field(
        None, description="ISO 8601 period; omit only where the notice gives criteria."
    )
    criteria: str | None = Field(
        None, description="Criteria used to determine the period where no period is stated."
    )
    action: RetentionAction = Field(
        RetentionAction.DELETE, description="delete the rows, or anonymise the listed fields."
    )
    fields: list[str] = Field(
        default_factory=list, description="Field names to anonymise when action is anonymise."
    )
    suspended_by: list[Suspension] = Field(
        default_factory=list, description="What suspends the rule (holds, proceedings, ...)."
    )
    suspend_column: str | None = Field(
        None,
        description=(
            "Boolean column, of the dataset or of the one its anchor is read from, that is "
            "true while outstanding obligations or pending proceedings keep the row."
        ),
    )
    legal_holds: list[Reference] = Field(
        default_factory=list, description="Legal hold ids that may keep data past the period."
    )


class LegalHold(PolicyModel):
    """A law or proceeding that requires data to be kept (Art. 17(3))."""

    id: Identifier = Field(description="Stable id used by references.")
    law: str = Field(description="The law, e.g. 'Latvian Accounting Law (Grāmatvedības likums)'.")
    reference: str | None = Field(None, description="Section or article of that law.")
    ground: Erasure17_3Ground = Field(
        Erasure17_3Ground.LEGAL_OBLIGATION, description="Art. 17(3) ground recorded for kept data."
    )
    data_categories: list[Reference] = Field(
        default_factory=list, description="Data category ids the law keeps."
    )
    datasets: list[DatasetRef] = Field(default_factory=list, description="Datasets the law keeps.")
    period: Duration = Field(description="How long the law keeps the data.")
    anchor: Anchor = Field(description="Event from which the hold's period runs.")
