"""Art. 19 recipient selection on the example policies: which recipients
received which categories, the channel each is told through, and a manual
message (never silence) where no channel is declared."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from datasteward.errors import InvalidInput
from datasteward.notify.art19 import recipients_of, recipients_to_notify
from datasteward.notify.messages import Channel, MessageKind
from datasteward.notify.render import render
from datasteward.policy import load_policy_file, parse_policy
from datasteward.policy.model import Policy

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "examples" / "shop" / "policy.yaml"
KORTE = ROOT / "examples" / "korte" / "policy.yaml"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
PERSON = {"email": "inese.berzina@example.lv"}


@pytest.fixture(scope="module")
def shop() -> Policy:
    return load_policy_file(SHOP).policy


@pytest.fixture(scope="module")
def korte() -> Policy:
    return load_policy_file(KORTE).policy


HOSTING = (
    "    address: Servera iela 2, Rīga, LV-1026\n    country: LV\n    written_agreement: true\n"
)


def shop_with_channels() -> Policy:
    """The shop with a notification channel of every sort (and broken ones)."""
    text = SHOP.read_text(encoding="utf-8")
    edits = {
        HOSTING: HOSTING + "    notify: {kind: webhook, url_env: HOSTING_WEBHOOK_URL}\n",
        '    name: SIA "Ziņnesis" (newsletter delivery)\n    role: processor\n': (
            '    name: SIA "Ziņnesis" (newsletter delivery)\n    role: processor\n'
            "    notify: {kind: email, email: privacy@zinnesis.example}\n"
        ),
        '    name: SIA "Bilance un Partneri" (outsourced bookkeeping)\n    role: processor\n': (
            '    name: SIA "Bilance un Partneri" (outsourced bookkeeping)\n    role: processor\n'
            "    notify: {kind: manual, instructions: Call the bookkeeper on duty.}\n"
        ),
        "    name: PayPal (Europe) S.à r.l. et Cie, S.C.A.\n    role: controller\n": (
            "    name: PayPal (Europe) S.à r.l. et Cie, S.C.A.\n    role: controller\n"
            "    notify: {kind: webhook}\n"
        ),
        "    name: Klarna Bank AB (publ)\n    role: controller\n": (
            "    name: Klarna Bank AB (publ)\n    role: controller\n    notify: {kind: fax}\n"
        ),
    }
    for old, new in edits.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return parse_policy(text, "shop-with-channels.yaml").policy


def test_shop_recipients_of_an_email_address(shop: Policy) -> None:
    received = recipients_of(shop, categories=["email"])
    assert list(received) == [
        "hosting",
        "newsletter_service",
        "couriers",
        "paypal",
        "klarna",
        "stripe",
        "state_revenue_service",
    ]
    assert "accountants" not in received  # bookkeeping holds no email addresses
    assert set(received.values()) == {("email",)}


def test_shop_narrowed_to_the_kind_of_person(shop: Policy) -> None:
    customer = recipients_of(shop, categories=["email"], subject_kinds=["customer"])
    assert list(customer) == ["hosting", "couriers", "paypal", "klarna", "stripe"]
    seller = recipients_of(shop, categories=["email"], subject_kinds=["seller"])
    assert list(seller) == ["hosting", "state_revenue_service"]


def test_shop_all_categories_of_the_subject(shop: Policy) -> None:
    received = recipients_of(shop, categories=None)
    assert list(received) == [r.id for r in shop.recipients]
    bookkeeping = {"name", "purchase", "payment", "bank_account", "national_id"}
    in_policy_order = tuple(c.id for c in shop.data_categories if c.id in bookkeeping)
    assert received["accountants"] == in_policy_order
    national = recipients_of(shop, categories=["national_id", "bank_account"])
    assert national["accountants"] == tuple(
        c for c in in_policy_order if c in {"national_id", "bank_account"}
    )
    assert list(national) == [
        "hosting",
        "accountants",
        "couriers",
        "paypal",
        "klarna",
        "stripe",
        "state_revenue_service",
    ]


def test_categories_nobody_received_notify_nobody(shop: Policy) -> None:
    assert recipients_to_notify(shop, categories=[], action="erasure") == []


def test_korte_seed(korte: Policy) -> None:
    received = recipients_of(korte, categories=["email"])
    assert list(received) == [
        "paypal",
        "klarna",
        "stripe",
        "email_service_providers",
        "delivery_services",
        "manufacturing_companies",
    ]
    ip = recipients_of(korte, categories=["ip_address"], subject_kinds=["visitor"])
    assert list(ip) == ["google_analytics", "google_ads", "youtube", "social_media_platforms"]
    notices = recipients_to_notify(
        korte, categories=["email"], action="rectification", identities=PERSON, request_id="r-7"
    )
    assert all(n.message.channel is Channel.MANUAL and not n.channel_declared for n in notices)
    for notice in notices:
        text = render(notice.message, message_id="m", created_at=NOW).text
        assert "no notification channel is declared" in text
        assert notice.recipient_name in text
        assert "rectified" in text and "Art. 16 GDPR" in text
        assert "inese.berzina@example.lv" in text


def test_each_declared_channel_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTING_WEBHOOK_URL", "https://hosting.example/hooks/art19")
    policy = shop_with_channels()
    notices = {
        n.recipient_id: n
        for n in recipients_to_notify(
            policy, categories=None, action="erasure", identities=PERSON, request_id="r-1"
        )
    }
    hosting = notices["hosting"]
    assert hosting.message.channel is Channel.WEBHOOK
    assert hosting.message.to == "HOSTING_WEBHOOK_URL"  # resolved when sent, not now
    assert hosting.channel_declared
    assert hosting.message.kind is MessageKind.RECIPIENT_NOTICE
    context = hosting.message.context
    assert context["action"] == "erasure"
    assert context["identities"] == PERSON
    assert context["request_id"] == "r-1"
    assert [c["id"] for c in context["categories"]] == list(hosting.categories)

    mail = notices["newsletter_service"]
    assert (mail.message.channel, mail.message.to) == (Channel.EMAIL, "privacy@zinnesis.example")
    rendered = render(mail.message, message_id="m", created_at=NOW)
    assert rendered.text.startswith('To SIA "Ziņnesis"')
    assert "Email address: inese.berzina@example.lv" in rendered.text

    manual = notices["accountants"]
    assert manual.message.channel is Channel.MANUAL and manual.channel_declared
    text = render(manual.message, message_id="m", created_at=NOW).text
    assert "Call the bookkeeper on duty." in text and "steward outbox confirm" in text

    broken = {"paypal": "names no url_env", "klarna": "unknown notification channel kind 'fax'"}
    for recipient_id, problem in broken.items():
        notice = notices[recipient_id]
        assert notice.message.channel is Channel.MANUAL
        assert not notice.channel_declared
        rendered = render(notice.message, message_id="m", created_at=NOW)
        assert problem in rendered.text
        assert rendered.subject.startswith("Action needed:")

    undeclared = notices["couriers"]
    assert undeclared.message.channel is Channel.MANUAL and not undeclared.channel_declared


def test_restriction_wording(shop: Policy) -> None:
    (notice, *_) = recipients_to_notify(shop, categories=["email"], action="restriction")
    text = render(notice.message, message_id="m", created_at=NOW).text
    assert "restricted the processing of personal data" in text
    assert "Art. 18 GDPR" in text
    assert "The person:" not in text  # no identities given, none shown


def test_bad_input_is_refused_precisely(shop: Policy) -> None:
    with pytest.raises(InvalidInput, match="not 'access'"):
        recipients_to_notify(shop, categories=None, action="access")
    with pytest.raises(InvalidInput, match="unknown data category 'emial' \\(did you mean 'email'"):
        recipients_to_notify(shop, categories=["emial"], action="erasure")
    with pytest.raises(InvalidInput, match="unknown data subject 'customers'"):
        recipients_of(shop, categories=None, subject_kinds=["customers"])
