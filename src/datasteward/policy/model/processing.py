"""What is processed, about whom, why and on which legal basis: data subjects,
data categories, purposes and processing activities (Art. 6, 9, 13, 14, 30).

Names of legal bases and special-category conditions follow the W3C Data
Privacy Vocabulary (DPV) where one exists, so exports can be mapped to it."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from datasteward.policy.model.base import Duration, Identifier, PolicyModel, Reference

__all__ = [
    "AutomatedDecision",
    "ConsentSettings",
    "DataCategory",
    "DataSubject",
    "LegalBasis",
    "ObjectionSettings",
    "ProcessingActivity",
    "Purpose",
    "Requirement",
    "RequirementKind",
    "Source",
    "SourceKind",
    "SpecialCategoryCondition",
]


class LegalBasis(StrEnum):
    """Art. 6(1)(a)-(f); values are the DPV concept names in snake case."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTERESTS = "vital_interests"
    PUBLIC_TASK = "public_task"
    LEGITIMATE_INTEREST = "legitimate_interest"

    @property
    def article(self) -> str:
        letter = {
            "consent": "a",
            "contract": "b",
            "legal_obligation": "c",
            "vital_interests": "d",
            "public_task": "e",
            "legitimate_interest": "f",
        }[self.value]
        return f"Art. 6(1)({letter}) GDPR"

    @property
    def label(self) -> str:
        return {
            "consent": "your consent",
            "contract": "performance of a contract or steps before entering into one",
            "legal_obligation": "compliance with a legal obligation",
            "vital_interests": "protection of vital interests",
            "public_task": "a task in the public interest or official authority",
            "legitimate_interest": "our legitimate interests",
        }[self.value]


class SpecialCategoryCondition(StrEnum):
    """Art. 9(2)(a)-(j): the condition that lifts the ban on special categories."""

    EXPLICIT_CONSENT = "explicit_consent"
    EMPLOYMENT_SOCIAL_SECURITY = "employment_social_security"
    VITAL_INTERESTS = "vital_interests"
    NOT_FOR_PROFIT_BODY = "not_for_profit_body"
    MADE_PUBLIC_BY_SUBJECT = "made_public_by_subject"
    LEGAL_CLAIMS = "legal_claims"
    SUBSTANTIAL_PUBLIC_INTEREST = "substantial_public_interest"
    HEALTH_OR_SOCIAL_CARE = "health_or_social_care"
    PUBLIC_HEALTH = "public_health"
    ARCHIVING_RESEARCH_STATISTICS = "archiving_research_statistics"

    @property
    def article(self) -> str:
        letters = "abcdefghij"
        index = list(SpecialCategoryCondition).index(self)
        return f"Art. 9(2)({letters[index]}) GDPR"


class RequirementKind(StrEnum):
    """Whether providing the data is required, and by what (Art. 13(2)(e))."""

    STATUTORY = "statutory"
    CONTRACTUAL = "contractual"
    CONTRACT_PREREQUISITE = "contract_prerequisite"
    VOLUNTARY = "voluntary"


class SourceKind(StrEnum):
    """Where the data comes from (Art. 13 when from the subject, Art. 14 otherwise)."""

    DATA_SUBJECT = "data_subject"
    OBSERVED = "observed"
    THIRD_PARTY = "third_party"
    PUBLICLY_AVAILABLE = "publicly_available"


class DataSubject(PolicyModel):
    """A kind of person whose data is processed (customer, visitor, seller)."""

    id: Identifier = Field(description="Stable id used by references.")
    name: str = Field(description="Name shown in the notice.")
    description: str | None = Field(None, description="Who belongs to this group.")
    may_include_children: bool = Field(
        False, description="Children may be among these data subjects (Art. 8)."
    )
    minimum_age: int | None = Field(
        None,
        ge=0,
        le=21,
        description="Age below which the service is not offered or consent needs a parent.",
    )
    minors_on_discovery: str | None = Field(
        None,
        description="What happens when data of a person under the minimum age is found.",
    )


class DataCategory(PolicyModel):
    """A category of personal data (email address, IP address, order history)."""

    id: Identifier = Field(description="Stable id used by references.")
    name: str = Field(description="Name shown in the notice.")
    dpv: str | None = Field(
        None, description="Matching W3C DPV personal-data concept, e.g. 'pd:EmailAddress'."
    )
    description: str | None = Field(None, description="What the category contains.")
    special: bool = Field(False, description="A special category under Art. 9(1).")
    criminal: bool = Field(False, description="Data on criminal convictions (Art. 10).")


class Requirement(PolicyModel):
    """Whether the subject must provide the data and what follows if not."""

    kind: RequirementKind = Field(description="statutory, contractual, ... or voluntary.")
    consequence: str | None = Field(
        None, description="What happens if the data is not provided (Art. 13(2)(e))."
    )


class ObjectionSettings(PolicyModel):
    """Whether the data subject may object to this purpose (Art. 21)."""

    allowed: bool = Field(True, description="An objection can be made.")
    reason_if_not: str | None = Field(
        None, description="Why objection is not available (shown in the notice)."
    )
    how: str | None = Field(None, description="How to object, in the subject's words.")


class ConsentSettings(PolicyModel):
    """How consent for a consent-based purpose is obtained and withdrawn."""

    mechanism: str = Field(
        "opt_in",
        description="How consent is collected: opt_in, single_opt_in, double_opt_in, banner.",
    )
    withdrawal_channels: list[str] = Field(
        default_factory=list,
        description=(
            "Where consent can be withdrawn (Art. 7(3)): 'same_as_given', 'unsubscribe_link', "
            "'banner', 'privacy_center', 'email:ADDRESS', 'api'."
        ),
    )
    expires_after: Duration | None = Field(
        None, description="Consent lapses after this period unless renewed."
    )
    explicit: bool = Field(False, description="Explicit consent (Art. 9(2)(a), Art. 49(1)(a)).")


class AutomatedDecision(PolicyModel):
    """Automated decision-making including profiling (Art. 22)."""

    exists: bool = Field(False, description="Decisions with legal or similar effect are automated.")
    profiling: bool = Field(False, description="Personal aspects are evaluated (profiling).")
    logic: str | None = Field(None, description="Meaningful information about the logic involved.")
    significance: str | None = Field(
        None, description="Significance and envisaged consequences for the data subject."
    )


class Purpose(PolicyModel):
    """Why data is processed, and on which legal basis (Art. 5(1)(b), 6, 13(1)(c))."""

    id: Identifier = Field(description="Stable id used by references and consent records.")
    name: str = Field(description="Name shown in the notice and banner.")
    description: str | None = Field(None, description="What the purpose covers.")
    legal_bases: list[LegalBasis] = Field(
        default_factory=list, description="Art. 6(1) bases; several where the notice gives several."
    )
    legitimate_interest: str | None = Field(
        None, description="The interest pursued, required for legitimate_interest (Art. 13(1)(d))."
    )
    special_category_condition: SpecialCategoryCondition | None = Field(
        None, description="Art. 9(2) condition when special categories are processed."
    )
    requirement: Requirement | None = Field(
        None, description="Whether provision is statutory or contractual (Art. 13(2)(e))."
    )
    objection: ObjectionSettings = Field(
        default_factory=ObjectionSettings, description="Whether and how the subject may object."
    )
    direct_marketing: bool = Field(
        False, description="Direct marketing: objection always stops it (Art. 21(3))."
    )
    consent: ConsentSettings | None = Field(
        None, description="How consent is given and withdrawn, for consent-based purposes."
    )
    automated_decision: AutomatedDecision = Field(
        default_factory=AutomatedDecision, description="Automated decisions and profiling."
    )


class Source(PolicyModel):
    """Where data of an activity comes from."""

    kind: SourceKind = Field(description="data_subject, observed, third_party, publicly_available.")
    description: str | None = Field(None, description="Which source, in words.")


class ProcessingActivity(PolicyModel):
    """One line of the record of processing (Art. 30(1)): purposes, categories,
    subjects, sources, systems, recipients and retention tied together."""

    id: Identifier = Field(description="Stable id used by references.")
    name: str = Field(description="Name shown in the notice and the record of processing.")
    description: str | None = Field(None, description="What happens in this activity.")
    purposes: list[Reference] = Field(description="Purpose ids served by this activity.")
    data_categories: list[Reference] = Field(description="Data category ids processed.")
    data_subjects: list[Reference] = Field(description="Data subject ids concerned.")
    sources: list[Source] = Field(
        default_factory=lambda: [Source(kind=SourceKind.DATA_SUBJECT)],
        description="Where the data comes from (Art. 14(2)(f)).",
    )
    systems: list[Reference] = Field(
        default_factory=list, description="System ids where the data is kept."
    )
    recipients: list[Reference] = Field(
        default_factory=list, description="Recipient ids the data is disclosed to."
    )
    retention: list[Reference] = Field(
        default_factory=list, description="Retention rule ids that end this data."
    )
    retention_criteria: str | None = Field(
        None,
        description="Criteria for the retention period where no concrete period exists.",
    )
    portable: bool | None = Field(
        None,
        description=(
            "Data of this activity is offered under the right to portability; default: "
            "yes when a purpose rests on consent or contract."
        ),
    )
