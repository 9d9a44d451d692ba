"""Where the GDPR applies without a transfer mechanism: the European Economic
Area (the 27 EU member states plus Iceland, Liechtenstein and Norway)."""

from __future__ import annotations

__all__ = ["EEA_COUNTRIES", "is_third_country"]

EEA_COUNTRIES: frozenset[str] = frozenset(
    {
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "IS",
        "LI",
        "NO",
    }
)


def is_third_country(country: str | None) -> bool:
    """True when data sent to ``country`` leaves the EEA (Chapter V applies)."""
    return country is not None and country.upper() not in EEA_COUNTRIES
