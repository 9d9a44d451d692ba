"""The engine's own retention on a real engine store (SQLite, and PostgreSQL
when ``STEWARD_TEST_POSTGRES_URL`` is set): verification codes a day after
use or expiry, messages 30 days after they were sent, expired packages; the
audit chain untouched and still verifying."""

from __future__ import annotations

import os
import uuid
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select
from tests.integration.conftest import Steward

from datasteward.audit.service import verify_store
from datasteward.legaltime.instants import format_time
from datasteward.packages.vault import new_package_id, package_info, staging_path, store_package
from datasteward.retention import housekeeping
from datasteward.retention.engine_store import SqlHousekeeping
from datasteward.store.tables import outbox, requests, verification_codes

DAY = timedelta(days=1)


def _request(steward: Steward, now: datetime) -> str:
    with steward.store.transaction() as tx:
        steward.directory.resolve(tx, steward.identity("email:ieva@example.com"), actor="t")
    subject = steward.subject_of("email:ieva@example.com")
    request_id = str(uuid.uuid4())
    with steward.engine.begin() as connection:
        connection.execute(
            insert(requests).values(
                id=request_id,
                type="access",
                state="awaiting_identity",
                subject_id=subject,
                identity_kind="email",
                channel="web",
                received_at=format_time(now),
                due_date=date(2026, 4, 2),
                assurance="email_code",
                flags="{}",
                created_by="t",
                updated_at=format_time(now),
                version=1,
            )
        )
    return request_id


def _code(steward: Steward, *, expires: datetime, used: datetime | None) -> str:
    request_id = _request(steward, expires - 2 * DAY)
    with steward.engine.begin() as connection:
        connection.execute(
            insert(verification_codes).values(
                request_id=request_id,
                code_hash="0" * 64,
                index_kid="k1",
                issued_at=format_time(expires - DAY),
                expires_at=format_time(expires),
                attempts=0,
                used_at=None if used is None else format_time(used),
            )
        )
    return request_id


def _message(steward: Steward, *, status: str, sent: datetime | None, created: datetime) -> str:
    message_id = str(uuid.uuid4())
    with steward.engine.begin() as connection:
        connection.execute(
            insert(outbox).values(
                id=message_id,
                channel="email",
                template="request.received",
                payload_enc=b"\x00sealed",
                status=status,
                attempts=1,
                next_attempt_at=format_time(created),
                created_at=format_time(created),
                sent_at=None if sent is None else format_time(sent),
            )
        )
    return message_id


def _package(steward: Steward, home: Path, *, expires: datetime) -> str:
    package_id = new_package_id()
    path = staging_path(home, package_id)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data.json", "{}")
    store_package(
        home,
        steward.keyring,
        path,
        package_id=package_id,
        created_at=expires - 30 * DAY,
        expires_at=expires,
    )
    return package_id


def test_expired_engine_records_end_and_the_audit_chain_stays(
    bare_steward: Steward, tmp_path: Path
) -> None:
    steward = bare_steward
    now = steward.clock.now()
    home = tmp_path / "home"
    codes = {
        "used two days ago": _code(steward, expires=now + DAY, used=now - 2 * DAY),
        "used an hour ago": _code(steward, expires=now + DAY, used=now - timedelta(hours=1)),
        "expired two days ago": _code(steward, expires=now - 2 * DAY, used=None),
        "expired an hour ago": _code(steward, expires=now - timedelta(hours=1), used=None),
        "live": _code(steward, expires=now + DAY, used=None),
    }
    messages = {
        "sent 31 days ago": _message(
            steward, status="sent", sent=now - 31 * DAY, created=now - 31 * DAY
        ),
        "sent 29 days ago": _message(
            steward, status="sent", sent=now - 29 * DAY, created=now - 40 * DAY
        ),
        "dead for long": _message(steward, status="dead", sent=None, created=now - 90 * DAY),
    }
    expired = _package(steward, home, expires=now - DAY)
    valid = _package(steward, home, expires=now + DAY)
    leftover = home / "packages" / "staging" / "crashed.zip"
    leftover.write_bytes(b"plaintext")
    old = (now - 3 * DAY).timestamp()
    os.utime(leftover, (old, old))
    audit_before = steward.count("audit_events")

    report = housekeeping(
        SqlHousekeeping(steward.store), home=home, clock=steward.clock, actor="test:ops"
    )

    assert (report.verification_codes, report.outbox_messages) == (2, 1)
    assert report.packages == (expired,) and report.staging_files == 1
    with steward.engine.connect() as connection:
        left_codes = set(connection.execute(select(verification_codes.c.request_id)).scalars())
        left_messages = set(connection.execute(select(outbox.c.id)).scalars())
    assert left_codes == {codes["used an hour ago"], codes["expired an hour ago"], codes["live"]}
    assert left_messages == {messages["sent 29 days ago"], messages["dead for long"]}
    assert package_info(home, valid).package_id == valid
    assert not leftover.exists()
    assert steward.count("requests") == 5  # request records are the workflow's business

    assert steward.count("audit_events") == audit_before + 1
    with steward.store.reading() as tx:
        event = tx.audit_entries(action="retention.housekeeping", limit=1)[0]
    assert dict(event.details) == {
        "verification_codes": 2,
        "outbox_messages": 1,
        "packages": 1,
        "staging_files": 1,
    }
    assert all(result.ok for result in verify_store(steward.store).values())

    again = housekeeping(
        SqlHousekeeping(steward.store), home=home, clock=steward.clock, actor="test:ops"
    )
    assert (again.verification_codes, again.outbox_messages, again.packages) == (0, 0, ())
