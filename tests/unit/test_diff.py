"""The policy diff: what changed, what is material, whose consent is stale.

Every policy here is the minimal fixture (SIA "Zaļā Pļava": an 'orders'
purpose on contract and a 'newsletter' purpose on consent, served by the
activities 'shop' and 'mailing') with one targeted edit, read back through
``parse_policy`` like any policy file."""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from datasteward.errors import NotFound
from datasteward.policy import Policy, parse_policy
from datasteward.policy.diff import Change, PolicyDiff, diff_policies, purpose_fingerprint

FIXTURE = Path(__file__).parents[1] / "fixtures" / "minimal.yaml"
BASE: dict[str, Any] = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))

Data = dict[str, Any]
Edit = Callable[[Data], None]


@functools.cache
def _unedited() -> Policy:
    return parse_policy(FIXTURE.read_text(encoding="utf-8"), "minimal.yaml").policy


def build(*edits: Edit) -> Policy:
    """The fixture with ``edits`` applied, written out and parsed again."""
    if not edits:
        return _unedited()
    data = copy.deepcopy(BASE)
    for edit in edits:
        edit(data)
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    return parse_policy(text, "edited.yaml").policy


def validated(*edits: Edit) -> Policy:
    """Like :func:`build` without the YAML round trip, for policies too big to
    parse quickly in a unit test."""
    data = copy.deepcopy(BASE)
    for edit in edits:
        edit(data)
    return Policy.model_validate(data)


def item(data: Data, section: str, ident: str) -> Data:
    key = "name" if section == "cookies" else "id"
    found: Data = next(x for x in data[section] if x[key] == ident)
    return found


def add(section: str, entry: Data) -> Edit:
    return lambda d: d.setdefault(section, []).append(entry)


def set_field(section: str, ident: str, key: str, value: object) -> Edit:
    def edit(data: Data) -> None:
        item(data, section, ident)[key] = value

    return edit


def append_to(section: str, ident: str, key: str, value: object) -> Edit:
    def edit(data: Data) -> None:
        item(data, section, ident).setdefault(key, []).append(value)

    return edit


def drop_field(section: str, ident: str, key: str) -> Edit:
    def edit(data: Data) -> None:
        del item(data, section, ident)[key]

    return edit


def remove(section: str, ident: str) -> Edit:
    def edit(data: Data) -> None:
        data[section] = [x for x in data[section] if x.get("id", x.get("name")) != ident]

    return edit


MAILER_DE = {"id": "mailer", "name": "Vēstkaste SIA", "role": "processor", "country": "DE"}
MAILER_US = {
    "id": "mailer-us",
    "name": "Postbox Inc.",
    "role": "processor",
    "country": "US",
    "written_agreement": True,
    "safeguard": {"kind": "standard_contractual_clauses"},
}
COURIER_US = {"id": "courier", "name": "Parcel Corp.", "role": "processor", "country": "US"}
PIXEL = {
    "name": "_px",
    "provider": "first_party",
    "purpose": "newsletter",
    "duration": "P1Y",
    "strictly_necessary": False,
}


def material(diff: PolicyDiff) -> list[Change]:
    return [c for c in diff.changes if c.material]


def only(changes: list[Change], **match: object) -> Change:
    hits = [c for c in changes if all(getattr(c, k) == v for k, v in match.items())]
    assert len(hits) == 1, f"expected one change matching {match}, got {hits}"
    return hits[0]


# -- identical, non-material --------------------------------------------------


def test_identical_policies_have_no_changes() -> None:
    text = FIXTURE.read_text(encoding="utf-8")
    diff = diff_policies(parse_policy(text).policy, parse_policy(text).policy)
    assert diff.changes == ()
    assert not diff.material
    assert diff.stale_purposes == ()
    assert diff.to_dict() == {"material": False, "stale_purposes": [], "changes": []}


def test_reordering_list_sections_is_not_a_change() -> None:
    def shuffle(data: Data) -> None:
        for section in ("purposes", "processing_activities", "data_categories", "retention_rules"):
            data[section].reverse()

    assert diff_policies(build(), build(shuffle)).changes == ()


NON_MATERIAL: dict[str, tuple[Edit, ...]] = {
    "controller address": (
        lambda d: d["controller"].update(registered_address="Meža iela 7, Cēsis, LV-4101"),
    ),
    "version and date": (
        lambda d: d.update(version="1.1"),
        lambda d: d.update(effective_date="2026-03-01"),
    ),
    "purpose wording": (
        set_field(
            "purposes",
            "newsletter",
            "description",
            "A monthly letter about new seeds, garden tips and the opening hours of our shop.",
        ),
    ),
    "category name": (set_field("data_categories", "email", "name", "E-mail address"),),
    "recipient for a contract purpose only": (
        add("recipients", COURIER_US),
        append_to("processing_activities", "shop", "recipients", "courier"),
    ),
    "category for a contract purpose only": (
        add("data_categories", {"id": "phone", "name": "Phone number"}),
        append_to("processing_activities", "shop", "data_categories", "phone"),
    ),
    "unused recipient": (add("recipients", MAILER_US),),
    "shorter retention": (set_field("retention_rules", "newsletter-end", "period", "P14D"),),
    "same retention in other units": (set_field("retention_rules", "orders-5y", "period", "P60M"),),
    "new data subject": (add("data_subjects", {"id": "visitor", "name": "Visitors"}),),
    "new security measure": (add("security", {"id": "tls", "description": "TLS everywhere"}),),
    "new field in a dataset": (
        lambda d: d["systems"][0]["datasets"][0]["fields"].append(
            {"name": "nickname", "category": "name"}
        ),
    ),
    "declaration made": (lambda d: d["controller"].update(declarations={"no_sale_of_data": True}),),
    "purpose removed": (
        remove("purposes", "newsletter"),
        remove("processing_activities", "mailing"),
        remove("retention_rules", "newsletter-end"),
    ),
}


@pytest.mark.parametrize("edits", NON_MATERIAL.values(), ids=NON_MATERIAL.keys())
def test_non_material_edits_are_listed_but_not_material(edits: tuple[Edit, ...]) -> None:
    diff = diff_policies(build(), build(*edits))
    assert diff.changes, "the edit must be reported"
    assert material(diff) == []
    assert diff.stale_purposes == ()
    assert all(c.reason is None and c.affected_purposes == () for c in diff.changes)


def test_changed_field_is_named_in_the_summary() -> None:
    diff = diff_policies(
        build(), build(lambda d: d["controller"].update(registered_address="Meža iela 7, Cēsis"))
    )
    change = only(list(diff.changes), section="controller")
    assert change.kind == "changed"
    assert change.item == ""
    assert change.path == "controller.registered_address"
    assert change.summary == (
        "controller: registered address 'Lauku iela 1, Rīga, LV-1001' -> 'Meža iela 7, Cēsis'"
    )


def test_long_text_is_reported_as_reworded() -> None:
    wording = "Our letter about seeds and garden tips, sent once a month to subscribers who asked."
    diff = diff_policies(
        build(), build(set_field("purposes", "newsletter", "description", wording))
    )
    clipped = wording[:59].rstrip() + "…"
    assert only(list(diff.changes)).summary == (
        f"purpose 'newsletter': description set to '{clipped}'"
    )
    reworded = build(set_field("purposes", "newsletter", "description", wording + " Really."))
    diff = diff_policies(
        build(set_field("purposes", "newsletter", "description", wording)), reworded
    )
    assert only(list(diff.changes)).summary == "purpose 'newsletter': description reworded"


def test_added_and_removed_items_name_their_kind_and_use_their_own_version_path() -> None:
    old = build(add("security", {"id": "backups", "description": "Daily backups"}))
    new = build(add("data_subjects", {"id": "visitor", "name": "Visitors"}))
    diff = diff_policies(old, new)
    added = only(list(diff.changes), kind="added")
    assert (added.section, added.item, added.path) == (
        "data_subjects",
        "visitor",
        "data_subjects[1]",
    )
    assert added.summary == "data subject 'visitor' added (Visitors)"
    gone = only(list(diff.changes), kind="removed")
    assert (gone.section, gone.item, gone.path) == ("security", "backups", "security[0]")


# -- consent scope: data, recipients, transfers, retention, cookies -----------


def test_consent_purpose_gaining_a_data_category_is_material_for_it() -> None:
    diff = diff_policies(
        build(), build(append_to("processing_activities", "mailing", "data_categories", "name"))
    )
    gain = only(material(diff))
    assert gain.section == "purposes"
    assert gain.item == "newsletter"
    assert gain.path == "purposes[1]"
    assert gain.summary == "purpose 'newsletter' now also covers data category 'name'"
    assert gain.affected_purposes == ("newsletter",)
    assert gain.reason is not None and "Art. 6(1)(a)" in gain.reason
    edit = only(list(diff.changes), section="processing_activities")
    assert edit.path == "processing_activities[1].data_categories"
    assert edit.summary == "activity 'mailing': data categories added 'name'"
    assert not edit.material
    assert diff.stale_purposes == ("newsletter",)


def test_consent_purpose_gaining_a_recipient_in_the_eea() -> None:
    diff = diff_policies(
        build(),
        build(
            add("recipients", MAILER_DE),
            append_to("processing_activities", "mailing", "recipients", "mailer"),
        ),
    )
    gain = only(material(diff))
    assert gain.summary == "purpose 'newsletter' now also shares data with recipient 'mailer' (DE)"
    assert gain.reason is not None and "Art. 13(1)(e)" in gain.reason
    assert "Art. 44" not in gain.reason
    assert diff.stale_purposes == ("newsletter",)


def test_consent_purpose_gaining_a_recipient_outside_the_eea() -> None:
    diff = diff_policies(
        build(),
        build(
            add("recipients", MAILER_US),
            append_to("processing_activities", "mailing", "recipients", "mailer-us"),
        ),
    )
    gain = only(material(diff))
    assert (
        gain.summary == "purpose 'newsletter' now also shares data with recipient 'mailer-us' (US)"
    )
    assert gain.reason is not None and "Art. 44" in gain.reason
    assert gain.affected_purposes == ("newsletter",)


def test_undeclared_recipient_is_still_reported_by_id() -> None:
    """An undeclared recipient is a lint finding, not a load error; the diff copes."""
    diff = diff_policies(
        build(), build(append_to("processing_activities", "mailing", "recipients", "ghost"))
    )
    gain = only(material(diff))
    assert gain.summary == "purpose 'newsletter' now also shares data with recipient 'ghost'"


def test_recipient_of_a_consent_purpose_moving_outside_the_eea() -> None:
    old = build(
        add("recipients", MAILER_DE),
        append_to("processing_activities", "mailing", "recipients", "mailer"),
    )
    new = build(
        add("recipients", {**MAILER_DE, "country": "US"}),
        append_to("processing_activities", "mailing", "recipients", "mailer"),
    )
    diff = diff_policies(old, new)
    moved = only(material(diff), section="recipients")
    assert moved.path == "recipients[0].country"
    assert moved.summary == "recipient 'mailer' now processes data in US (was DE)"
    assert moved.affected_purposes == ("newsletter",)
    assert moved.reason is not None and "Art. 44-46" in moved.reason
    transfer = only(material(diff), section="purposes")
    assert (
        transfer.summary
        == "purpose 'newsletter' now also transfers data to US via recipient 'mailer'"
    )
    assert diff.stale_purposes == ("newsletter",)


def test_contract_recipient_moving_outside_the_eea_is_material_but_stales_nothing() -> None:
    old = build(
        add("recipients", {**COURIER_US, "country": "EE"}),
        append_to("processing_activities", "shop", "recipients", "courier"),
    )
    new = build(
        add("recipients", COURIER_US),
        append_to("processing_activities", "shop", "recipients", "courier"),
    )
    diff = diff_policies(old, new)
    moved = only(material(diff))
    assert moved.section == "recipients"
    assert moved.affected_purposes == ()
    assert diff.material
    assert diff.stale_purposes == ()


def test_recipient_moving_back_into_the_eea_is_not_material() -> None:
    old = build(add("recipients", COURIER_US))
    new = build(add("recipients", {**COURIER_US, "country": "FI"}))
    assert material(diff_policies(old, new)) == []


def test_recipient_losing_its_safeguard() -> None:
    uses = append_to("processing_activities", "mailing", "recipients", "mailer-us")
    bare = {k: v for k, v in MAILER_US.items() if k != "safeguard"}
    diff = diff_policies(
        build(add("recipients", MAILER_US), uses), build(add("recipients", bare), uses)
    )
    lost = only(material(diff), section="recipients")
    assert lost.path == "recipients[0].safeguard"
    assert lost.summary == "recipient 'mailer-us' lost its transfer safeguard"
    assert lost.reason is not None and "Art. 46" in lost.reason
    assert lost.affected_purposes == ("newsletter",)
    gain = only(material(diff), section="purposes")
    assert "no longer has a safeguard" in gain.summary


def test_recipient_safeguard_weakened_to_a_derogation() -> None:
    uses = append_to("processing_activities", "mailing", "recipients", "mailer-us")
    weaker = {**MAILER_US, "safeguard": {"kind": "derogation_art_49"}}
    diff = diff_policies(
        build(add("recipients", MAILER_US), uses), build(add("recipients", weaker), uses)
    )
    change = only(material(diff))
    assert change.reason is not None and "Art. 49" in change.reason
    assert change.affected_purposes == ("newsletter",)


def test_processor_becoming_a_controller_and_losing_its_agreement() -> None:
    uses = append_to("processing_activities", "mailing", "recipients", "mailer-us")
    changed = {**MAILER_US, "role": "controller", "written_agreement": False}
    diff = diff_policies(
        build(add("recipients", MAILER_US), uses), build(add("recipients", changed), uses)
    )
    paths = {c.path: c for c in material(diff)}
    assert set(paths) == {"recipients[0].role", "recipients[0].written_agreement"}
    assert "Art. 28" in (paths["recipients[0].role"].reason or "")
    assert "Art. 28(3)" in (paths["recipients[0].written_agreement"].reason or "")
    assert diff.stale_purposes == ("newsletter",)


def test_consent_purpose_gaining_a_system_hosted_outside_the_eea() -> None:
    cloud = {
        "id": "cloud",
        "name": "Mailing cloud",
        "connector": "manual",
        "country": "US",
        "manual": {"instructions": "Ask the mailing team."},
    }
    diff = diff_policies(
        build(add("systems", {**cloud, "country": "IE"})),
        build(
            add("systems", cloud), append_to("processing_activities", "mailing", "systems", "cloud")
        ),
    )
    system_moved = only(list(diff.changes), section="systems", path="systems[1].country")
    assert system_moved.material
    assert system_moved.affected_purposes == ("newsletter",)
    transfer = only(material(diff), section="purposes")
    assert (
        transfer.summary == "purpose 'newsletter' now also transfers data to US via system 'cloud'"
    )


def test_longer_retention_for_a_consent_purpose() -> None:
    diff = diff_policies(
        build(), build(set_field("retention_rules", "newsletter-end", "period", "P1Y"))
    )
    rule = only(material(diff), section="retention_rules")
    assert rule.path == "retention_rules[1].period"
    assert rule.summary == "retention rule 'newsletter-end' now keeps data for 1 year (was 1 month)"
    assert rule.affected_purposes == ("newsletter",)
    assert rule.reason is not None and "Art. 5(1)(e)" in rule.reason
    gain = only(material(diff), section="purposes")
    assert (
        gain.summary
        == "purpose 'newsletter': data category 'email' is now kept for 1 year (was 1 month)"
    )
    assert diff.stale_purposes == ("newsletter",)


def test_period_replaced_by_criteria_counts_as_longer() -> None:
    diff = diff_policies(
        build(),
        build(
            drop_field("retention_rules", "newsletter-end", "period"),
            set_field("retention_rules", "newsletter-end", "criteria", "until you unsubscribe"),
        ),
    )
    rule = only(material(diff), section="retention_rules")
    assert rule.summary == (
        "retention rule 'newsletter-end' now keeps data for no fixed period (was 1 month)"
    )
    assert diff.stale_purposes == ("newsletter",)


def test_longer_retention_for_a_contract_purpose_is_material_without_stale_consent() -> None:
    diff = diff_policies(
        build(), build(set_field("retention_rules", "orders-5y", "period", "P10Y"))
    )
    rule = only(material(diff))
    assert rule.item == "orders-5y"
    assert rule.affected_purposes == ()
    assert diff.material
    assert diff.stale_purposes == ()


def test_consent_purpose_switching_to_a_longer_rule() -> None:
    diff = diff_policies(
        build(), build(set_field("processing_activities", "mailing", "retention", ["orders-5y"]))
    )
    gain = only(material(diff))
    assert (
        gain.summary
        == "purpose 'newsletter': data category 'email' is now kept for 5 years (was 1 month)"
    )


def test_removing_the_only_retention_rule_of_a_category() -> None:
    diff = diff_policies(
        build(),
        build(
            remove("retention_rules", "orders-5y"),
            set_field("processing_activities", "shop", "retention", []),
        ),
    )
    gone = only(material(diff))
    assert gone.kind == "removed"
    assert gone.path == "retention_rules[0]"
    assert gone.summary == (
        "retention rule 'orders-5y' removed; data category 'name' no longer has a retention period"
    )
    assert diff.stale_purposes == ()


def test_consent_purpose_gaining_a_cookie() -> None:
    diff = diff_policies(build(), build(add("cookies", PIXEL)))
    gain = only(material(diff))
    assert (
        gain.summary == "purpose 'newsletter' now also uses cookie '_px' (provider 'first_party')"
    )
    assert gain.reason is not None and "Art. 5(3)" in gain.reason
    assert only(list(diff.changes), section="cookies").path == "cookies[0]"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({"strictly_necessary": True}, {"strictly_necessary": False}),
        ({"duration": "P1Y"}, {"duration": "P2Y"}),
        ({"duration": None, "session": True}, {"duration": "P1D"}),
        ({"duration": None, "session": True}, {"duration": None, "session": False}),
        ({"duration": "P1M"}, {"duration": None}),
    ],
    ids=[
        "no longer necessary",
        "longer",
        "session to persistent",
        "session to unstated",
        "stated to unstated",
    ],
)
def test_cookie_weakened(before: Data, after: Data) -> None:
    diff = diff_policies(
        build(add("cookies", {**PIXEL, **before})), build(add("cookies", {**PIXEL, **after}))
    )
    change = only(material(diff))
    assert change.section == "cookies"
    assert change.item == "_px"
    assert change.affected_purposes == ("newsletter",)
    assert change.reason is not None and "ePrivacy Directive Art. 5(3)" in change.reason


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({"duration": "P1Y"}, {"duration": "P6M"}),
        ({"duration": "P1Y"}, {"duration": None, "session": True}),
        ({"duration": None}, {"duration": "P6M"}),
    ],
    ids=["shorter", "persistent to session", "unstated to stated"],
)
def test_cookie_lasting_less_or_stating_its_lifetime_is_not_material(
    before: Data, after: Data
) -> None:
    diff = diff_policies(
        build(add("cookies", {**PIXEL, **before})), build(add("cookies", {**PIXEL, **after}))
    )
    assert diff.changes
    assert not diff.material


def test_cookie_change_names_the_field() -> None:
    diff = diff_policies(
        build(add("cookies", PIXEL)), build(add("cookies", {**PIXEL, "duration": "P6M"}))
    )
    assert only(list(diff.changes)).summary == "cookie '_px': duration 1 year -> 6 months"


# -- purposes and legal bases ------------------------------------------------

PROFILING = {
    "id": "profiling",
    "name": "Customer profiling",
    "legal_bases": ["legitimate_interest"],
    "legitimate_interest": "Knowing which seeds our customers like",
}


def test_new_purpose_reusing_an_existing_activity_is_material() -> None:
    diff = diff_policies(
        build(),
        build(
            add("purposes", PROFILING),
            append_to("processing_activities", "mailing", "purposes", "profiling"),
        ),
    )
    added = only(material(diff), section="purposes")
    assert added.kind == "added"
    assert (
        added.summary == "purpose 'profiling' added; it reuses data of existing activity 'mailing'"
    )
    assert added.reason is not None and "Art. 6(4)" in added.reason
    activity = only(material(diff), section="processing_activities")
    assert activity.summary == "activity 'mailing' now also serves purpose 'profiling'"
    # The newsletter's own scope did not change: its consent stays valid.
    assert diff.stale_purposes == ()


def test_new_purpose_with_its_own_new_activity_is_not_material() -> None:
    activity = {
        "id": "insights",
        "name": "Insights",
        "purposes": ["profiling"],
        "data_categories": ["email"],
        "data_subjects": ["customer"],
    }
    diff = diff_policies(
        build(), build(add("purposes", PROFILING), add("processing_activities", activity))
    )
    assert [c.kind for c in diff.changes] == ["added", "added"]
    assert not diff.material


def test_existing_purpose_newly_served_by_an_existing_activity() -> None:
    diff = diff_policies(
        build(), build(append_to("processing_activities", "shop", "purposes", "newsletter"))
    )
    reuse = only(material(diff), section="processing_activities")
    assert reuse.reason is not None and "Art. 6(4)" in reuse.reason
    # The shop's data reaches the newsletter: its 'name', and its 'email' kept for 5 years.
    gains = [c.summary for c in material(diff) if c.section == "purposes"]
    assert gains == [
        "purpose 'newsletter' now also covers data category 'name'",
        "purpose 'newsletter': data category 'email' is now kept for 5 years (was 1 month)",
    ]
    assert diff.stale_purposes == ("newsletter",)


@pytest.mark.parametrize(
    ("purpose", "bases", "stale"),
    [
        ("newsletter", ["consent", "legitimate_interest"], ("newsletter",)),
        ("newsletter", ["legitimate_interest"], ("newsletter",)),
        ("orders", ["contract", "legal_obligation"], ()),
        ("orders", ["consent"], ()),
    ],
)
def test_legal_basis_change_is_material(
    purpose: str, bases: list[str], stale: tuple[str, ...]
) -> None:
    diff = diff_policies(build(), build(set_field("purposes", purpose, "legal_bases", bases)))
    change = only(material(diff), section="purposes")
    assert change.path.endswith(".legal_bases")
    assert change.summary.startswith(f"purpose '{purpose}' now rests on {', '.join(bases)} (was ")
    assert change.reason is not None and "Art. 6(1)" in change.reason
    assert diff.stale_purposes == stale


def test_reordered_legal_bases_are_not_material() -> None:
    diff = diff_policies(
        build(set_field("purposes", "orders", "legal_bases", ["contract", "legal_obligation"])),
        build(set_field("purposes", "orders", "legal_bases", ["legal_obligation", "contract"])),
    )
    assert only(list(diff.changes)).summary == "purpose 'orders': legal bases reordered"
    assert not diff.material


def test_consent_purpose_turning_to_profiling_or_refusing_objection() -> None:
    diff = diff_policies(
        build(),
        build(
            set_field("purposes", "newsletter", "automated_decision", {"profiling": True}),
            set_field(
                "purposes",
                "orders",
                "objection",
                {"allowed": False, "reason_if_not": "needed for delivery"},
            ),
        ),
    )
    profiling = only(material(diff), item="newsletter")
    assert profiling.reason is not None and "Art. 22" in profiling.reason
    assert profiling.affected_purposes == ("newsletter",)
    objection = only(material(diff), item="orders")
    assert objection.reason is not None and "Art. 21" in objection.reason
    assert objection.affected_purposes == ()


def test_data_category_becoming_special_stales_the_consent_purposes_using_it() -> None:
    diff = diff_policies(build(), build(set_field("data_categories", "email", "special", True)))
    change = only(material(diff))
    assert change.summary == "data category 'email' is now a special category"
    assert change.reason is not None and "Art. 9" in change.reason
    assert change.affected_purposes == ("newsletter",)
    diff = diff_policies(build(), build(set_field("data_categories", "name", "special", True)))
    assert only(material(diff)).affected_purposes == ()


# -- protection in general ---------------------------------------------------------


def test_removed_security_measure_is_material() -> None:
    measure = {"id": "encryption", "description": "Customer data is encrypted at rest."}
    diff = diff_policies(build(add("security", measure)), build())
    change = only(list(diff.changes))
    assert (change.kind, change.section, change.item) == ("removed", "security", "encryption")
    assert change.material
    assert change.reason is not None and "Art. 32" in change.reason
    assert change.affected_purposes == ()


def test_reworded_security_measure_is_not_material() -> None:
    measure = {"id": "encryption", "description": "Customer data is encrypted at rest."}
    diff = diff_policies(
        build(add("security", measure)),
        build(add("security", {**measure, "description": "Data is encrypted."})),
    )
    assert not only(list(diff.changes)).material


def test_withdrawn_declaration_is_material() -> None:
    promise = {
        "no_third_country_transfers": True,
        "changes_weakening_protection_need_agreement": True,
    }
    diff = diff_policies(
        build(lambda d: d["controller"].update(declarations=promise)),
        build(
            lambda d: d["controller"].update(
                declarations={**promise, "no_third_country_transfers": False}
            )
        ),
    )
    change = only(list(diff.changes))
    assert change.path == "controller.declarations.no_third_country_transfers"
    assert change.material
    assert change.summary == "controller no longer declares that no personal data leaves the EEA"
    assert change.reason is not None and "Art. 5(1)(a)" in change.reason


def test_weaker_rights_handling_is_material() -> None:
    rights = {
        "offered": ["access", "rectification", "erasure", "complaint"],
        "response_period": "P2M",
        "fee_policy": "fee_if_manifestly_unfounded_or_excessive",
        "clock_starts": "verification",
    }
    diff = diff_policies(
        build(lambda d: d.update(rights={"fee_policy": "free"})),
        build(lambda d: d.update(rights=rights)),
    )
    by_path = {c.path: c for c in diff.changes}
    assert set(by_path) == {
        "rights.offered",
        "rights.response_period",
        "rights.clock_starts",
        "rights.fee_policy",
    }
    assert all(c.material for c in by_path.values())
    assert by_path["rights.offered"].summary == (
        "rights no longer offered: 'restriction', 'portability', 'objection', "
        "'withdraw_consent', 'recipient_list'"
    )
    assert "Art. 12(5)" in (by_path["rights.fee_policy"].reason or "")
    assert diff.stale_purposes == ()


def test_legal_holds_keeping_data_longer_are_material() -> None:
    hold = {
        "id": "accounting",
        "law": "Latvian Accounting Law (Grāmatvedības likums)",
        "data_categories": ["name"],
        "period": "P5Y",
        "anchor": {"event": "contract_ended"},
    }
    added = only(list(diff_policies(build(), build(add("legal_holds", hold))).changes))
    assert added.material and added.kind == "added"
    assert added.reason is not None and "Art. 17(3)(b)" in added.reason
    longer = diff_policies(
        build(add("legal_holds", hold)), build(add("legal_holds", {**hold, "period": "P10Y"}))
    )
    assert only(list(longer.changes)).summary == (
        "legal hold 'accounting' now keeps data for 10 years (was 5 years)"
    )
    shorter = diff_policies(
        build(add("legal_holds", {**hold, "period": "P10Y"})), build(add("legal_holds", hold))
    )
    assert not shorter.material


def test_field_no_longer_erased_is_material_and_located_inside_the_system() -> None:
    def keep_email(data: Data) -> None:
        data["systems"][0]["datasets"][0]["fields"][0]["erasure"] = "keep"

    diff = diff_policies(build(), build(keep_email))
    change = only(list(diff.changes))
    assert change.section == "systems"
    assert change.item == "shopdb"
    assert change.path == "systems[0].datasets[0].fields[0].erasure"
    assert change.summary == (
        "system 'shopdb' dataset 'customers' field 'email': erasure 'keyed_hash' -> 'keep'"
    )
    assert change.material
    assert change.reason is not None and "Art. 17" in change.reason


def test_children_coming_into_scope_is_material() -> None:
    diff = diff_policies(
        build(set_field("data_subjects", "customer", "minimum_age", 16)),
        build(set_field("data_subjects", "customer", "minimum_age", 13)),
    )
    assert "Art. 8" in (only(material(diff)).reason or "")


# -- order and serialisation -----------------------------------------------------

MANY_EDITS: tuple[Edit, ...] = (
    lambda d: d.update(version="2.0"),
    lambda d: d["controller"].update(contact_email="dpo@zala-plava.example"),
    add("data_categories", {"id": "phone", "name": "Phone number"}),
    append_to("processing_activities", "mailing", "data_categories", "phone"),
    append_to("processing_activities", "mailing", "data_categories", "name"),
    add("recipients", MAILER_US),
    add("recipients", MAILER_DE),
    append_to("processing_activities", "mailing", "recipients", "mailer-us"),
    append_to("processing_activities", "shop", "recipients", "mailer"),
    set_field("retention_rules", "newsletter-end", "period", "P2M"),
    set_field("purposes", "orders", "name", "Orders and delivery"),
    add("security", {"id": "tls", "description": "TLS everywhere"}),
)


def summaries(diff: PolicyDiff) -> list[tuple[str, str, str, bool, tuple[str, ...]]]:
    return [(c.section, c.item, c.summary, c.material, c.affected_purposes) for c in diff.changes]


def test_changes_follow_section_order_then_id() -> None:
    diff = diff_policies(build(), build(*MANY_EDITS))
    order = list(Policy.model_fields)
    keys = [(order.index(c.section), c.item) for c in diff.changes]
    assert keys == sorted(keys)
    assert [c.section for c in diff.changes][:2] == ["version", "controller"]
    assert diff.stale_purposes == ("newsletter",)


def test_order_does_not_depend_on_list_order_in_the_file() -> None:
    def shuffle(data: Data) -> None:
        for section in ("purposes", "processing_activities", "recipients", "data_categories"):
            data.setdefault(section, []).reverse()

    plain = diff_policies(build(), build(*MANY_EDITS))
    shuffled = diff_policies(build(shuffle), build(*MANY_EDITS, shuffle))
    assert summaries(shuffled) == summaries(plain)
    assert [c.path for c in shuffled.changes] != [c.path for c in plain.changes]
    assert diff_policies(build(), build(*MANY_EDITS)) == plain


def test_to_dict_is_json_serialisable() -> None:
    diff = diff_policies(build(), build(*MANY_EDITS))
    body = json.loads(json.dumps(diff.to_dict()))
    assert body["material"] is True
    assert body["stale_purposes"] == ["newsletter"]
    assert len(body["changes"]) == len(diff.changes)
    first = body["changes"][0]
    assert set(first) == {f.name for f in dataclasses.fields(Change)}
    assert all(isinstance(c["affected_purposes"], list) for c in body["changes"])
    assert body["changes"] == [c.to_dict() for c in diff.changes]


def test_change_is_immutable() -> None:
    change = diff_policies(build(), build(lambda d: d.update(version="2"))).changes[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        change.material = True  # type: ignore[misc]


# -- fingerprint ----------------------------------------------------------------------

UNRELATED: dict[str, tuple[Edit, ...]] = {
    "controller": (lambda d: d["controller"].update(registered_address="Meža iela 7, Cēsis"),),
    "other purpose": (
        set_field("purposes", "orders", "legal_bases", ["contract", "legal_obligation"]),
    ),
    "other activity": (
        add("data_categories", {"id": "phone", "name": "Phone number"}),
        append_to("processing_activities", "shop", "data_categories", "phone"),
    ),
    "other retention rule": (set_field("retention_rules", "orders-5y", "period", "P10Y"),),
    "security": (add("security", {"id": "tls", "description": "TLS everywhere"}),),
    "unused recipient": (add("recipients", MAILER_US),),
    "rule renamed": (
        lambda d: item(d, "retention_rules", "newsletter-end").update(id="newsletter-stop"),
        set_field("processing_activities", "mailing", "retention", ["newsletter-stop"]),
    ),
    "version": (lambda d: d.update(version="7", effective_date="2027-01-01"),),
}

RELATED: dict[str, tuple[Edit, ...]] = {
    "category": (append_to("processing_activities", "mailing", "data_categories", "name"),),
    "recipient": (
        add("recipients", MAILER_DE),
        append_to("processing_activities", "mailing", "recipients", "mailer"),
    ),
    "retention": (set_field("retention_rules", "newsletter-end", "period", "P2M"),),
    "narrower retention": (set_field("retention_rules", "newsletter-end", "period", "P7D"),),
    "purpose wording": (set_field("purposes", "newsletter", "name", "Seed letter"),),
    "consent mechanism": (
        set_field("purposes", "newsletter", "consent", {"mechanism": "single_opt_in"}),
    ),
    "category made special": (set_field("data_categories", "email", "special", True),),
    "cookie": (add("cookies", PIXEL),),
}


def test_fingerprint_is_sha256_hex_and_deterministic() -> None:
    first = purpose_fingerprint(build(), "newsletter")
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert purpose_fingerprint(build(), "newsletter") == first
    assert purpose_fingerprint(build(), "orders") != first


@pytest.mark.parametrize("edits", UNRELATED.values(), ids=UNRELATED.keys())
def test_fingerprint_ignores_unrelated_edits(edits: tuple[Edit, ...]) -> None:
    assert purpose_fingerprint(build(*edits), "newsletter") == purpose_fingerprint(
        build(), "newsletter"
    )


@pytest.mark.parametrize("edits", RELATED.values(), ids=RELATED.keys())
def test_fingerprint_follows_related_edits(edits: tuple[Edit, ...]) -> None:
    assert purpose_fingerprint(build(*edits), "newsletter") != purpose_fingerprint(
        build(), "newsletter"
    )


def test_fingerprint_of_unknown_purpose_is_not_found() -> None:
    with pytest.raises(NotFound, match="unknown purpose 'newsleter' \\(did you mean 'newsletter'"):
        purpose_fingerprint(build(), "newsleter")


MAILER_USED = append_to("processing_activities", "mailing", "recipients", "mailer-us")
CLOUD = {
    "id": "cloud",
    "name": "Mailing cloud",
    "connector": "manual",
    "country": "IE",
    "manual": {"instructions": "Ask the mailing team."},
}
CLOUD_USED = append_to("processing_activities", "mailing", "systems", "cloud")

STALING: dict[str, tuple[tuple[Edit, ...], tuple[Edit, ...]]] = {
    "category gained": ((), RELATED["category"]),
    "recipient gained": ((), RELATED["recipient"]),
    "recipient leaves the EEA": (
        (
            add("recipients", MAILER_DE),
            append_to("processing_activities", "mailing", "recipients", "mailer"),
        ),
        (
            add("recipients", {**MAILER_DE, "country": "US"}),
            append_to("processing_activities", "mailing", "recipients", "mailer"),
        ),
    ),
    "safeguard lost": (
        (add("recipients", MAILER_US), MAILER_USED),
        (add("recipients", {k: v for k, v in MAILER_US.items() if k != "safeguard"}), MAILER_USED),
    ),
    "derogation": (
        (add("recipients", MAILER_US), MAILER_USED),
        (add("recipients", {**MAILER_US, "safeguard": {"kind": "derogation_art_49"}}), MAILER_USED),
    ),
    "processor turns controller": (
        (add("recipients", MAILER_US), MAILER_USED),
        (add("recipients", {**MAILER_US, "role": "controller"}), MAILER_USED),
    ),
    "agreement lost": (
        (add("recipients", MAILER_US), MAILER_USED),
        (add("recipients", {**MAILER_US, "written_agreement": False}), MAILER_USED),
    ),
    "system leaves the EEA": (
        (add("systems", CLOUD), CLOUD_USED),
        (add("systems", {**CLOUD, "country": "US"}), CLOUD_USED),
    ),
    "longer period": ((), RELATED["retention"]),
    "criteria only": (
        (),
        (
            drop_field("retention_rules", "newsletter-end", "period"),
            set_field("retention_rules", "newsletter-end", "criteria", "until you unsubscribe"),
        ),
    ),
    "longer rule": (
        (),
        (set_field("processing_activities", "mailing", "retention", ["orders-5y"]),),
    ),
    "cookie gained": ((), RELATED["cookie"]),
    "cookie no longer necessary": (
        (add("cookies", {**PIXEL, "strictly_necessary": True}),),
        (add("cookies", PIXEL),),
    ),
    "cookie longer": ((add("cookies", PIXEL),), (add("cookies", {**PIXEL, "duration": "P2Y"}),)),
    "cookie lifetime dropped": (
        (add("cookies", {**PIXEL, "duration": None, "session": True}),),
        (add("cookies", {**PIXEL, "duration": None}),),
    ),
    "legal bases": (
        (),
        (set_field("purposes", "newsletter", "legal_bases", ["legitimate_interest"]),),
    ),
    "profiling": (
        (),
        (set_field("purposes", "newsletter", "automated_decision", {"profiling": True}),),
    ),
    "special category": ((), RELATED["category made special"]),
    "many edits": ((), MANY_EDITS),
}


@pytest.mark.parametrize(("before", "after"), STALING.values(), ids=STALING.keys())
def test_stale_purposes_always_have_a_changed_fingerprint(
    before: tuple[Edit, ...], after: tuple[Edit, ...]
) -> None:
    """An unchanged fingerprint is proof that consent to the purpose is current."""
    old, new = build(*before), build(*after)
    stale = diff_policies(old, new).stale_purposes
    assert stale == ("newsletter",)
    assert purpose_fingerprint(old, "newsletter") != purpose_fingerprint(new, "newsletter")


# -- size ------------------------------------------------------------------------------


def test_large_policy_reports_exactly_the_edited_items() -> None:
    """200 purposes, 2,000 fields: one longer retention rule stales the consent
    purposes whose activities it ends, and nothing else is reported."""

    def grow(data: Data) -> None:
        data["data_categories"] += [{"id": f"c{i}", "name": f"Category {i}"} for i in range(50)]
        data["purposes"] += [
            {
                "id": f"p{i:03}",
                "name": f"Purpose {i}",
                "legal_bases": ["consent" if i % 2 else "contract"],
            }
            for i in range(200)
        ]
        data["retention_rules"] += [
            {
                "id": f"r{i}",
                "data_categories": [f"c{j}" for j in range(i, 50, 5)],
                "anchor": {"event": "collected"},
                "period": "P1Y",
            }
            for i in range(5)
        ]
        data["processing_activities"] += [
            {
                "id": f"a{i:03}",
                "name": f"Activity {i}",
                "purposes": [f"p{i:03}"],
                "data_categories": [f"c{i % 5 + 5 * k}" for k in range(5)],
                "data_subjects": ["customer"],
                "retention": [f"r{i % 5}"],
            }
            for i in range(200)
        ]
        data["systems"][0]["datasets"] += [
            {
                "name": f"t{t}",
                "fields": [{"name": f"f{k}", "category": f"c{k % 50}"} for k in range(100)],
            }
            for t in range(20)
        ]

    old = validated(grow)
    new = validated(grow, set_field("retention_rules", "r3", "period", "P2Y"))
    diff = diff_policies(old, new)
    rule = only(list(diff.changes), section="retention_rules")
    expected = tuple(f"p{i:03}" for i in range(200) if i % 2 and i % 5 == 3)
    assert rule.affected_purposes == expected
    assert diff.stale_purposes == expected
    assert {c.section for c in diff.changes} == {"retention_rules", "purposes"}
    assert diff_policies(old, validated(grow)).changes == ()
