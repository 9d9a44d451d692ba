"""The five example policies in ``examples/`` model the five seed privacy
policies. These tests keep them honest: every example loads; what
``steward lint`` reports for it is exactly what its README documents (the
README's lint table is parsed, so the two cannot drift apart); and the
rendered notice still carries the key facts the seed states."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from datasteward.legaltime.duration import IsoDuration
from datasteward.lint import lint_policy
from datasteward.policy import LoadedPolicy, load_policy_file
from datasteward.policy.model import AnchorEvent, LegalBasis, RetentionAction, Suspension

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

LINT_HEADING = "## What `steward lint` reports"
LINT_ROW = re.compile(r"^\|\s*(DS\d{3})\s*\|\s*(error|warning|info)\s*\|", re.MULTILINE)


@dataclass(frozen=True)
class Seed:
    """What an example must keep from its seed policy."""

    seed_file: str
    notice_facts: tuple[str, ...]


SEEDS: dict[str, Seed] = {
    "koroso": Seed(
        "000_c2750ad401667228.txt",
        ('Limited Liability Company "Koroso"', "40003465924", "33-50 Auduma Street"),
    ),
    "korte": Seed(
        "001_52b90ef12e909a06.txt",
        (
            'SIA "Korte.lv"',
            "LV40103251623",
            "Lorens Balodis",
            "lorens@korte.lv",
            "Data State Inspectorate",
            "https://www.dvi.gov.lv/",
            "7 days",
            "1 year",
            "14 months",
            "PayPal (Europe) S.à r.l. & Cie S.C.A.",
            "Klarna Bank AB",
            "Stripe Payments Europe",
            "Latvian Accounting Law",
        ),
    ),
    "koko-lorreti": Seed(
        "002_c6e3fb3418505895.txt",
        (
            "KOKO LORRETI Ltd.",
            "BG203440708",
            "Commission for Personal Data Protection",
            "11 years",
            "1 month",
            "2 months",
        ),
    ),
    "baltic-software-factory": Seed(
        "003_5ae3c2642189c988.txt",
        ("Baltic Software Factory", "Nometnu 18k1-6", "1 July 2023"),
    ),
    "koopseri": Seed(
        "004_ead7af8491c78e79.txt",
        ("Koopseri", "3 months", "Sendparcel", "DHL", "WooCommerce"),
    ),
}

NAMES = sorted(SEEDS)


def _load(name: str) -> LoadedPolicy:
    return load_policy_file(EXAMPLES / name / "policy.yaml")


def _documented(name: str) -> set[tuple[str, str]]:
    """The (code, severity) pairs in the README's lint section."""
    readme = (EXAMPLES / name / "README.md").read_text(encoding="utf-8")
    start = readme.index(LINT_HEADING) + len(LINT_HEADING)
    end = readme.find("\n## ", start)
    section = readme[start:] if end == -1 else readme[start:end]
    return {(code, severity) for code, severity in LINT_ROW.findall(section)}


INVENTED = ["shop"]
"""Examples of invented controllers (the generated test shop), not seeds."""


def test_every_example_directory_is_a_seed_or_an_invented_shop() -> None:
    found = sorted(p.parent.name for p in EXAMPLES.glob("*/policy.yaml"))
    assert found == sorted(NAMES + INVENTED)


def test_the_invented_shop_lints_clean() -> None:
    loaded = load_policy_file(EXAMPLES / "shop" / "policy.yaml")
    assert lint_policy(loaded) == []


@pytest.mark.parametrize("name", NAMES)
def test_example_loads(name: str) -> None:
    loaded = _load(name)
    assert loaded.policy.datasteward == 1
    assert loaded.policy.processing_activities


@pytest.mark.parametrize("name", NAMES)
def test_readme_names_its_seed(name: str) -> None:
    readme = (EXAMPLES / name / "README.md").read_text(encoding="utf-8")
    assert SEEDS[name].seed_file in readme
    assert LINT_HEADING in readme


@pytest.mark.parametrize("name", NAMES)
def test_lint_findings_match_readme(name: str) -> None:
    documented = _documented(name)
    assert documented, f"examples/{name}/README.md documents no lint finding"
    findings = lint_policy(_load(name))
    actual = {(f.code, str(f.severity.value)) for f in findings}
    assert actual == documented, (
        f"examples/{name}: reported but not documented {sorted(actual - documented)}, "
        f"documented but not reported {sorted(documented - actual)}"
    )


@pytest.mark.parametrize("name", NAMES)
def test_lint_findings_point_into_the_file(name: str) -> None:
    loaded = _load(name)
    lines = loaded.text.count("\n") + 1
    for finding in lint_policy(loaded):
        assert finding.line is not None, finding
        assert 1 <= finding.line <= lines, finding


def test_seed_promises_are_modelled() -> None:
    """The periods, bases and promises each seed states, as the policy holds them."""
    korte = _load("korte").policy
    logs = korte.retention_rule("log-files-7d")
    assert (logs.anchor.event, logs.period, logs.action, logs.fields) == (
        AnchorEvent.COLLECTED,
        IsoDuration(days=7),
        RetentionAction.ANONYMISE,
        ["ip_address"],
    )
    assert korte.retention_rule("newsletter-tracking-1y").period == IsoDuration(years=1)
    assert korte.retention_rule("contact-metadata-1y").period == IsoDuration(years=1)
    resolved = korte.retention_rule("contact-messages-resolved")
    assert resolved.anchor.event is AnchorEvent.COMMUNICATION_RESOLVED
    subscription = korte.retention_rule("newsletter-subscription")
    assert subscription.anchor.event is AnchorEvent.SUBSCRIPTION_ENDED
    assert korte.purpose("google_analytics").legal_bases == [LegalBasis.LEGITIMATE_INTEREST]
    assert korte.purpose("analytics_cookies").legal_bases == [LegalBasis.CONSENT]
    assert korte.purpose("log_files").objection.allowed is False
    declarations = korte.controller.declarations
    assert declarations.no_third_country_transfers and declarations.no_automated_decisions

    koko = _load("koko-lorreti").policy
    consumer = koko.retention_rule("consumer-data-11y")
    assert (consumer.anchor.event, consumer.period) == (
        AnchorEvent.CONTRACT_ENDED,
        IsoDuration(years=11),
    )
    assert set(consumer.suspended_by) == {
        Suspension.OUTSTANDING_OBLIGATIONS,
        Suspension.PENDING_PROCEEDINGS,
        Suspension.RESTRICTION,
    }
    assert koko.legal_hold("bg-accounting-and-tax").period == IsoDuration(years=11)
    assert (koko.rights.response_period, koko.rights.extension) == (
        IsoDuration(months=1),
        IsoDuration(months=2),
    )
    assert koko.controller.contact_email is None

    koopseri = _load("koopseri").policy
    closed = koopseri.retention_rule("account-closed-3m")
    assert (closed.anchor.event, closed.period) == (
        AnchorEvent.ACCOUNT_CLOSED,
        IsoDuration(months=3),
    )
    assert koopseri.subject_kind("seller").minimum_age == 18

    koroso = _load("koroso").policy
    assert not koroso.retention_rules
    assert koroso.controller.supervisory_authority is None


def test_seed_contradictions_are_reported() -> None:
    """The genuine problems each seed is known for stay visible."""
    codes = {name: {f.code for f in lint_policy(_load(name))} for name in NAMES}
    # Koroso: blank withdrawal channel, no retention, no contact, no authority.
    assert {"DS203", "DS401", "DS102", "DS103"} <= codes["koroso"]
    # Korte: "no transfers" beside Google in the USA, no safeguard, GA cookies on (f).
    assert {"DS303", "DS301", "DS501"} <= codes["korte"]
    # KOKO LORRETI: the contact email is blank.
    assert "DS102" in codes["koko-lorreti"]


@pytest.mark.parametrize("name", NAMES)
def test_notice_states_the_seed_facts(name: str) -> None:
    documents = pytest.importorskip("datasteward.documents")
    render_notice = documents.render_notice
    loaded = _load(name)
    notice = render_notice(loaded.policy)
    assert isinstance(notice, str)
    missing = [
        fact
        for fact in (loaded.policy.controller.legal_name, *SEEDS[name].notice_facts)
        if fact not in notice
    ]
    assert not missing, f"notice of examples/{name} lacks {missing}"
