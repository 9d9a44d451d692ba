import multiprocessing
from pathlib import Path

import pytest

from tests.integration.conftest import Steward

ROOT = Path(__file__).resolve().parents[2]


def work(q: "multiprocessing.Queue[str]") -> None:
    q.put(__name__ + repr(Steward))


def test_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=work, args=(q,))
    p.start()
    print("child:", q.get(timeout=60))
    p.join()
    assert p.exitcode == 0
