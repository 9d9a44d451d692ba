"""The audit log: hash-chained, append-only records of every state change."""

from datasteward.audit.chain import (
    GENESIS_HASH,
    ChainHead,
    ChainRow,
    VerifyResult,
    row_hash,
    verify_chain,
)

__all__ = ["GENESIS_HASH", "ChainHead", "ChainRow", "VerifyResult", "row_hash", "verify_chain"]
