"""Well-formed identifiers for invented people: national personal numbers
with correct check digits, IBANs with correct check digits, and mobile
numbers that libphonenumber accepts.

The check-digit arithmetic is written out here rather than borrowed from
python-stdnum on purpose: the tests then check these numbers with the
engine's own validators (``normalise_identity``, which uses stdnum), so a
mistake on either side shows up.

Each function takes the parts of the number as arguments (birth date, a
serial, a bank choice) and is pure. The generator derives those parts from
a person's unique number, so no two generated people share a personal code.
Bank codes are invented (no real bank uses them), so a generated IBAN names
no real account; personal codes and mobile numbers follow the national
schemes and may by chance equal a real one, which is why the shop data must
never be used to contact anyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

__all__ = [
    "IBAN_BANKS",
    "MOBILE_PREFIXES",
    "NATIONAL_ID_COUNTRIES",
    "bban",
    "bg_egn",
    "ee_lt_personal_code",
    "iban",
    "iban_check_digits",
    "lv_personal_code",
    "lv_personal_code_2017",
    "mobile_phone",
    "national_id",
    "pl_pesel",
]

NATIONAL_ID_COUNTRIES: tuple[str, ...] = ("LV", "BG", "EE", "LT", "PL")
"""Countries whose personal numbers the shop generates (and the engine checks)."""


# -- national personal numbers --------------------------------------------------------------


def _weighted(digits: str, weights: Sequence[int]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False))


def lv_personal_code(birth: date, serial: int) -> str | None:
    """Latvian personas kods of the pre-2017 form ``DDMMYY-CNNNK``.

    C is the century (0: 1800s, 1: 1900s, 2: 2000s), NNN the ``serial`` (0-999)
    and K the check digit ``(1101 - sum(digit * weight)) mod 11`` with weights
    1, 6, 3, 7, 9, 10, 5, 8, 4, 2. A remainder of 10 gives no digit: such
    serials are never issued, and ``None`` is returned for them.
    """
    century = (birth.year - 1800) // 100
    if not 0 <= century <= 2 or not 0 <= serial <= 999:
        raise ValueError("a Latvian personal code covers births 1800-2099 and serials 0-999")
    body = f"{birth:%d%m}{birth.year % 100:02d}{century}{serial:03d}"
    check = (1101 - _weighted(body, (1, 6, 3, 7, 9, 10, 5, 8, 4, 2))) % 11
    if check == 10:
        return None
    return f"{body[:6]}-{body[6:]}{check}"


def lv_personal_code_2017(number: int) -> str | None:
    """Latvian personas kods issued since 1 July 2017: ``32``, eight digits
    that encode nothing (``number``, 0-99,999,999), and the check digit of the
    older form; ``None`` where that check digit would be 10."""
    if not 0 <= number <= 99_999_999:
        raise ValueError("the random part of a Latvian personal code has eight digits")
    body = f"32{number:08d}"
    check = (1101 - _weighted(body, (1, 6, 3, 7, 9, 10, 5, 8, 4, 2))) % 11
    if check == 10:
        return None
    return f"{body[:6]}-{body[6:]}{check}"


def bg_egn(birth: date, serial: int) -> str:
    """Bulgarian EGN (ЕГН) ``YYMMDDNNNK``.

    The month carries the century (+20 for the 1800s, +40 for the 2000s);
    NNN is the ``serial`` (0-999), whose last digit is even for men and odd
    for women; K is ``sum(digit * weight) mod 11 mod 10`` with weights 2, 4,
    8, 5, 10, 9, 7, 3, 6.
    """
    if not 1800 <= birth.year <= 2099 or not 0 <= serial <= 999:
        raise ValueError("an EGN covers births 1800-2099 and serials 0-999")
    month = birth.month + (20 if birth.year < 1900 else 40 if birth.year >= 2000 else 0)
    body = f"{birth.year % 100:02d}{month:02d}{birth.day:02d}{serial:03d}"
    check = _weighted(body, (2, 4, 8, 5, 10, 9, 7, 3, 6)) % 11 % 10
    return f"{body}{check}"


def ee_lt_personal_code(birth: date, female: bool, serial: int) -> str:
    """Estonian isikukood and Lithuanian asmens kodas (one scheme): ``GYYMMDDNNNK``.

    G gives sex and century (1/2: 1800s, 3/4: 1900s, 5/6: 2000s; odd for
    men, even for women). K is ``sum(digit * weight) mod 11`` with weights 1-9,
    1; if that is 10, weights 3-9, 1, 2, 3; if still 10, the digit is 0.
    """
    if not 1800 <= birth.year <= 2099 or not 0 <= serial <= 999:
        raise ValueError("the code covers births 1800-2099 and serials 0-999")
    first = 1 + 2 * ((birth.year - 1800) // 100) + (1 if female else 0)
    body = f"{first}{birth:%y%m%d}{serial:03d}"
    check = _weighted(body, (1, 2, 3, 4, 5, 6, 7, 8, 9, 1)) % 11
    if check == 10:
        check = _weighted(body, (3, 4, 5, 6, 7, 8, 9, 1, 2, 3)) % 11 % 10
    return f"{body}{check}"


def pl_pesel(birth: date, female: bool, serial: int) -> str:
    """Polish PESEL ``YYMMDDNNNPK``.

    The month carries the century (+80 for the 1800s, +20 for the 2000s);
    NNN is the ``serial`` (0-999); P is even for women and odd for men; K is
    ``(10 - sum(digit * weight) mod 10) mod 10`` with weights 1, 3, 7, 9.
    """
    if not 1800 <= birth.year <= 2099 or not 0 <= serial <= 999:
        raise ValueError("a PESEL covers births 1800-2099 and serials 0-999")
    month = birth.month + (80 if birth.year < 1900 else 20 if birth.year >= 2000 else 0)
    sex = (serial * 7 + 3) % 5 * 2 + (0 if female else 1)
    body = f"{birth.year % 100:02d}{month:02d}{birth.day:02d}{serial:03d}{sex}"
    check = (10 - _weighted(body, (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)) % 10) % 10
    return f"{body}{check}"


def national_id(country: str, birth: date, female: bool, serial: int) -> str | None:
    """The personal number of ``country`` in the form its documents print.

    ``None`` where no code exists for these parts (a Latvian serial whose
    check digit would be 10). For Bulgaria the sex is carried by the parity
    of ``serial``, so callers choose the serial to match.
    """
    if country == "LV":
        return lv_personal_code(birth, serial)
    if country == "BG":
        return bg_egn(birth, serial)
    if country in ("EE", "LT"):
        return ee_lt_personal_code(birth, female, serial)
    if country == "PL":
        return pl_pesel(birth, female, serial)
    raise ValueError(f"no personal number scheme for {country}")


# -- IBANs ----------------------------------------------------------------------------------

IBAN_BANKS: dict[str, tuple[str, ...]] = {
    "LV": ("ZIED", "DZIN", "LINU", "MEDS"),
    "BG": ("ROZA", "LIPA", "DUNV"),
    "EE": ("91", "93", "95"),
    "LT": ("79010", "79120", "79330"),
    "PL": ("1990", "1991", "1992"),
}
"""Invented bank codes, chosen not to collide with banks that exist."""

_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _digits(number: int, length: int) -> str:
    return f"{number % 10**length:0{length}d}"


def bban(country: str, bank: int, account: int) -> str:
    """The national part of an IBAN: bank ``bank`` of :data:`IBAN_BANKS` and
    account number ``account`` (any non-negative integer; it is cut to the
    country's length), with any national check digit the format has."""
    code = IBAN_BANKS[country][bank % len(IBAN_BANKS[country])]
    if country == "LV":
        return code + _digits(account, 13)
    if country == "BG":
        return code + _digits(account, 4) + "10" + _digits(account // 10**4, 8)
    if country == "EE":
        body = code + _digits(account, 13)
        # National check digit of an Estonian account: weights 7, 3, 1 from the right.
        total = sum(int(d) * (7, 3, 1)[i % 3] for i, d in enumerate(reversed(body)))
        return body + str((10 - total % 10) % 10)
    if country == "LT":
        return code + _digits(account, 11)
    if country == "PL":
        branch = code + _digits(account, 3)
        check = (10 - _weighted(branch, (3, 9, 7, 1, 3, 9, 7)) % 10) % 10
        return f"{branch}{check}" + _digits(account // 1000, 16)
    raise ValueError(f"no IBAN format for {country}")


def iban_check_digits(country: str, national: str) -> str:
    """ISO 13616 check digits: ``98 - (BBAN + country + 00 as a number) mod 97``."""
    rearranged = national + country + "00"
    number = int("".join(str(_ALNUM.index(ch)) for ch in rearranged.upper()))
    return f"{98 - number % 97:02d}"


def iban(country: str, bank: int, account: int) -> str:
    """An IBAN in electronic form (no spaces), e.g. ``LV80ZIED0000435195001``."""
    national = bban(country, bank, account)
    return f"{country}{iban_check_digits(country, national)}{national}"


# -- mobile numbers -------------------------------------------------------------------------

MOBILE_PREFIXES: dict[str, tuple[str, tuple[str, ...], int]] = {
    "LV": ("371", ("20", "21", "22", "24", "25", "26", "27", "28", "29"), 6),
    "LT": ("370", ("6",), 7),
    "EE": ("372", ("5",), 7),
    "PL": ("48", ("50", "51", "53", "57", "60", "66", "69", "72", "78", "79", "88"), 7),
    "BG": ("359", ("87", "88", "89"), 7),
    "DE": ("49", ("170", "171", "172", "175", "176", "177", "178", "179"), 8),
    "FI": ("358", ("40", "41", "44", "45", "46", "50"), 7),
    "SE": ("46", ("70", "72", "73", "76", "79"), 7),
}
"""Country calling code, mobile prefixes and the number of digits after the
prefix, taken from the national numbering plans as libphonenumber holds them."""


def mobile_phone(country: str, number: int, *, spaced: bool = False) -> str:
    """A mobile number of ``country`` in international form: E.164
    (``+37121234567``) or, with ``spaced``, grouped as people type it
    (``+371 2123 4567``)."""
    calling, prefixes, length = MOBILE_PREFIXES[country]
    national = prefixes[number % len(prefixes)] + _digits(number // len(prefixes), length)
    if not spaced:
        return f"+{calling}{national}"
    sizes = _GROUPS.get(len(national), (3, len(national) - 3))
    groups: list[str] = []
    start = 0
    for size in sizes:
        groups.append(national[start : start + size])
        start += size
    return " ".join([f"+{calling}", *groups])


_GROUPS: dict[int, tuple[int, ...]] = {8: (4, 4), 9: (3, 3, 3)}
"""How the national number is grouped in the spaced form, by its length."""
