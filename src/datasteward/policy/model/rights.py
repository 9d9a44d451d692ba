"""How data subject rights are handled: deadlines, verification, fees and the
channels through which requests arrive (Art. 12, 15-22)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from datasteward.policy.model.base import Duration, PolicyModel

__all__ = ["ClockStart", "FeePolicy", "RequestChannel", "RightKind", "Rights"]


class RightKind(StrEnum):
    """The rights a controller offers and explains in its notice."""

    ACCESS = "access"
    RECTIFICATION = "rectification"
    ERASURE = "erasure"
    RESTRICTION = "restriction"
    PORTABILITY = "portability"
    OBJECTION = "objection"
    WITHDRAW_CONSENT = "withdraw_consent"
    RECIPIENT_LIST = "recipient_list"
    COMPLAINT = "complaint"


class ClockStart(StrEnum):
    """When the response period starts to run."""

    RECEIPT = "receipt"
    VERIFICATION = "verification"


class FeePolicy(StrEnum):
    """Art. 12(5): requests are free; a fee only for unfounded or excessive ones."""

    FREE = "free"
    FEE_IF_MANIFESTLY_UNFOUNDED_OR_EXCESSIVE = "fee_if_manifestly_unfounded_or_excessive"


class RequestChannel(PolicyModel):
    """A way to submit a request."""

    kind: str = Field(description="email, web, post or phone.")
    address: str | None = Field(None, description="Email or postal address, or phone number.")
    url: str | None = Field(None, description="Web address of a form or privacy center.")


class Rights(PolicyModel):
    """Rights handling rules; defaults are the GDPR's."""

    offered: list[RightKind] = Field(
        default_factory=lambda: [
            RightKind.ACCESS,
            RightKind.RECTIFICATION,
            RightKind.ERASURE,
            RightKind.RESTRICTION,
            RightKind.PORTABILITY,
            RightKind.OBJECTION,
            RightKind.WITHDRAW_CONSENT,
            RightKind.RECIPIENT_LIST,
            RightKind.COMPLAINT,
        ],
        description="Rights explained in the notice and accepted as requests.",
    )
    response_period: Duration = Field(
        "P1M", validate_default=True, description="Time to answer (Art. 12(3): one month)."
    )
    extension: Duration = Field(
        "P2M", validate_default=True, description="Further time for complex requests."
    )
    clock_starts: ClockStart = Field(
        ClockStart.RECEIPT, description="receipt (GDPR) or verification."
    )
    verification: dict[RightKind, str] = Field(
        default_factory=dict,
        description="Identity verification method per right, e.g. {erasure: email_code}.",
    )
    default_verification: str = Field(
        "email_code", description="Verification method for rights not listed above."
    )
    fee_policy: FeePolicy = Field(
        FeePolicy.FEE_IF_MANIFESTLY_UNFOUNDED_OR_EXCESSIVE,
        description="free, or fee_if_manifestly_unfounded_or_excessive (Art. 12(5)).",
    )
    may_refuse_unfounded_or_excessive: bool = Field(
        True, description="Manifestly unfounded or excessive requests may be refused."
    )
    repeat_window: Duration | None = Field(
        None, description="Same-type requests within this window are flagged as possibly excessive."
    )
    channels: list[RequestChannel] = Field(
        default_factory=list, description="How requests can be submitted."
    )
