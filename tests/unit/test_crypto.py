"""The keyring: what it encrypts opens only with the right key and context,
any alteration is a clean ``DecryptionFailed``/``KeyUnavailable``, indexes are
keyed, destroyed data keys stay destroyed, and secrets never leak into text
or files others can read."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import os
import pickle
import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given
from hypothesis import strategies as st

from datasteward.crypto import (
    KEY_FILE_NAME,
    Keyring,
    MasterKey,
    create_key_file,
    load_keyring,
    new_data_key,
    open_sealed,
    save_key_file,
    seal,
)
from datasteward.errors import DecryptionFailed, KeyUnavailable, UsageError

SECRET_A = bytes(range(32))
SECRET_B = bytes(range(100, 132))
KEY_A = MasterKey(kid="k-0000000a", secret=SECRET_A)
KEY_B = MasterKey(kid="k-0000000b", secret=SECRET_B)
RING = Keyring([KEY_A], KEY_A.kid)
RING_AB = Keyring([KEY_A, KEY_B], KEY_B.kid)
CLEAN_FAILURES = (DecryptionFailed, KeyUnavailable)
EMAIL = "ana.berzina@example.lv"


def _hkdf(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


def _secret_forms(secret: bytes) -> list[str]:
    """Every text form in which a leaked secret would be recognisable."""
    return [
        secret.hex(),
        secret.hex().upper(),
        base64.b64encode(secret).decode(),
        base64.urlsafe_b64encode(secret).decode(),
        base64.urlsafe_b64encode(secret).decode().rstrip("="),
        repr(secret),
        str(list(secret)),
    ]


def _bit_flips(token: bytes) -> Iterator[tuple[int, bytes]]:
    for position in range(len(token)):
        for bit in range(8):
            altered = bytearray(token)
            altered[position] ^= 1 << bit
            yield position, bytes(altered)


@pytest.fixture
def private_umask() -> Iterator[None]:
    """A permissive umask, so only the code (not the umask) can make files private."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


# --- master-key encryption -------------------------------------------------


@given(plaintext=st.binary(max_size=512), aad=st.binary(max_size=64))
def test_encrypt_decrypt_round_trip(plaintext: bytes, aad: bytes) -> None:
    token = RING_AB.encrypt(plaintext, aad=aad)
    assert RING_AB.decrypt(token, aad=aad) == plaintext
    assert RING_AB.kid_of(token) == KEY_B.kid


@given(plaintext=st.binary(max_size=512), aad=st.binary(max_size=64))
def test_seal_open_round_trip(plaintext: bytes, aad: bytes) -> None:
    data_key = new_data_key()
    assert open_sealed(data_key, seal(data_key, plaintext, aad=aad), aad=aad) == plaintext


def test_same_plaintext_encrypts_differently_each_time() -> None:
    assert RING.encrypt(b"Ana") != RING.encrypt(b"Ana")
    key = new_data_key()
    assert seal(key, b"Ana") != seal(key, b"Ana")
    assert len(key) == 32 and new_data_key() != key


def test_token_format_is_the_documented_one() -> None:
    """Version, kid length, kid, nonce, ciphertext||tag under the HKDF-derived key."""
    token = RING.encrypt(b"Ana", aad=b"ctx")
    kid = KEY_A.kid.encode()
    header = bytes([1, len(kid)]) + kid
    assert token.startswith(header)
    nonce, body = token[len(header) : len(header) + 12], token[len(header) + 12 :]
    enc_key = _hkdf(SECRET_A, b"datasteward/v1/encrypt")
    assert AESGCM(enc_key).decrypt(nonce, body, header + b"ctx") == b"Ana"
    with pytest.raises(InvalidTag):
        AESGCM(SECRET_A).decrypt(nonce, body, header + b"ctx")  # never the raw master key


def test_aad_mismatch_fails() -> None:
    token = RING.encrypt(b"Ana", aad=b"identity:email")
    with pytest.raises(DecryptionFailed):
        RING.decrypt(token, aad=b"identity:phone")
    with pytest.raises(DecryptionFailed):
        RING.decrypt(token)
    key = new_data_key()
    sealed = seal(key, b"Ana", aad=b"consent:1")
    with pytest.raises(DecryptionFailed):
        open_sealed(key, sealed, aad=b"consent:2")


def test_every_bit_flip_fails_cleanly() -> None:
    token = RING_AB.encrypt(b"SIA Zala Plava", aad=b"ctx")
    outcomes: dict[type[Exception], int] = {}
    for _, altered in _bit_flips(token):
        with pytest.raises(CLEAN_FAILURES) as caught:
            RING_AB.decrypt(altered, aad=b"ctx")
        outcomes[caught.type] = outcomes.get(caught.type, 0) + 1
    # flips in nonce, ciphertext and tag fail authentication; some kid flips name unknown keys
    assert outcomes[DecryptionFailed] > 8 * (12 + 16)
    assert outcomes.get(KeyUnavailable, 0) > 0


def test_every_truncation_and_extension_fails_cleanly() -> None:
    token = RING.encrypt(b"Ana", aad=b"ctx")
    for length in range(len(token)):
        with pytest.raises(CLEAN_FAILURES):
            RING.decrypt(token[:length], aad=b"ctx")
    with pytest.raises(DecryptionFailed):
        RING.decrypt(token + b"\x00", aad=b"ctx")


def test_swapping_the_kid_for_another_held_key_fails() -> None:
    """The header is authenticated: relabelling a token for another key does not open it."""
    token = RING_AB.encrypt(b"Ana")
    relabelled = token.replace(KEY_B.kid.encode(), KEY_A.kid.encode(), 1)
    assert RING_AB.kid_of(relabelled) == KEY_A.kid
    with pytest.raises(DecryptionFailed):
        RING_AB.decrypt(relabelled)


@given(st.binary(max_size=80))
def test_arbitrary_bytes_never_open_and_fail_cleanly(garbage: bytes) -> None:
    attempts: list[Callable[[], bytes]] = [
        lambda: RING.decrypt(garbage),
        lambda: RING.unwrap_data_key(garbage, "subject-1"),
        lambda: open_sealed(SECRET_A, garbage),
    ]
    for attempt in attempts:
        with pytest.raises(CLEAN_FAILURES):
            attempt()


def test_every_bit_flip_and_truncation_of_a_sealed_value_fails_cleanly() -> None:
    key = new_data_key()
    token = seal(key, b"Ana Berzina", aad=b"ctx")
    for _, altered in _bit_flips(token):
        with pytest.raises(DecryptionFailed):
            open_sealed(key, altered, aad=b"ctx")
    for length in range(len(token)):
        with pytest.raises(DecryptionFailed):
            open_sealed(key, token[:length], aad=b"ctx")
    with pytest.raises(DecryptionFailed):
        open_sealed(key[:16], token, aad=b"ctx")


def test_unknown_kid_is_key_unavailable_and_names_the_kid() -> None:
    token = RING_AB.encrypt(b"Ana")
    with pytest.raises(KeyUnavailable, match=KEY_B.kid):
        RING.decrypt(token)


def test_bytes_like_tokens_are_accepted() -> None:
    token = RING.encrypt(b"Ana")
    assert RING.decrypt(memoryview(token)) == b"Ana"
    assert RING.decrypt(bytearray(token)) == b"Ana"


# --- rotation ---------------------------------------------------------------


def test_rotation_keeps_old_keys_and_encrypts_with_the_new_one() -> None:
    old_token = RING.encrypt(b"Ana", aad=b"ctx")
    rotated = RING.rotated()
    assert rotated.kids[:-1] == RING.kids
    assert rotated.active_kid == rotated.kids[-1] != RING.active_kid
    assert rotated.active_kid.startswith("k-") and len(rotated.active_kid) == 10
    assert rotated.decrypt(old_token, aad=b"ctx") == b"Ana"
    new_token = rotated.encrypt(b"Ana", aad=b"ctx")
    assert rotated.kid_of(new_token) == rotated.active_kid
    with pytest.raises(KeyUnavailable):
        RING.decrypt(new_token, aad=b"ctx")
    assert RING.active_kid == KEY_A.kid  # the original keyring is unchanged


def test_keyring_construction_rejects_inconsistent_keys() -> None:
    with pytest.raises(KeyUnavailable):
        Keyring([], "k-0000000a")
    with pytest.raises(KeyUnavailable, match="twice"):
        Keyring([KEY_A, MasterKey(kid=KEY_A.kid, secret=SECRET_B)], KEY_A.kid)
    with pytest.raises(KeyUnavailable, match="k-missing"):
        Keyring([KEY_A], "k-missing")
    with pytest.raises(KeyUnavailable, match="32 bytes"):
        MasterKey(kid="k-short", secret=b"\x01" * 16)
    with pytest.raises(KeyUnavailable, match="not valid"):
        MasterKey(kid="bad kid\n", secret=SECRET_A)


# --- blind index ------------------------------------------------------------


def test_blind_index_is_deterministic_keyed_and_separated() -> None:
    index = RING_AB.blind_index("email", EMAIL)
    assert index == RING_AB.blind_index("email", EMAIL)
    assert index == Keyring([KEY_B], KEY_B.kid).blind_index("email", EMAIL)
    assert len(index) == 64 and int(index, 16) >= 0
    assert index != RING_AB.blind_index("customer_id", EMAIL)
    assert index != RING_AB.blind_index("email", EMAIL, kid=KEY_A.kid)
    assert index != RING_AB.blind_index("email", "ana.berzina@example.com")
    plain = {hashlib.sha256(v.encode()).hexdigest() for v in (EMAIL, "email\x00" + EMAIL)}
    assert index not in plain
    assert index != hmac.new(SECRET_B, b"email\x00" + EMAIL.encode(), "sha256").hexdigest()


def test_blind_index_uses_the_documented_derived_key() -> None:
    """Stored indexes must survive upgrades, so the derivation is pinned."""
    index_key = _hkdf(SECRET_A, b"datasteward/v1/blind-index")
    expected = hmac.new(index_key, b"email\x00" + EMAIL.encode(), "sha256").hexdigest()
    assert RING.blind_index("email", EMAIL) == expected
    assert index_key != _hkdf(SECRET_A, b"datasteward/v1/encrypt")


def test_blind_index_kind_cannot_smuggle_a_separator() -> None:
    with pytest.raises(ValueError):
        RING.blind_index("email\x00x", "y")


def test_blind_indexes_cover_every_kid_for_lookups_across_rotation() -> None:
    before = RING.blind_index("email", EMAIL)
    rotated = RING.rotated()
    indexes = rotated.blind_indexes("email", EMAIL)
    assert len(indexes) == len(rotated.kids) == 2
    assert indexes[0] == before
    assert indexes[1] == rotated.blind_index("email", EMAIL)
    with pytest.raises(KeyUnavailable):
        RING.blind_index("email", EMAIL, kid="k-unknown")


# --- subject data keys and crypto-shredding ---------------------------------


def test_wrapped_data_key_opens_only_for_its_subject() -> None:
    data_key = new_data_key()
    wrapped = RING_AB.wrap_data_key(data_key, "subject-ana")
    assert data_key not in wrapped
    assert RING_AB.kid_of(wrapped) == KEY_B.kid
    assert RING_AB.unwrap_data_key(wrapped, "subject-ana") == data_key
    with pytest.raises(DecryptionFailed):
        RING_AB.unwrap_data_key(wrapped, "subject-janis")
    with pytest.raises(DecryptionFailed):
        RING_AB.decrypt(wrapped)  # plain decryption does not strip the binding
    assert RING_AB.rotated().unwrap_data_key(wrapped, "subject-ana") == data_key
    with pytest.raises(ValueError):
        RING_AB.wrap_data_key(b"short", "subject-ana")


def test_unwrap_refuses_a_value_that_is_not_a_data_key() -> None:
    wrapped_like = RING.encrypt(b"not a key", aad=b"subject-key:subject-ana")
    with pytest.raises(DecryptionFailed):
        RING.unwrap_data_key(wrapped_like, "subject-ana")


def test_crypto_shredding_nothing_in_the_keyring_opens_data_once_its_key_is_gone() -> None:
    data_key = new_data_key()
    sealed = seal(data_key, b"Ana Berzina, +371 2000 0000", aad=b"identity")
    wrapped = RING_AB.wrap_data_key(data_key, "subject-ana")
    assert open_sealed(RING_AB.unwrap_data_key(wrapped, "subject-ana"), sealed, aad=b"identity")

    del data_key, wrapped  # the subject's key is destroyed: only the sealed data remains

    for key in RING_AB.keys:
        candidates = [
            key.secret,
            _hkdf(key.secret, b"datasteward/v1/encrypt"),
            _hkdf(key.secret, b"datasteward/v1/blind-index"),
        ]
        for candidate in candidates:
            with pytest.raises(DecryptionFailed):
                open_sealed(candidate, sealed, aad=b"identity")
    with pytest.raises(CLEAN_FAILURES):
        RING_AB.decrypt(sealed, aad=b"identity")
    with pytest.raises(DecryptionFailed):
        open_sealed(new_data_key(), sealed, aad=b"identity")


# --- secrets stay secret ----------------------------------------------------


def test_repr_and_str_never_show_secrets() -> None:
    rotated = RING_AB.rotated()
    texts = [repr(KEY_A), str(KEY_A), repr(rotated), str(rotated), f"{rotated}", f"{KEY_B!r}"]
    assert KEY_A.kid in repr(KEY_A) and KEY_B.kid in repr(rotated)
    for key in rotated.keys:
        for form in _secret_forms(key.secret):
            for text in texts:
                assert form not in text


def test_keys_refuse_to_be_pickled() -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(RING)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(KEY_A)
    assert copy.deepcopy(RING) is RING and copy.copy(KEY_A) is KEY_A


# --- loading the master key -------------------------------------------------


def test_no_key_anywhere_says_how_to_get_one(tmp_path: Path) -> None:
    message = "no master key: run `steward init` or set STEWARD_SECRET_KEY"
    with pytest.raises(KeyUnavailable, match=r"^no master key: run `steward init`") as caught:
        load_keyring(env={}, key_file=None)
    assert caught.value.message == message
    with pytest.raises(KeyUnavailable) as caught:
        load_keyring(env={}, key_file=tmp_path / KEY_FILE_NAME)
    assert caught.value.message.startswith(message)
    assert str(tmp_path / KEY_FILE_NAME) in caught.value.message


def test_env_key_wins_over_the_key_file(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE_NAME
    from_file = create_key_file(path)
    secret = os.urandom(32)
    value = base64.urlsafe_b64encode(secret).decode()
    ring = load_keyring(env={"STEWARD_SECRET_KEY": value}, key_file=path)
    assert ring.kids == ("env-" + hashlib.sha256(secret).hexdigest()[:8],)
    assert ring.kids != from_file.kids
    assert ring.keys[0].secret == secret
    assert load_keyring(env={}, key_file=path).kids == from_file.kids


def test_env_key_tolerates_missing_padding_and_a_trailing_newline() -> None:
    secret = os.urandom(32)
    value = base64.urlsafe_b64encode(secret).decode()
    for variant in (value.rstrip("="), value + "\n", f"  {value}  "):
        assert load_keyring(env={"STEWARD_SECRET_KEY": variant}, key_file=None).keys[0].secret == (
            secret
        )


@pytest.mark.parametrize(
    "value",
    [
        "",
        "correct horse battery staple",
        base64.urlsafe_b64encode(b"S" * 31).decode(),
        base64.urlsafe_b64encode(b"S" * 33).decode(),
        base64.urlsafe_b64encode(b"S" * 32).decode()[:-3] + "!!=",
        (b"S" * 32).hex(),
    ],
    ids=["empty", "passphrase", "31-bytes", "33-bytes", "bad-chars", "hex"],
)
def test_malformed_env_key_is_refused_without_echoing_it(value: str) -> None:
    with pytest.raises(KeyUnavailable, match="STEWARD_SECRET_KEY") as caught:
        load_keyring(env={"STEWARD_SECRET_KEY": value}, key_file=None)
    if value:
        assert value not in caught.value.message
        assert value[:12] not in caught.value.message


# --- the key file -----------------------------------------------------------


def test_created_key_file_is_exactly_0600_whatever_the_umask(
    tmp_path: Path, private_umask: None
) -> None:
    for umask in (0o000, 0o022, 0o277):
        os.umask(umask)
        path = tmp_path / f"u{umask:o}" / KEY_FILE_NAME
        ring = create_key_file(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
        assert load_keyring(env={}, key_file=path).kids == ring.kids


def test_key_file_has_the_documented_format(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE_NAME
    ring = create_key_file(path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["format"] == 1
    assert doc["active"] == ring.active_kid
    [entry] = doc["keys"]
    assert entry["kid"] == ring.active_kid and entry["kid"].startswith("k-")
    int(entry["kid"][2:], 16)
    assert base64.urlsafe_b64decode(entry["key"]) == ring.keys[0].secret
    assert entry["created"].endswith("+00:00")


def test_create_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE_NAME
    create_key_file(path)
    before = path.read_bytes()
    with pytest.raises(UsageError, match="refusing to overwrite"):
        create_key_file(path)
    assert path.read_bytes() == before


def test_create_refuses_a_symlink_planted_at_the_path(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    (tmp_path / KEY_FILE_NAME).symlink_to(target)
    with pytest.raises(UsageError):
        create_key_file(tmp_path / KEY_FILE_NAME)
    assert not target.exists()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606])
def test_load_refuses_a_key_file_others_can_access(tmp_path: Path, mode: int) -> None:
    path = tmp_path / KEY_FILE_NAME
    create_key_file(path)
    path.chmod(mode)
    with pytest.raises(KeyUnavailable, match=re.escape(f"chmod 600 {path}")):
        load_keyring(env={}, key_file=path)
    path.chmod(0o400)
    assert load_keyring(env={}, key_file=path).kids


def _write_key_file(path: Path, doc: object) -> None:
    path.write_text(json.dumps(doc), encoding="utf-8")
    path.chmod(0o600)


GOOD_KEY = base64.urlsafe_b64encode(SECRET_A).decode()


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ("{not json", "not valid JSON"),
        ([], "JSON object"),
        ({"format": 2, "active": "k-1", "keys": []}, "format 2"),
        ({"format": 1, "keys": [{"kid": "k-1", "key": GOOD_KEY}]}, "'active'"),
        ({"format": 1, "active": "k-1", "keys": []}, "'keys'"),
        ({"format": 1, "active": "k-1", "keys": ["x"]}, r"keys\[0\] must be an object"),
        ({"format": 1, "active": "k-1", "keys": [{"kid": "k-1"}]}, "'key'"),
        (
            {"format": 1, "active": "k-1", "keys": [{"kid": "k-1", "key": GOOD_KEY[:20]}]},
            "32 bytes",
        ),
        (
            {"format": 1, "active": "k-1", "keys": [{"kid": "k 1", "key": GOOD_KEY}]},
            "not valid",
        ),
        ({"format": 1, "active": "k-2", "keys": [{"kid": "k-1", "key": GOOD_KEY}]}, "k-2"),
        (
            {
                "format": 1,
                "active": "k-1",
                "keys": [{"kid": "k-1", "key": GOOD_KEY}, {"kid": "k-1", "key": GOOD_KEY}],
            },
            "twice",
        ),
        (
            {
                "format": 1,
                "active": "k-1",
                "keys": [{"kid": "k-1", "key": GOOD_KEY, "created": "yesterday"}],
            },
            "'created'",
        ),
    ],
)
def test_malformed_key_file_gives_a_precise_reason_without_the_key(
    tmp_path: Path, doc: object, reason: str
) -> None:
    path = tmp_path / KEY_FILE_NAME
    if isinstance(doc, str):
        path.write_text(doc, encoding="utf-8")
        path.chmod(0o600)
    else:
        _write_key_file(path, doc)
    with pytest.raises(KeyUnavailable, match=reason) as caught:
        load_keyring(env={}, key_file=path)
    assert str(path) in caught.value.message
    assert GOOD_KEY[:20] not in caught.value.message


def test_save_and_load_round_trip_after_rotation(tmp_path: Path, private_umask: None) -> None:
    path = tmp_path / KEY_FILE_NAME
    first = create_key_file(path)
    created = json.loads(path.read_text(encoding="utf-8"))["keys"][0]["created"]
    token = first.encrypt(b"Ana", aad=b"ctx")
    index = first.blind_index("email", EMAIL)

    rotated = load_keyring(env={}, key_file=path).rotated()
    save_key_file(path, rotated)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [KEY_FILE_NAME]  # no temp left over
    loaded = load_keyring(env={}, key_file=path)
    assert loaded.kids == rotated.kids == (first.active_kid, rotated.active_kid)
    assert loaded.active_kid == rotated.active_kid
    assert loaded.decrypt(token, aad=b"ctx") == b"Ana"
    assert index in loaded.blind_indexes("email", EMAIL)
    assert json.loads(path.read_text(encoding="utf-8"))["keys"][0]["created"] == created


def test_save_refuses_to_drop_a_key_the_file_holds(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE_NAME
    original = create_key_file(path)
    before = path.read_bytes()
    replacement = Keyring([KEY_A], KEY_A.kid)
    with pytest.raises(UsageError, match=original.active_kid):
        save_key_file(path, replacement)
    assert path.read_bytes() == before
    save_key_file(path, replacement, allow_key_removal=True)
    assert load_keyring(env={}, key_file=path).kids == (KEY_A.kid,)


def test_save_refuses_a_keyring_from_the_environment(tmp_path: Path) -> None:
    value = base64.urlsafe_b64encode(os.urandom(32)).decode()
    ring = load_keyring(env={"STEWARD_SECRET_KEY": value}, key_file=None)
    path = tmp_path / KEY_FILE_NAME
    for candidate in (ring, ring.rotated()):
        with pytest.raises(UsageError, match="STEWARD_SECRET_KEY") as caught:
            save_key_file(path, candidate)
        assert value not in caught.value.message
    assert list(tmp_path.iterdir()) == []
