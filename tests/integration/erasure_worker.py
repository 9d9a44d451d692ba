"""One erasure run in a process of its own, for the tests that kill it
(tests/integration/test_erasure_sigkill.py).

Reads its settings from the ``ERASURE_WORKER`` environment variable (JSON:
shop URL, engine-store URL, request id, the subject's identities, the
clock's time, the master key) and does what a request worker does: audits
that the run started, erases with checkpoints in the engine store, audits
the outcome, and prints the report as JSON. With ``kill_after_commit`` it
kills itself with SIGKILL at the first checkpoint, i.e. after the company
database committed and before the engine store heard of it."""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from datasteward.clock import FixedClock
from datasteward.connectors import sql_connectors
from datasteward.crypto import Keyring, MasterKey
from datasteward.fulfilment.service import Fulfilment, erasure_hash_key
from datasteward.identity import parse_identity
from datasteward.policy import load_policy_file
from datasteward.store.checkpoint_store import SqlCheckpoints
from datasteward.store.engine import make_engine
from datasteward.store.sql_store import SqlEngineStore

POLICY_FILE = Path(__file__).resolve().parents[2] / "examples" / "shop" / "policy.yaml"


class KillOnRecord(SqlCheckpoints):
    def record(self, request_id: str, system: str, dataset: str, result: dict[str, Any]) -> None:
        os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    args = json.loads(os.environ["ERASURE_WORKER"])
    request_id = str(args["request_id"])
    clock = FixedClock(datetime.fromisoformat(args["now"]))
    key = MasterKey(kid=args["kid"], secret=bytes.fromhex(args["secret"]))
    keyring = Keyring([key], key.kid)
    engine = make_engine(args["store"])
    store = SqlEngineStore(engine)
    checkpoints = (KillOnRecord if args.get("kill_after_commit") else SqlCheckpoints)(engine, clock)

    def audit(action: str, details: dict[str, Any]) -> None:
        with store.transaction() as tx:
            tx.audit(
                at=clock.now(),
                actor="test:erasure-worker",
                action=action,
                object_type="request",
                object_id=request_id,
                reason="erasure run",
                policy_version=None,
                details=details,
            )

    audit("erasure.started", {"pid": os.getpid()})
    with Fulfilment(
        load_policy_file(POLICY_FILE).policy,
        connectors=sql_connectors({"SHOP_DATABASE_URL": args["shop"]}),
        keyring=keyring,
        home=Path(args["home"]),
        clock=clock,
        hash_key=erasure_hash_key(keyring),
    ) as fulfilment:
        report = fulfilment.erase(
            [parse_identity(text) for text in args["identities"]],
            checkpoints=checkpoints,
            request_id=request_id,
        )
    audit(
        "erasure.finished",
        {"complete": report.complete, "ran": report.ran, "resumed": report.resumed},
    )
    engine.dispose()
    sys.stdout.write(json.dumps(report.to_dict()) + "\n")


if __name__ == "__main__":
    main()
