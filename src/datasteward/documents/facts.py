"""The facts a privacy notice and a record of processing state: the view
model the templates receive.

Templates never walk the policy themselves. :func:`~datasteward.documents.
derive.derive_facts` turns a :class:`Policy` into the frozen records below,
which hold only facts: names and texts the controller wrote, enum members,
durations, dates and booleans. No English (or any other) wording is produced
here; every word a reader sees lives in the template set of a language. Adding
a language is therefore adding a template directory, and these records are
what its templates can use. The notice and the record of processing read the
same records, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from datasteward.legaltime.duration import IsoDuration
from datasteward.policy.model import (
    AnchorEvent,
    ClockStart,
    Controller,
    Declarations,
    Erasure17_3Ground,
    FeePolicy,
    LegalBasis,
    RecipientRole,
    RequirementKind,
    RetentionAction,
    RightKind,
    SafeguardKind,
    SourceKind,
    SpecialCategoryCondition,
)

__all__ = [
    "ActivityFact",
    "AutomatedFact",
    "BasisFact",
    "CategoryFact",
    "ChannelFact",
    "ChildrenFact",
    "ConsentFact",
    "CookieFact",
    "DocumentFacts",
    "HoldFact",
    "ObjectionFact",
    "PurposeFact",
    "RecipientFact",
    "RecipientGroup",
    "RetentionFact",
    "RightsFact",
    "SourceFact",
    "SubjectFact",
    "TransferFact",
]

# -- records ------------------------------------------------------------------


@dataclass(frozen=True)
class BasisFact:
    """One Art. 6(1) legal basis and its letter (``a``-``f``)."""

    basis: LegalBasis
    letter: str


@dataclass(frozen=True)
class ChannelFact:
    """A way to reach the controller: ``kind`` (email, web, post, phone or
    anything the policy wrote) and where (an address and/or a web address)."""

    kind: str
    address: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class ConsentFact:
    """How consent for one purpose is given and withdrawn (Art. 7(3), 13(2)(c)).

    A withdrawal channel's ``kind`` is the policy's keyword (``same_as_given``,
    ``unsubscribe_link``, ``banner``, ``privacy_center``, ``email``, ``api``);
    ``email:ADDRESS`` becomes kind ``email`` with the address."""

    purpose: str
    mechanism: str | None
    explicit: bool
    expires_after: IsoDuration | None
    withdrawal: tuple[ChannelFact, ...]


@dataclass(frozen=True)
class ObjectionFact:
    """Whether one purpose can be objected to (Art. 21), and how or why not."""

    purpose: str
    allowed: bool
    reason_if_not: str | None
    how: str | None


@dataclass(frozen=True)
class AutomatedFact:
    """Automated decision-making or profiling declared for one purpose (Art. 22)."""

    purpose: str
    decision: bool
    profiling: bool
    logic: str | None
    significance: str | None


@dataclass(frozen=True)
class PurposeFact:
    """A purpose with its legal bases and what it uses (Art. 13(1)(c)-(d), 13(2)(e)).

    ``requirement`` is what the policy declares; a purpose resting only on
    consent is voluntary by definition and gets ``VOLUNTARY`` when the policy
    is silent. ``None`` means the policy does not say."""

    id: str
    name: str
    description: str | None
    bases: tuple[BasisFact, ...]
    legitimate_interest: str | None
    special_condition: SpecialCategoryCondition | None
    special_condition_letter: str | None
    activities: tuple[str, ...]
    categories: tuple[str, ...]
    requirement: RequirementKind | None
    consequence: str | None
    direct_marketing: bool


@dataclass(frozen=True)
class SubjectFact:
    """A kind of data subject."""

    name: str
    description: str | None


@dataclass(frozen=True)
class CategoryFact:
    """A category of personal data, whose it is and where it is used (Art. 14(1)(d))."""

    id: str
    name: str
    description: str | None
    special: bool
    criminal: bool
    subjects: tuple[str, ...]
    activities: tuple[str, ...]


@dataclass(frozen=True)
class SourceFact:
    """Where data comes from (Art. 14(2)(f)) and for which activities."""

    kind: SourceKind
    description: str | None
    activities: tuple[str, ...]


@dataclass(frozen=True)
class RecipientFact:
    """A recipient or category of recipients (Art. 13(1)(e)).

    ``role`` is ``None`` only for an id the policy uses but never declares."""

    id: str
    name: str
    role: RecipientRole | None
    is_category: bool
    country: str | None
    third_country: bool
    privacy_policy_url: str | None
    activities: tuple[str, ...]


@dataclass(frozen=True)
class RecipientGroup:
    """Recipients sharing a role, in a fixed order of roles."""

    role: RecipientRole | None
    recipients: tuple[RecipientFact, ...]


@dataclass(frozen=True)
class TransferFact:
    """Data leaving the EEA (Art. 13(1)(f), 30(1)(e)).

    ``system`` names the system when the transfer is its hosting location;
    ``safeguard`` is ``None`` when the policy declares none."""

    recipient: str
    system: str | None
    country: str
    safeguard: SafeguardKind | None
    safeguard_reference: str | None
    copy_available_at: str | None
    activities: tuple[str, ...]


@dataclass(frozen=True)
class HoldFact:
    """A law that keeps data despite erasure, and for how long (Art. 17(3))."""

    id: str
    law: str
    reference: str | None
    ground: Erasure17_3Ground
    period: IsoDuration
    anchor: AnchorEvent
    anchor_name: str | None
    categories: tuple[str, ...]


@dataclass(frozen=True)
class RetentionFact:
    """One retention rule as the reader needs it: which data, how long from
    which event and what then happens; or the criteria where there is no
    period. ``immediate`` is true for a zero period."""

    categories: tuple[str, ...]
    period: IsoDuration | None
    immediate: bool
    anchor: AnchorEvent
    anchor_name: str | None
    criteria: str | None
    action: RetentionAction
    description: str | None


@dataclass(frozen=True)
class ActivityFact:
    """One processing activity with everything a record of processing states."""

    id: str
    name: str
    description: str | None
    purposes: tuple[PurposeFact, ...]
    subjects: tuple[str, ...]
    categories: tuple[CategoryFact, ...]
    sources: tuple[SourceFact, ...]
    systems: tuple[str, ...]
    recipients: tuple[RecipientFact, ...]
    joint_controllers: tuple[RecipientFact, ...]
    transfers: tuple[TransferFact, ...]
    retention: tuple[RetentionFact, ...]
    retention_criteria: str | None
    holds: tuple[HoldFact, ...]
    portable: bool


@dataclass(frozen=True)
class RightsFact:
    """The rights offered and how requests are handled (Art. 12, 13(2)(b)).

    ``channels`` are the policy's request channels or, when it lists none,
    the controller's contact email and phone."""

    offered: tuple[RightKind, ...]
    channels: tuple[ChannelFact, ...]
    response_period: IsoDuration
    extension: IsoDuration
    clock_starts: ClockStart
    fee_policy: FeePolicy
    may_refuse: bool
    portable_activities: tuple[str, ...]


@dataclass(frozen=True)
class CookieFact:
    """A cookie or similar technology; ``provider`` ``None`` means first party;
    ``duration`` ``None`` with ``session`` false means the policy does not say."""

    name: str
    provider: str | None
    purpose: str
    duration: IsoDuration | None
    session: bool
    strictly_necessary: bool
    description: str | None


@dataclass(frozen=True)
class ChildrenFact:
    """What the policy declares about children among one kind of data subject."""

    subject: str
    minimum_age: int | None
    may_include_children: bool
    on_discovery: str | None


@dataclass(frozen=True)
class DocumentFacts:
    """Everything the notice and the record of processing state.

    ``unlocated`` names the recipients (authorities and successors aside) whose
    country the policy does not state."""

    version: str
    effective_date: date
    controller: Controller
    name: str
    declarations: Declarations
    subjects: tuple[SubjectFact, ...]
    categories: tuple[CategoryFact, ...]
    purposes: tuple[PurposeFact, ...]
    activities: tuple[ActivityFact, ...]
    sources: tuple[SourceFact, ...]
    recipient_groups: tuple[RecipientGroup, ...]
    transfers: tuple[TransferFact, ...]
    holds: tuple[HoldFact, ...]
    rights: RightsFact
    consents: tuple[ConsentFact, ...]
    objections: tuple[ObjectionFact, ...]
    direct_marketing: tuple[ObjectionFact, ...]
    requirements: tuple[PurposeFact, ...]
    automated: tuple[AutomatedFact, ...]
    cookies: tuple[CookieFact, ...]
    security: tuple[str, ...]
    children: tuple[ChildrenFact, ...]

    unlocated: tuple[str, ...]

    @property
    def stays_in_eea(self) -> bool:
        """The notice may say that no data leaves the EEA: nothing is located in
        a third country, and every recipient's location is known (or the
        controller declares there are no transfers and nothing contradicts it)."""
        if self.transfers:
            return False
        return not self.unlocated or self.declarations.no_third_country_transfers
