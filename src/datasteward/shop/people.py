"""Invented people: names, birth dates, personal codes, phones, emails and
IP addresses, each derived from a person's ordinal number.

Uniqueness is built in rather than checked afterwards (checking would need
every earlier row in memory). A person's ordinal goes through a fixed
bijection (:class:`Permutation`) to a number that then *is* the birth date
and serial of the personal code, the subscriber part of the phone number,
and the digits of the email address. Two ordinals never share a personal
code, a phone number or an email; yet neighbouring ordinals look unrelated.

Email addresses of different kinds of people are kept apart by the
character before their digits: none for customers, ``.`` for newsletter
subscribers who are not customers, ``_`` for people who only wrote through
the contact form, ``-`` for sellers. Names contain letters only, so the
digits and that character always identify the namespace.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from datasteward.shop.identifiers import (
    NATIONAL_ID_COUNTRIES,
    lv_personal_code_2017,
    mobile_phone,
    national_id,
)
from datasteward.shop.names import (
    COUNTRIES,
    COUNTRY_WEIGHTS,
    GLOBAL_MAIL_DOMAINS,
    ascii_name,
)
from datasteward.shop.rng import Draws, Weighted

__all__ = [
    "BIRTH_FIRST",
    "BIRTH_LAST",
    "COUNTRY_CHOICE",
    "EMAIL_NUMBERS",
    "EPOCH",
    "MAX_ORDINAL",
    "PERSON_NUMBERS",
    "PHONE_NUMBERS",
    "Namespace",
    "Permutation",
    "Person",
    "customer_email_number",
    "email_address",
    "invent_person",
    "ip_address",
    "ipv6_text",
    "seconds",
    "to_datetime",
]

EPOCH = datetime(1970, 1, 1)
"""Times are handled as whole seconds since this instant (naive, UTC)."""

BIRTH_FIRST = date(1950, 1, 1)
BIRTH_LAST = date(2006, 12, 31)

COUNTRY_CHOICE: Weighted[str] = Weighted(COUNTRY_WEIGHTS)

MAX_ORDINAL = 4_000_000
"""Customer ids stay below this; sellers are numbered from it. Every
permutation below is then a bijection on the ordinals used."""


def to_datetime(value: int) -> datetime:
    """The instant ``value`` seconds after :data:`EPOCH`."""
    return EPOCH + timedelta(seconds=value)


def seconds(moment: datetime) -> int:
    """Whole seconds from :data:`EPOCH` to ``moment`` (naive, UTC)."""
    return int((moment - EPOCH).total_seconds())


class Permutation:
    """``x -> (a * x + b) mod p`` for a prime ``p``: a bijection of ``[0, p)``."""

    __slots__ = ("_a", "_b", "_p")

    def __init__(self, prime: int, a: int, b: int) -> None:
        self._p, self._a, self._b = prime, a % prime, b % prime

    def __call__(self, value: int) -> int:
        if not 0 <= value < self._p:
            raise ValueError(f"{value} is outside the permuted range [0, {self._p})")
        return (self._a * value + self._b) % self._p


EMAIL_NUMBERS = Permutation(1_000_003, 7_919, 0)
"""Digits of an email address: ordinals 1..1,000,002 map to 1..1,000,002
(zero stays zero); larger ordinals are used as they are."""

PHONE_NUMBERS = Permutation(8_999_993, 2_654_435, 1_234_567)
"""Below the 9,000,000 Latvian mobile numbers, the smallest plan used."""

_BIRTH_DAYS = (BIRTH_LAST - BIRTH_FIRST).days + 1
PERSON_NUMBERS = Permutation(20_818_997, 7_654_321, 424_242)
"""Below 1,000 serials on each birth day from 1950 to 2006."""


@dataclass(frozen=True, slots=True)
class Person:
    """An invented person of one country."""

    first_name: str
    last_name: str
    female: bool
    country: str
    birth: date
    national_id: str | None
    phone: str
    ascii_first: str
    ascii_last: str

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


def invent_person(rng: Draws, country: str, ordinal: int, *, national: bool) -> Person:
    """A person of ``country`` whose personal code (when ``national`` and the
    country has a scheme), phone number and birth date follow from
    ``ordinal``; names are drawn from ``rng``."""
    number = PERSON_NUMBERS(ordinal)
    birth = BIRTH_FIRST + timedelta(days=number // 1000)
    serial = number % 1000
    # An EGN carries the sex in the parity of its serial, so Bulgarians' sex follows it.
    female = serial % 2 == 1 if country == "BG" else rng.chance(0.52)
    book = COUNTRIES[country]
    first = rng.pick(book.female if female else book.male)
    male_family, female_family = rng.pick(book.family)
    last = female_family if female else male_family
    code: str | None = None
    if national and country in NATIONAL_ID_COUNTRIES:
        if country == "LV" and rng.chance(0.1):
            code = lv_personal_code_2017(number)
        else:
            code = national_id(country, birth, female, serial)
        if code is None and country == "LV":
            code = lv_personal_code_2017(number) or lv_personal_code_2017(number + 50_000_000)
    phone = mobile_phone(country, PHONE_NUMBERS(ordinal), spaced=rng.chance(0.3))
    return Person(
        first_name=first,
        last_name=last,
        female=female,
        country=country,
        birth=birth,
        national_id=code,
        phone=phone,
        ascii_first=ascii_name(first),
        ascii_last=ascii_name(last),
    )


class Namespace:
    """The character before an email's digits (see the module docstring)."""

    CUSTOMER = ""
    SUBSCRIBER = "."
    CORRESPONDENT = "_"
    SELLER = "-"


def customer_email_number(customer_id: int) -> int:
    """The digits of customer ``customer_id``'s address: scrambled below
    1,000,003, the id itself above (the two ranges cannot meet)."""
    return EMAIL_NUMBERS(customer_id) if customer_id < 1_000_003 else customer_id


def email_address(rng: Draws, person: Person, number: int, namespace: str) -> str:
    """A plausible address, unique for each ``(number, namespace)``:
    ``ilze.berzina4821@inbox.example``."""
    first, last = person.ascii_first, person.ascii_last
    style = rng.below(10)
    if style < 4:
        local = f"{first}.{last}"
    elif style < 6:
        local = f"{first}{last}"
    elif style < 8:
        local = f"{first[0]}{last}"
    elif style < 9:
        local = f"{last}.{first}"
    else:
        local = first
    book = COUNTRIES[person.country]
    domain = rng.pick(book.mail_domains) if rng.chance(0.6) else rng.pick(GLOBAL_MAIL_DOMAINS)
    return f"{local}{namespace}{number}@{domain}"


_IPV4_FIRST = (
    31, 46, 62, 77, 78, 80, 81, 83, 84, 85, 87, 89, 90, 91, 92, 93, 94, 95, 109, 141, 145,
    159, 176, 178, 185, 188, 193, 194, 195, 212, 213, 217,
)  # fmt: skip
"""First octets of address blocks European access networks are numbered from."""

_IPV6_PREFIXES = (0x2A02_0000, 0x2A01_0000, 0x2001_07D0, 0x2A03_0000, 0x2A00_0000)


def ip_address(rng: Draws) -> str:
    """A public-looking client address: three in four IPv4, the rest IPv6 in
    canonical text form (RFC 5952)."""
    bits = rng.bits()
    if bits & 3:
        first = _IPV4_FIRST[(bits >> 2) % len(_IPV4_FIRST)]
        return f"{first}.{(bits >> 10) & 255}.{(bits >> 18) & 255}.{(bits >> 26) % 254 + 1}"
    prefix = _IPV6_PREFIXES[(bits >> 2) % len(_IPV6_PREFIXES)] | ((bits >> 8) & 0xFFFF)
    # Home routers hand out /64s; many interface ids are small (::1, ::2a) or random.
    interface = rng.bits() if bits & 4 else (bits >> 56)
    value = (prefix << 96) | (((bits >> 24) & 0xFFFF_FFFF) << 64) | interface
    return ipv6_text(value)


def ipv6_text(value: int) -> str:
    """RFC 5952 text of a 128-bit address: lower-case hex groups without
    leading zeros, the longest run of two or more zero groups (the first of
    equal runs) written ``::``. The same text ``ipaddress`` gives, without
    its cost per call."""
    groups = [(value >> shift) & 0xFFFF for shift in range(112, -16, -16)]
    best_start, best_length, start = -1, 1, -1
    for index, group in enumerate([*groups, 1]):
        if group == 0 and start < 0:
            start = index
        elif group != 0 and start >= 0:
            if index - start > best_length:
                best_start, best_length = start, index - start
            start = -1
    text = [f"{group:x}" for group in groups]
    if best_start < 0:
        return ":".join(text)
    head = ":".join(text[:best_start])
    tail = ":".join(text[best_start + best_length :])
    return f"{head}::{tail}"
