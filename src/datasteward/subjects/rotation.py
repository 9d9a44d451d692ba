"""Master key rotation (use case behind ``steward keys rotate``).

Order matters for safety: the new key file (old keys kept, new one active) is
saved first; then every subject key is re-wrapped and every identity
re-indexed under the new key. A crash in between loses nothing: both keys
are in the file, ciphertexts name their key, and lookups try every key's
blind index. Running rotation again simply finishes the job with a newer key."""

from __future__ import annotations

from collections.abc import Callable

from datasteward.clock import Clock
from datasteward.crypto import Keyring
from datasteward.ports import EngineStore, KeyStore
from datasteward.subjects.service import SubjectDirectory

__all__ = ["rotate_keys"]


def rotate_keys(
    store: EngineStore,
    keystore: KeyStore,
    keyring: Keyring,
    *,
    save: Callable[[Keyring], None],
    actor: str,
    clock: Clock,
) -> dict[str, object]:
    """Rotate to a fresh master key; returns counts for the report."""
    new = keyring.rotated()
    save(new)
    directory = SubjectDirectory(new, keystore, clock)
    rewrapped = 0
    for stored in keystore.all_keys():
        if stored.wrapped is None or stored.kid == new.active_kid:
            continue
        data_key = new.unwrap_data_key(stored.wrapped, stored.subject_id)
        keystore.rewrap(
            stored.subject_id, new.active_kid, new.wrap_data_key(data_key, stored.subject_id)
        )
        rewrapped += 1
    reindexed = 0
    with store.transaction() as tx:
        stale = [i for i in tx.all_identities() if i.index_kid != new.active_kid]
        by_subject: dict[str, list[str]] = {}
        for item in stale:
            by_subject.setdefault(item.subject_id, []).append(item.blind_index)
        for subject_id in by_subject:
            for identity in directory.reveal(tx, subject_id):
                old_indexes = set(new.blind_indexes(identity.kind, identity.value))
                for old in old_indexes & set(by_subject[subject_id]):
                    tx.reindex_identity(
                        subject_id,
                        identity.kind,
                        old,
                        new.blind_index(identity.kind, identity.value),
                        new.active_kid,
                    )
                    reindexed += 1
        tx.audit(
            at=clock.now(),
            actor=actor,
            action="keys.rotated",
            object_type="keyring",
            object_id=new.active_kid,
            reason="master key rotated",
            policy_version=None,
            details={"rewrapped": rewrapped, "reindexed": reindexed, "kids": list(new.kids)},
        )
    return {"active_kid": new.active_kid, "rewrapped": rewrapped, "reindexed": reindexed}
