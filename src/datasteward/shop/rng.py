"""Seeded random draws for the shop generator, in two kinds.

Every row of the shop is determined by ``(seed, table, row number)``, so the
generator can stream ten million rows with flat memory and still give an
order the same customer details the customer row has:

* :class:`Rng` draws the attributes of one *entity* that other tables look
  up at random (a customer's sign-up time, name, email). It is SplitMix64
  (Steele, Lea and Flood, 2014), seeded by one multiplication, so an order
  can recompute its customer's details on the spot.
* :class:`ChunkRng` draws the rows of a table in sequence. Rows are taken in
  fixed chunks of :data:`CHUNK` rows, each chunk with a ``random.Random`` of
  its own: Mersenne Twister draws are several times cheaper than SplitMix in
  pure Python, and seeding once per chunk costs nothing per row.

Both produce the same values on every machine: SplitMix64 is plain integer
arithmetic, and Python keeps ``Random.random()`` and ``getrandbits()``
reproducible for an integer seed across versions. Nothing here depends on
the batch size a caller loads with.
"""

from __future__ import annotations

import hashlib
import random
from bisect import bisect_right
from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

__all__ = ["CHUNK", "ChunkRng", "Draws", "Rng", "Weighted", "mix64", "stream_key"]

T = TypeVar("T")

CHUNK = 1024
"""Rows drawn from one :class:`ChunkRng`."""

_MASK = 0xFFFF_FFFF_FFFF_FFFF
_GAMMA = 0x9E37_79B9_7F4A_7C15
_TWO_64 = float(1 << 64)
_UNIT = 1.0 / (1 << 53)


def mix64(value: int) -> int:
    """The SplitMix64 finaliser: a bijection on 64-bit integers that spreads
    every input bit over every output bit."""
    z = value & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D0_49BB_1331_11EB) & _MASK
    return z ^ (z >> 31)


def stream_key(seed: int, name: str) -> int:
    """A 64-bit key for one named stream of a seed (a table, a chunk of it,
    or one aspect of an entity). Streams of different names are unrelated."""
    digest = hashlib.blake2b(f"{seed}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class Draws(Protocol):
    """What the generators draw from; both kinds of stream provide it."""

    def bits(self) -> int: ...
    def unit(self) -> float: ...
    def below(self, n: int) -> int: ...
    def between(self, low: int, high: int) -> int: ...
    def chance(self, probability: float) -> bool: ...
    def pick(self, items: Sequence[T]) -> T: ...


class Rng:
    """The draws of one entity: ``Rng(stream_key(seed, "customer"), 17)``."""

    __slots__ = ("_state",)

    def __init__(self, key: int, index: int) -> None:
        self._state = mix64(key + index * _GAMMA)

    def bits(self) -> int:
        """64 uniformly random bits."""
        state = self._state = (self._state + _GAMMA) & _MASK
        z = ((state ^ (state >> 30)) * 0xBF58_476D_1CE4_E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D0_49BB_1331_11EB) & _MASK
        return z ^ (z >> 31)

    def unit(self) -> float:
        """A float in ``[0, 1)`` with 53 random bits."""
        return (self.bits() >> 11) * _UNIT

    def below(self, n: int) -> int:
        """A uniform integer in ``[0, n)`` (multiply-shift; bias below 2**-30)."""
        return (self.bits() * n) >> 64

    def between(self, low: int, high: int) -> int:
        """A uniform integer in ``[low, high]``."""
        return low + ((self.bits() * (high - low + 1)) >> 64)

    def chance(self, probability: float) -> bool:
        """True with the given probability."""
        return self.bits() < probability * _TWO_64

    def pick(self, items: Sequence[T]) -> T:
        """One item, uniformly."""
        return items[(self.bits() * len(items)) >> 64]


class ChunkRng(random.Random):
    """The draws of one chunk of rows of a table, in sequence.

    Only ``random()`` and ``getrandbits()`` are used underneath: those are
    the methods Python keeps reproducible across versions."""

    def __init__(self, seed: int, table: str, chunk: int) -> None:
        super().__init__(stream_key(seed, f"{table}/{chunk}"))

    def bits(self) -> int:
        return self.getrandbits(64)

    def unit(self) -> float:
        return self.random()

    def below(self, n: int) -> int:
        return int(self.random() * n)

    def between(self, low: int, high: int) -> int:
        return low + int(self.random() * (high - low + 1))

    def chance(self, probability: float) -> bool:
        return self.random() < probability

    def pick(self, items: Sequence[T]) -> T:
        return items[int(self.random() * len(items))]


class Weighted(Generic[T]):
    """Items with relative weights, drawn with one uniform number and a
    binary search over the cumulative shares."""

    __slots__ = ("_items", "_shares")

    def __init__(self, pairs: Sequence[tuple[T, float]]) -> None:
        total = sum(weight for _, weight in pairs)
        if not pairs or total <= 0 or any(weight < 0 for _, weight in pairs):
            raise ValueError("weighted choice needs items with non-negative weights")
        running = 0.0
        shares: list[float] = []
        for _, weight in pairs:
            running += weight
            shares.append(running / total)
        shares[-1] = 1.0
        self._items = tuple(item for item, _ in pairs)
        self._shares = shares

    @property
    def items(self) -> tuple[T, ...]:
        return self._items

    def draw(self, rng: Draws) -> T:
        return self._items[bisect_right(self._shares, rng.unit())]
