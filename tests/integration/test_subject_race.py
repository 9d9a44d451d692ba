"""Two first consents for the same new person at the same moment must end in
one subject, one identity and one data key, with both consents recorded."""

from __future__ import annotations

import threading
import traceback

from tests.integration.conftest import Steward

ROUNDS = 5
THREADS = 4
TIMEOUT = 120


def test_concurrent_first_consents_create_one_subject(steward: Steward) -> None:
    errors: list[str] = []
    for round_number in range(ROUNDS):
        email = f"email:race{round_number}@zala-plava.example"
        barrier = threading.Barrier(THREADS)

        def give(email: str = email, barrier: threading.Barrier = barrier) -> None:
            try:
                barrier.wait(timeout=TIMEOUT)
                steward.give(email)
            except Exception:
                errors.append(traceback.format_exc())

        threads = [threading.Thread(target=give) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=TIMEOUT)
        assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert steward.count("subjects") == ROUNDS
    assert steward.count("identities") == ROUNDS
    assert steward.count("subject_keys") == ROUNDS
    assert steward.count("consent_events") == ROUNDS * THREADS
    subject_ids = {row["subject_id"] for row in steward.rows("consent_events")}
    assert len(subject_ids) == ROUNDS
