"""Consent: the ledger's events and the decisions made from them."""

from datasteward.consent.decisions import Decision, decide
from datasteward.consent.model import (
    Channel,
    ConsentKind,
    ConsentRecord,
    Objection,
    ObjectionScope,
    ObjectionStatus,
    PurposeRule,
    Restriction,
    SubjectFacts,
)

__all__ = [
    "Channel",
    "ConsentKind",
    "ConsentRecord",
    "Decision",
    "Objection",
    "ObjectionScope",
    "ObjectionStatus",
    "PurposeRule",
    "Restriction",
    "SubjectFacts",
    "decide",
]
