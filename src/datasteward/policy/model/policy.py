"""The root of a policy file: every section the engine derives its behaviour from."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field, field_validator

from datasteward.policy.model.base import Identifier, PolicyModel
from datasteward.policy.model.controller import Controller
from datasteward.policy.model.processing import (
    DataCategory,
    DataSubject,
    ProcessingActivity,
    Purpose,
)
from datasteward.policy.model.recipients import Cookie, Recipient
from datasteward.policy.model.retention import LegalHold, RetentionRule
from datasteward.policy.model.rights import Rights
from datasteward.policy.model.systems import System

__all__ = ["FORMAT_VERSION", "Policy", "SecurityMeasure"]

FORMAT_VERSION = 1


class SecurityMeasure(PolicyModel):
    """A technical or organisational measure (Art. 32, Art. 30(1)(g))."""

    id: Identifier = Field(
        description="Stable id, e.g. encryption_at_rest, access_control, security_audits."
    )
    description: str = Field(description="The measure in words.")


class Policy(PolicyModel):
    """A controller's processing, declared once."""

    datasteward: int = Field(FORMAT_VERSION, description="Policy file format version (1).")
    version: str = Field(description="The controller's version label for this policy.")
    effective_date: date = Field(description="Date from which this version applies.")
    controller: Controller = Field(description="Who is responsible, and how to reach them.")
    data_subjects: list[DataSubject] = Field(description="Kinds of people concerned.")
    data_categories: list[DataCategory] = Field(description="Categories of personal data.")
    purposes: list[Purpose] = Field(description="Purposes and legal bases.")
    processing_activities: list[ProcessingActivity] = Field(
        description="Activities tying purposes, data, people, systems and recipients."
    )
    recipients: list[Recipient] = Field(
        default_factory=list, description="Processors, controllers, authorities, successors."
    )
    cookies: list[Cookie] = Field(
        default_factory=list, description="Cookies and similar technologies."
    )
    retention_rules: list[RetentionRule] = Field(
        default_factory=list, description="When data ends."
    )
    legal_holds: list[LegalHold] = Field(
        default_factory=list, description="Laws that keep data despite erasure."
    )
    rights: Rights = Field(default_factory=Rights, description="How requests are handled.")
    systems: list[System] = Field(default_factory=list, description="Where the data lives.")
    security: list[SecurityMeasure] = Field(
        default_factory=list, description="Technical and organisational measures."
    )

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        """A bare ``version: 2025-04-22`` is read by YAML as a date; keep it as text."""
        if isinstance(value, date):
            return value.isoformat()
        return value

    @field_validator("datasteward")
    @classmethod
    def _known_format(cls, value: int) -> int:
        if value != FORMAT_VERSION:
            raise ValueError(f"unsupported policy format {value}; this engine reads format 1")
        return value

    # -- lookups used by the linter, renderers and services -----------------

    def purpose(self, purpose_id: str) -> Purpose:
        return next(p for p in self.purposes if p.id == purpose_id)

    def category(self, category_id: str) -> DataCategory:
        return next(c for c in self.data_categories if c.id == category_id)

    def recipient(self, recipient_id: str) -> Recipient | None:
        return next((r for r in self.recipients if r.id == recipient_id), None)

    def subject_kind(self, subject_id: str) -> DataSubject:
        return next(s for s in self.data_subjects if s.id == subject_id)

    def system(self, system_id: str) -> System | None:
        return next((s for s in self.systems if s.id == system_id), None)

    def retention_rule(self, rule_id: str) -> RetentionRule:
        return next(r for r in self.retention_rules if r.id == rule_id)

    def legal_hold(self, hold_id: str) -> LegalHold:
        return next(h for h in self.legal_holds if h.id == hold_id)

    @property
    def display_name(self) -> str:
        """How the notice names the controller."""
        return self.controller.short_name or self.controller.legal_name
