"""Legal time: ISO 8601 durations and calendar arithmetic (Regulation 1182/71)."""

from datasteward.legaltime.duration import IsoDuration, add_months

__all__ = ["IsoDuration", "add_months"]
