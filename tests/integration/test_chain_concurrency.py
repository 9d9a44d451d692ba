import multiprocessing
import sys

from tests.integration.conftest import Steward


def work(q: "multiprocessing.Queue[str]") -> None:
    q.put(__name__)


def test_probe() -> None:
    print(__name__, Steward, sys.modules.get("tests"))
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=work, args=(q,))
    p.start()
    print("child:", q.get(timeout=60))
    p.join()
    assert p.exitcode == 0
