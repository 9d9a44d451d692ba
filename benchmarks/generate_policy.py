"""A large, valid policy file for benchmarks, generated deterministically.

The default size (200 purposes, 2,000 dataset fields) is the load+lint target:
a controller with that much processing must still lint in well under a
second. The same arguments always give the same text, byte for byte, so two
runs measure the same input.

    python benchmarks/generate_policy.py --purposes 200 --fields 2000 -o big.yaml
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

__all__ = ["generate_policy"]

FIELDS_PER_DATASET = 20
DATASETS_PER_SYSTEM = 10
SUBJECT_KINDS = ["customer", "visitor", "employee", "supplier-contact", "applicant"]
BASES = ["contract", "legal_obligation", "legitimate_interest", "consent"]
EVENTS = ["contract_ended", "account_closed", "collected", "subscription_ended"]
PERIODS = ["P1M", "P6M", "P1Y", "P3Y", "P5Y", "P10Y"]
THIRD_COUNTRIES = ["US", "GB", "CH", "IN"]
ERASURE = ["set_null", "keyed_hash", "set_null", "truncate_ip", "generalise_date", "set_value"]


def _purpose(index: int) -> dict[str, object]:
    basis = BASES[index % len(BASES)]
    purpose: dict[str, object] = {
        "id": f"purpose-{index:04d}",
        "name": f"Purpose number {index}",
        "description": f"Processing carried out for business line {index}.",
        "legal_bases": [basis],
    }
    if basis == "contract":
        purpose["requirement"] = {
            "kind": "contract_prerequisite",
            "consequence": "We cannot provide the service.",
        }
    elif basis == "legal_obligation":
        purpose["requirement"] = {"kind": "statutory", "consequence": "We must refuse service."}
    elif basis == "legitimate_interest":
        purpose["legitimate_interest"] = f"Running business line {index} efficiently."
        purpose["objection"] = {"allowed": True, "how": "Write to the privacy address."}
    else:
        purpose["consent"] = {
            "mechanism": "double_opt_in",
            "withdrawal_channels": ["unsubscribe_link", "privacy_center"],
        }
    return purpose


def _layout(fields: int) -> list[list[int]]:
    """Field counts per dataset, grouped per system, adding up to ``fields``."""
    counts = [FIELDS_PER_DATASET] * (fields // FIELDS_PER_DATASET)
    if fields % FIELDS_PER_DATASET:
        counts.append(fields % FIELDS_PER_DATASET)
    return [
        counts[start : start + DATASETS_PER_SYSTEM]
        for start in range(0, len(counts), DATASETS_PER_SYSTEM)
    ]


def _field(position: int, category: str) -> dict[str, object]:
    erasure = ERASURE[position % len(ERASURE)]
    field: dict[str, object] = {
        "name": f"column_{position:05d}",
        "category": category,
        "erasure": erasure,
    }
    if erasure == "set_value":
        field["erasure_value"] = "removed"
    elif erasure == "generalise_date":
        field["generalise_to"] = "month"
    return field


def _systems(fields: int, categories: list[str]) -> list[dict[str, object]]:
    systems: list[dict[str, object]] = []
    position = 0
    for s, dataset_sizes in enumerate(_layout(fields)):
        datasets: list[dict[str, object]] = []
        for d, size in enumerate(dataset_sizes):
            dataset: dict[str, object] = {
                "name": f"table_{d:02d}",
                "description": f"Records of kind {d}.",
            }
            if d == 0:
                dataset["identity_fields"] = [{"field": "column_email", "kind": "email"}]
            else:
                dataset["relations"] = [{"field": "owner_id", "references": "table_00.id"}]
            field_list = []
            for _ in range(size):
                field_list.append(_field(position, categories[position % len(categories)]))
                position += 1
            dataset["fields"] = field_list
            datasets.append(dataset)
        systems.append(
            {
                "id": f"system-{s:02d}",
                "name": f"Database {s}",
                "connector": "postgresql",
                "url_env": f"SYSTEM_{s:02d}_DATABASE_URL",
                "country": "LV",
                "datasets": datasets,
            }
        )
    return systems


def generate_policy(purposes: int = 200, fields: int = 2000) -> str:
    """YAML text of a valid policy with ``purposes`` purposes (each served by
    one activity) and ``fields`` dataset fields, plus proportionate data
    categories, recipients, retention rules, legal holds and cookies."""
    if purposes < 1 or fields < 1:
        raise ValueError("purposes and fields must be at least 1")
    categories = [f"category-{i:03d}" for i in range(max(10, fields // 20))]
    recipients = [f"recipient-{i:03d}" for i in range(max(2, purposes // 10))]
    systems = _systems(fields, categories)
    rules = [f"retention-{i:03d}" for i in range(max(2, purposes // 4))]

    policy: dict[str, object] = {
        "datasteward": 1,
        "version": "2026.1",
        "effective_date": "2026-01-15",
        "controller": {
            "legal_name": 'SIA "Liela Noliktava"',
            "registration_number": "40000000002",
            "registered_address": "Noliktavu iela 5, Rīga, LV-1050",
            "country": "LV",
            "contact_email": "privacy@liela-noliktava.example",
            "contact_phone": "+371 60000000",
            "dpo": {"name": "Ana Bērziņa", "email": "dpo@liela-noliktava.example"},
            "supervisory_authority": {
                "name": "Data State Inspectorate (DVI)",
                "url": "https://www.dvi.gov.lv/",
                "country": "LV",
            },
        },
        "data_subjects": [
            {"id": kind, "name": kind.replace("-", " ").title()} for kind in SUBJECT_KINDS
        ],
        "data_categories": [
            {"id": cid, "name": f"Data category {i}", "description": f"Values of kind {i}."}
            for i, cid in enumerate(categories)
        ],
        "purposes": [_purpose(i) for i in range(purposes)],
        "processing_activities": [
            {
                "id": f"activity-{i:04d}",
                "name": f"Activity for purpose {i}",
                "purposes": [f"purpose-{i:04d}"],
                "data_categories": [categories[(i * 3 + k) % len(categories)] for k in range(3)],
                "data_subjects": [SUBJECT_KINDS[i % len(SUBJECT_KINDS)]],
                "systems": [systems[i % len(systems)]["id"]],
                "recipients": [recipients[i % len(recipients)]],
                "retention": [rules[i % len(rules)]],
            }
            for i in range(purposes)
        ],
        "recipients": [_recipient(i, rid) for i, rid in enumerate(recipients)],
        "cookies": [
            {
                "name": f"cookie_{i}",
                "provider": "first_party",
                "purpose": f"purpose-{i:04d}",
                "duration": "P1Y",
                "description": "Remembers a setting.",
            }
            for i in range(3, purposes, 40)  # consent-based purposes (i % 4 == 3)
        ],
        "retention_rules": [
            {
                "id": rid,
                "description": f"Kept for {PERIODS[i % len(PERIODS)]} after the event.",
                "data_categories": [
                    categories[c] for c in range(i % len(rules), len(categories), len(rules))
                ],
                "datasets": [{"system": systems[i % len(systems)]["id"], "dataset": "table_00"}],
                "anchor": {"event": EVENTS[i % len(EVENTS)]},
                "period": PERIODS[i % len(PERIODS)],
                "suspended_by": ["legal_hold"],
                "legal_holds": ["accounting"],
            }
            for i, rid in enumerate(rules)
        ],
        "legal_holds": [
            {
                "id": "accounting",
                "law": "Accounting Law of Latvia",
                "reference": "Section 10",
                "data_categories": categories[:5],
                "period": "P5Y",
                "anchor": {"event": "contract_ended"},
            }
        ],
        "rights": {
            "channels": [
                {"kind": "email", "address": "privacy@liela-noliktava.example"},
                {"kind": "web", "url": "https://liela-noliktava.example/privacy"},
            ]
        },
        "systems": systems,
        "security": [
            {"id": "encryption_at_rest", "description": "Databases are encrypted at rest."},
            {"id": "access_control", "description": "Access is granted per role."},
        ],
    }
    return yaml.safe_dump(policy, sort_keys=False, allow_unicode=True, width=100)


def _recipient(index: int, recipient_id: str) -> dict[str, object]:
    recipient: dict[str, object] = {
        "id": recipient_id,
        "name": f"Service provider {index}",
        "role": "processor",
        "written_agreement": True,
        "country": "LV",
    }
    if index % 5 == 4:
        recipient["country"] = THIRD_COUNTRIES[index % len(THIRD_COUNTRIES)]
        recipient["safeguard"] = {
            "kind": "standard_contractual_clauses",
            "reference": "Commission Implementing Decision (EU) 2021/914",
            "copy_available_at": "privacy@liela-noliktava.example",
        }
    return recipient


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--purposes", type=int, default=200)
    parser.add_argument("--fields", type=int, default=2000)
    parser.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    args = parser.parse_args(argv)
    text = generate_policy(args.purposes, args.fields)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
