"""Who receives personal data and how it may leave the EEA (Art. 13(1)(e)-(f),
Art. 28, Art. 44-49), and the cookies and similar technologies that collect it
(ePrivacy Directive Art. 5(3))."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from datasteward.policy.model.base import (
    CountryCode,
    Duration,
    Identifier,
    OptionalEmail,
    PolicyModel,
    Reference,
)

__all__ = [
    "Cookie",
    "NotificationChannel",
    "Recipient",
    "RecipientRole",
    "Safeguard",
    "SafeguardKind",
]


class RecipientRole(StrEnum):
    """The recipient's role towards the data."""

    PROCESSOR = "processor"
    CONTROLLER = "controller"
    JOINT_CONTROLLER = "joint_controller"
    PUBLIC_AUTHORITY = "public_authority"
    SUCCESSOR = "successor"


class SafeguardKind(StrEnum):
    """Chapter V mechanism for a transfer to a third country."""

    ADEQUACY_DECISION = "adequacy_decision"
    STANDARD_CONTRACTUAL_CLAUSES = "standard_contractual_clauses"
    BINDING_CORPORATE_RULES = "binding_corporate_rules"
    DEROGATION_ART_49 = "derogation_art_49"

    @property
    def article(self) -> str:
        return {
            "adequacy_decision": "Art. 45 GDPR",
            "standard_contractual_clauses": "Art. 46(2)(c) GDPR",
            "binding_corporate_rules": "Art. 47 GDPR",
            "derogation_art_49": "Art. 49 GDPR",
        }[self.value]


class Safeguard(PolicyModel):
    """How a third-country transfer is made lawful."""

    kind: SafeguardKind = Field(description="adequacy_decision, standard_contractual_clauses, ...")
    reference: str | None = Field(
        None, description="Which decision or clauses, e.g. 'EU-US Data Privacy Framework'."
    )
    copy_available_at: str | None = Field(
        None, description="Where a copy of the safeguard can be obtained (Art. 13(1)(f))."
    )


class NotificationChannel(PolicyModel):
    """How a recipient is told of rectification, erasure or restriction (Art. 19)."""

    kind: str = Field(description="webhook, email or manual.")
    url_env: str | None = Field(
        None, description="Name of the environment variable holding the webhook URL."
    )
    email: OptionalEmail = Field(None, description="Address for email notifications.")
    instructions: str | None = Field(None, description="What staff do, for manual notification.")


class Recipient(PolicyModel):
    """A processor, independent or joint controller, authority or successor."""

    id: Identifier = Field(description="Stable id used by references.")
    name: str = Field(description="Name, or a category of recipients ('courier services').")
    role: RecipientRole = Field(description="processor, controller, joint_controller, ...")
    is_category: bool = Field(
        False, description="The entry names a category of recipients, not one organisation."
    )
    address: str | None = Field(None, description="Postal address.")
    country: CountryCode | None = Field(None, description="Country where the data is processed.")
    written_agreement: bool | None = Field(
        None, description="A written processing agreement exists (Art. 28(3))."
    )
    safeguard: Safeguard | None = Field(
        None, description="Transfer mechanism when the country is outside the EEA."
    )
    privacy_policy_url: str | None = Field(None, description="The recipient's own privacy policy.")
    notify: NotificationChannel | None = Field(
        None, description="Channel for Art. 19 notifications."
    )


class Cookie(PolicyModel):
    """A cookie or similar technology (pixel, local storage entry)."""

    name: str = Field(description="Cookie or technology name, e.g. '_ga'.")
    provider: str = Field(
        description="'first_party' or the id of the recipient that sets or reads it."
    )
    purpose: Reference = Field(description="Purpose id the cookie serves.")
    duration: Duration | None = Field(
        None, description="Lifetime as ISO 8601 (e.g. P13M); omit only with session: true."
    )
    session: bool = Field(
        False, description="Deleted when the browser closes (then no duration is given)."
    )
    strictly_necessary: bool = Field(
        False, description="Strictly necessary for a service the user asked for (no consent)."
    )
    description: str | None = Field(None, description="What the cookie stores.")
