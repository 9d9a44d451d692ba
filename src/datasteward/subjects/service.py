"""Finding and creating data subjects by their identities (use case).

An identity is stored twice, neither time in clear: as a keyed blind index
(HMAC of the normalised value, for lookup) and as a ciphertext under the
subject's own data key (to show it to authorised staff). The data key lives
only wrapped by the master key, in the key store; destroying it
(:meth:`SubjectDirectory.shred`) leaves every copy of the engine store with
ciphertext nobody can open."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from datasteward.clock import Clock
from datasteward.crypto import Keyring, new_data_key, open_sealed, seal
from datasteward.errors import KeyUnavailable, NotFound
from datasteward.identity import Identity
from datasteward.ports import EngineTx, KeyStore, StoredIdentity

__all__ = ["SubjectDirectory"]


def _identity_aad(subject_id: str, kind: str) -> bytes:
    return f"identity:{subject_id}:{kind}".encode()


class SubjectDirectory:
    """Subjects and their identities, over an engine transaction."""

    def __init__(self, keyring: Keyring, keystore: KeyStore, clock: Clock) -> None:
        self.keyring = keyring
        self.keystore = keystore
        self.clock = clock

    def find(self, tx: EngineTx, identity: Identity) -> str | None:
        """The subject id for ``identity``, or None; never reveals more."""
        indexes = self.keyring.blind_indexes(identity.kind, identity.value)
        return tx.find_subject(identity.kind, indexes)

    def find_many(self, tx: EngineTx, identities: Sequence[Identity]) -> dict[Identity, str]:
        """The known subjects of many identities, one query per identity kind."""
        by_kind: dict[str, dict[str, Identity]] = {}
        for identity in dict.fromkeys(identities):
            for index in self.keyring.blind_indexes(identity.kind, identity.value):
                by_kind.setdefault(identity.kind, {})[index] = identity
        found: dict[Identity, str] = {}
        for kind, wanted in by_kind.items():
            for index, subject_id in tx.find_subjects(kind, list(wanted)).items():
                found[wanted[index]] = subject_id
        return found

    def require(self, tx: EngineTx, identity: Identity) -> str:
        subject_id = self.find(tx, identity)
        if subject_id is None:
            raise NotFound("subject", identity.masked())
        return subject_id

    def resolve(self, tx: EngineTx, identity: Identity, *, actor: str) -> tuple[str, bool]:
        """The subject for ``identity``, created with its own data key if new.

        Returns (subject_id, created)."""
        found = self.find(tx, identity)
        if found is not None:
            return found, False
        now = self.clock.now()
        subject_id = str(uuid.uuid4())
        data_key = new_data_key()
        self.keystore.put(
            subject_id,
            self.keyring.active_kid,
            self.keyring.wrap_data_key(data_key, subject_id),
            now,
        )
        winner = tx.claim_subject(subject_id, self._stored(subject_id, identity, data_key), now)
        if winner != subject_id:  # another transaction created this person first
            self.keystore.discard(subject_id)
            return winner, False
        tx.audit(
            at=now,
            actor=actor,
            action="subject.created",
            object_type="subject",
            object_id=subject_id,
            reason=f"first {identity.kind} identity recorded",
            policy_version=None,
            details={"identity_kind": identity.kind},
        )
        return subject_id, True

    def add_identity(
        self, tx: EngineTx, subject_id: str, identity: Identity, *, actor: str
    ) -> None:
        """Attach another identity (a phone, a customer id) to a known subject."""
        now = self.clock.now()
        self._store_identity(tx, subject_id, identity, self.data_key(subject_id), now)
        tx.audit(
            at=now,
            actor=actor,
            action="subject.identity_added",
            object_type="subject",
            object_id=subject_id,
            reason=f"{identity.kind} identity added",
            policy_version=None,
            details={"identity_kind": identity.kind},
        )

    def _store_identity(
        self, tx: EngineTx, subject_id: str, identity: Identity, data_key: bytes, now: datetime
    ) -> None:
        tx.add_identity(self._stored(subject_id, identity, data_key), now)

    def _stored(self, subject_id: str, identity: Identity, data_key: bytes) -> StoredIdentity:
        return StoredIdentity(
            subject_id=subject_id,
            kind=identity.kind,
            blind_index=self.keyring.blind_index(identity.kind, identity.value),
            index_kid=self.keyring.active_kid,
            value_enc=seal(
                data_key,
                identity.value.encode("utf-8"),
                aad=_identity_aad(subject_id, identity.kind),
            ),
        )

    def data_key(self, subject_id: str) -> bytes:
        """The subject's data key; :class:`KeyUnavailable` once shredded."""
        stored = self.keystore.get(subject_id)
        if stored is None or stored.wrapped is None:
            raise KeyUnavailable(
                f"the data key of subject {subject_id} was destroyed or is missing"
            )
        return self.keyring.unwrap_data_key(stored.wrapped, subject_id)

    def reveal(self, tx: EngineTx, subject_id: str) -> list[Identity]:
        """Decrypt a subject's identities (for authorised staff, audited by the caller)."""
        data_key = self.data_key(subject_id)
        return [
            Identity(
                s.kind,
                open_sealed(data_key, s.value_enc, aad=_identity_aad(subject_id, s.kind)).decode(
                    "utf-8"
                ),
            )
            for s in tx.identities_of(subject_id)
        ]

    def shred(self, tx: EngineTx, subject_id: str, *, actor: str, reason: str) -> bool:
        """Destroy the subject's data key (crypto-shredding) and drop the blind
        indexes that could still confirm the person was known; audited."""
        now = self.clock.now()
        destroyed = self.keystore.destroy(subject_id, now)
        removed = tx.delete_identities(subject_id)
        tx.mark_shredded(subject_id, now)
        tx.audit(
            at=now,
            actor=actor,
            action="subject.shredded",
            object_type="subject",
            object_id=subject_id,
            reason=reason,
            policy_version=None,
            details={"key_destroyed": destroyed, "identities_removed": removed},
        )
        return destroyed
