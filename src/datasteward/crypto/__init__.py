"""The keyring: encryption at rest, blind indexes and per-subject data keys.

An adapter. The master key (from ``STEWARD_SECRET_KEY`` or the key file)
derives an encryption key and a blind-index key; each data subject gets a
random data key, stored only wrapped by the master key, so destroying it
crypto-shreds everything sealed for that subject. See ``docs/keyring.md``.
"""

from datasteward.crypto.aead import new_data_key, open_sealed, seal
from datasteward.crypto.keyfile import (
    KEY_ENV_VAR,
    KEY_FILE_NAME,
    create_key_file,
    load_keyring,
    save_key_file,
)
from datasteward.crypto.keyring import Keyring, MasterKey

__all__ = [
    "KEY_ENV_VAR",
    "KEY_FILE_NAME",
    "Keyring",
    "MasterKey",
    "create_key_file",
    "load_keyring",
    "new_data_key",
    "open_sealed",
    "save_key_file",
    "seal",
]
