"""Message builders and their rendering: every kind has its templates, the
words carry the legal content each notice must have, HTML escapes what it is
given, and subjects stay one line."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from datasteward.errors import InvalidInput
from datasteward.notify import messages
from datasteward.notify.messages import Channel, Message, MessageKind, message_languages
from datasteward.notify.render import render, webhook_body
from datasteward.policy import load_policy_file
from datasteward.policy.model import Policy

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TO = "marta.kalnina@example.lv"


@pytest.fixture(scope="module")
def shop() -> Policy:
    return load_policy_file(ROOT / "examples" / "shop" / "policy.yaml").policy


@pytest.fixture(scope="module")
def korte() -> Policy:
    return load_policy_file(ROOT / "examples" / "korte" / "policy.yaml").policy


def without_authority(policy: Policy) -> Policy:
    controller = policy.controller.model_copy(update={"supervisory_authority": None})
    return policy.model_copy(update={"controller": controller})


def every_kind(policy: Policy) -> dict[MessageKind, Message]:
    from datasteward.notify.art19 import recipients_to_notify

    common: dict[str, Any] = {"to": TO, "request_id": "r-1"}
    return {
        MessageKind.ACKNOWLEDGMENT: messages.acknowledgment(
            policy, **common, request_type="access", due_date=date(2026, 4, 2)
        ),
        MessageKind.VERIFICATION_CODE: messages.verification_code(
            policy, **common, code="418 062", expires_at=NOW
        ),
        MessageKind.MORE_INFORMATION: messages.more_information(
            policy, **common, question="Your order number"
        ),
        MessageKind.EXTENSION: messages.extension(
            policy,
            **common,
            reasons="Eleven systems hold your data.",
            new_due_date=date(2026, 6, 2),
        ),
        MessageKind.REFUSAL: messages.refusal(
            policy, **common, ground="excessive", reasons="The fifth copy this month."
        ),
        MessageKind.FEE: messages.fee(
            policy, **common, amount="12.50", currency="eur", reason="A further copy."
        ),
        MessageKind.COMPLETION: messages.completion(
            policy,
            **common,
            request_type="access",
            download_url="https://privacy.example/p/1?token=abc",
            expires_at=NOW,
        ),
        MessageKind.RESTRICTION_LIFT: messages.restriction_lift(
            policy, **common, lift_on=date(2026, 3, 20), reason="The address was verified."
        ),
        MessageKind.OBJECTION_DECISION: messages.objection_decision(
            policy, **common, upheld=True, purposes=[policy.purposes[0].id]
        ),
        MessageKind.RECIPIENT_LIST: messages.recipient_list(
            policy, to=TO, recipients=policy.recipients[:2]
        ),
        MessageKind.RECIPIENT_NOTICE: recipients_to_notify(
            policy, categories=None, action="erasure", identities={"email": TO}
        )[0].message,
    }


def test_every_kind_has_a_builder_and_renders(shop: Policy) -> None:
    built = every_kind(shop)
    assert set(built) == set(MessageKind)
    for kind, message in built.items():
        assert message.kind is kind
        rendered = render(message, message_id="m-1", created_at=NOW)
        assert rendered.subject and "\n" not in rendered.subject
        assert rendered.text.startswith(("Hello,", "To "))
        assert "Paraugveikals" in rendered.text
        assert rendered.html.startswith("<!DOCTYPE html>")
        assert f"<title>{rendered.subject}</title>" in rendered.html.replace("&#34;", '"')


def test_every_template_file_belongs_to_a_kind() -> None:
    folder = ROOT / "src" / "datasteward" / "notify" / "templates" / "en"
    names = {p.name for p in folder.iterdir()}
    expected = {f"{k.value}.{ext}.j2" for k in MessageKind for ext in ("txt", "html")}
    assert names - {"_words.j2", "_layout.txt.j2", "_layout.html.j2"} == expected
    assert message_languages() == ("en",)


def test_context_is_json_and_messages_fall_back_to_english(shop: Policy) -> None:
    message = every_kind(shop)[MessageKind.ACKNOWLEDGMENT]
    assert message.language == "en"  # the shop prefers Latvian; no Latvian templates yet
    assert json.loads(json.dumps(message.context)) == message.context
    assert message.context["due_date"] == "2026-04-02"
    assert message.context["controller"]["email"] == "privacy@paraugveikals.example"
    with pytest.raises(InvalidInput, match="not JSON-safe"):
        Message(Channel.EMAIL, MessageKind.FEE, TO, {"when": NOW})
    with pytest.raises(InvalidInput, match="addressee"):
        Message(Channel.EMAIL, MessageKind.FEE, " ", {})


def test_acknowledgment_states_the_due_date(shop: Policy) -> None:
    text = render(every_kind(shop)[MessageKind.ACKNOWLEDGMENT], message_id="m", created_at=NOW)
    assert "2 April 2026" in text.text and "2 April 2026" in text.html
    assert text.subject == "We received your access request"
    assert "Art. 12(3)" in text.text


def test_verification_code_and_its_expiry_in_the_controllers_time(shop: Policy) -> None:
    rendered = render(
        every_kind(shop)[MessageKind.VERIFICATION_CODE], message_id="m", created_at=NOW
    )
    assert "418 062" in rendered.text and "418 062" in rendered.html
    assert "2 March 2026, 11:30 (EET)" in rendered.text  # 09:30 UTC in Riga


@pytest.mark.parametrize("example", ["shop", "korte"])
def test_refusal_names_the_authority_and_the_courts(
    example: str, request: pytest.FixtureRequest
) -> None:
    policy: Policy = request.getfixturevalue(example)
    rendered = render(every_kind(policy)[MessageKind.REFUSAL], message_id="m", created_at=NOW)
    authority = policy.controller.supervisory_authority
    assert authority is not None
    for body in (rendered.text, rendered.html):
        assert "Data State Inspectorate" in body
        assert "Art. 77" in body and "judicial remedy" in body and "Art. 79" in body
    assert authority.name in rendered.text
    assert '<a href="https://www.dvi.gov.lv/">' in rendered.html
    assert "excessive" in rendered.text and "The fifth copy this month." in rendered.text


def test_refusal_without_a_named_authority_still_states_the_rights(shop: Policy) -> None:
    message = messages.refusal(
        without_authority(shop), to=TO, request_id="r", ground="other", reasons="Because."
    )
    text = render(message, message_id="m", created_at=NOW).text
    assert "supervisory authority (Art. 77 GDPR)" in text
    assert "Member State where you live or work" in text
    assert "judicial remedy" in text
    assert "other" in text  # an unknown ground is shown as given


def test_objection_not_upheld_needs_grounds_and_names_the_authority(shop: Policy) -> None:
    with pytest.raises(InvalidInput, match="compelling legitimate grounds"):
        messages.objection_decision(shop, to=TO, request_id="r", upheld=False, purposes=[])
    message = messages.objection_decision(
        shop,
        to=TO,
        request_id="r",
        upheld=False,
        purposes=["site_security", "direct marketing"],
        reasons="Chargeback proceedings are open.",
    )
    text = render(message, message_id="m", created_at=NOW).text
    assert "Chargeback proceedings are open." in text
    assert f"- {shop.purpose('site_security').name}" in text  # a purpose id: its name
    assert "- direct marketing" in text  # not a purpose id: shown as given
    assert "Data State Inspectorate" in text


def test_builders_refuse_notices_missing_what_the_law_requires(shop: Policy) -> None:
    with pytest.raises(InvalidInput, match=r"Art\. 12\(3\)"):
        messages.extension(shop, to=TO, request_id="r", reasons=" ", new_due_date=date.today())
    with pytest.raises(InvalidInput, match=r"Art\. 12\(4\)"):
        messages.refusal(shop, to=TO, request_id="r", ground="excessive", reasons="")
    with pytest.raises(InvalidInput, match="expiry"):
        messages.completion(
            shop, to=TO, request_id="r", request_type="access", download_url="https://x.example/"
        )
    with pytest.raises(InvalidInput, match="timezone-aware"):
        messages.verification_code(
            shop, to=TO, request_id="r", code="1", expires_at=datetime(2026, 1, 1)
        )
    with pytest.raises(InvalidInput, match="calendar date"):
        messages.acknowledgment(shop, to=TO, request_id="r", request_type="access", due_date=NOW)


def test_html_escapes_everything_it_is_given(shop: Policy) -> None:
    message = messages.more_information(
        shop, to=TO, request_id="r", question='<script>alert("x")</script> & more'
    )
    rendered = render(message, message_id="m", created_at=NOW)
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html and "&amp; more" in rendered.html
    assert '<script>alert("x")</script> & more' in rendered.text  # plain text is plain


def test_unsafe_links_never_become_links(shop: Policy) -> None:
    message = messages.completion(
        shop,
        to=TO,
        request_id="r",
        request_type="access",
        download_url="javascript:alert(1)",
        expires_at=NOW,
    )
    html = render(message, message_id="m", created_at=NOW).html
    assert 'href="javascript' not in html


def test_subject_is_one_line_whatever_the_policy_says(shop: Policy) -> None:
    controller = shop.controller.model_copy(update={"short_name": "Evil\r\nBcc: x@example.lv"})
    policy = shop.model_copy(update={"controller": controller})
    message = messages.refusal(policy, to=TO, request_id="r", ground="excessive", reasons="R.")
    subject = render(message, message_id="m", created_at=NOW).subject
    assert "\n" not in subject and "\r" not in subject
    assert subject == "Your request to Evil Bcc: x@example.lv: we will not take action"


def test_completion_for_erasure_has_no_link(shop: Policy) -> None:
    message = messages.completion(shop, to=TO, request_id="r", request_type="erasure")
    rendered = render(message, message_id="m", created_at=NOW)
    assert "Download" not in rendered.text and 'href="https://privacy' not in rendered.html
    assert "erasure of your personal data" in rendered.text


def test_recipient_list_names_each_recipient(shop: Policy) -> None:
    message = messages.recipient_list(shop, to=TO, recipients=shop.recipients)
    text = render(message, message_id="m", created_at=NOW).text
    for recipient in shop.recipients:
        assert recipient.name in text
    assert "a category of recipients" in text  # couriers
    empty = render(
        messages.recipient_list(shop, to=TO, recipients=[]), message_id="m", created_at=NOW
    )
    assert "not disclosed your personal data to any recipient" in empty.text


def test_webhook_body_is_stable_json_with_the_delivery_id(shop: Policy) -> None:
    message = Message(
        Channel.WEBHOOK, MessageKind.RECIPIENT_NOTICE, "CRM_URL", {"action": "erasure", "b": [1]}
    )
    body = webhook_body(message, message_id="m-9", created_at=NOW)
    assert body == webhook_body(message, message_id="m-9", created_at=NOW)
    assert json.loads(body) == {
        "id": "m-9",
        "event": "recipient_notice",
        "created_at": "2026-03-02T09:30:00.000000Z",
        "data": {"action": "erasure", "b": [1]},
    }
    assert " " not in body  # compact: the signed bytes are exactly these
