"""National personal identification numbers: checked with python-stdnum and
written in one canonical form per country.

The canonical form is the way the number is printed on that country's
identity documents, so a DPO comparing it with a passport or ID card sees
the same characters:

====  =======================  ================  =====================================
kind  number                   canonical form    digits (C = check digit)
====  =======================  ================  =====================================
lv    personas kods            ``DDMMYY-NNNNC``  birth date, century, serial; or ``32``
                                                 and random digits (codes from 2017)
bg    EGN (ЕГН)                ``YYMMDDNNNC``    birth date (month +20/+40 = century)
ee    isikukood                ``GYYMMDDNNNC``   G = sex and century, birth date
lt    asmens kodas             ``GYYMMDDNNNC``   G = sex and century, birth date
pl    PESEL                    ``YYMMDDNNNNC``   birth date (month +20 = 2000s)
====  =======================  ================  =====================================

stdnum's own ``compact()`` removes the separators people type (spaces, and
hyphens or dots where that country uses them); ``validate()`` checks length,
digits, the embedded birth date and the check digit. Its exceptions are
turned into one precise sentence each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stdnum.bg import egn
from stdnum.ee import ik
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)
from stdnum.lt import asmens
from stdnum.lv import pvn
from stdnum.pl import pesel

from datasteward.errors import InvalidIdentity
from datasteward.identity.kinds import NATIONAL_ID_PREFIX, quoted

__all__ = ["normalise_national_id"]


@dataclass(frozen=True, slots=True)
class _Scheme:
    """What the engine knows about one country's personal number."""

    name: str
    length: int
    separators: str
    compact: Callable[[str], str]
    validate: Callable[[str], str]
    component: str
    canonical: Callable[[str], str] = str


def _lv_canonical(number: str) -> str:
    return f"{number[:6]}-{number[6:]}"


_SCHEMES: dict[str, _Scheme] = {
    "lv": _Scheme(
        name="Latvian personal code",
        length=11,
        separators="spaces or a hyphen",
        compact=pvn.compact,
        validate=pvn.validate,
        component="does not encode a valid birth date",
        canonical=_lv_canonical,
    ),
    "bg": _Scheme(
        name="Bulgarian EGN",
        length=10,
        separators="spaces, hyphens or dots",
        compact=egn.compact,
        validate=egn.validate,
        component="does not encode a valid birth date",
    ),
    "ee": _Scheme(
        name="Estonian personal code (isikukood)",
        length=11,
        separators="spaces",
        compact=ik.compact,
        validate=ik.validate,
        component="does not encode a valid century digit and birth date",
    ),
    "lt": _Scheme(
        name="Lithuanian personal code (asmens kodas)",
        length=11,
        separators="spaces",
        compact=asmens.compact,
        validate=asmens.validate,
        component="does not encode a valid century digit and birth date",
    ),
    "pl": _Scheme(
        name="Polish PESEL",
        length=11,
        separators="spaces or hyphens",
        compact=pesel.compact,
        validate=pesel.validate,
        component="does not encode a valid birth date",
    ),
}


def normalise_national_id(country: str, raw: str) -> str:
    """The canonical form of a national personal number of ``country``.

    Raises :class:`InvalidIdentity` naming exactly what is wrong: characters,
    length, birth date, or check digit.
    """
    kind = NATIONAL_ID_PREFIX + country
    scheme = _SCHEMES[country]
    if not raw.strip():
        raise InvalidIdentity(kind, f"a {scheme.name} cannot be empty")
    number = scheme.compact(raw)
    if country == "lv":
        _check_lv_shape(kind, raw, number)
    try:
        number = scheme.validate(number)
    except InvalidLength:
        reason = f"{quoted(raw)} has {len(number)} digits; a {scheme.name} has {scheme.length}"
        raise InvalidIdentity(kind, reason) from None
    except InvalidFormat:
        reason = (
            f"{quoted(raw)} is not a {scheme.name}: only digits are allowed,"
            f" optionally separated by {scheme.separators}"
        )
        raise InvalidIdentity(kind, reason) from None
    except InvalidChecksum:
        raise InvalidIdentity(kind, f"{quoted(raw)} fails the {scheme.name} check digit") from None
    except InvalidComponent:
        raise InvalidIdentity(kind, f"{quoted(raw)} {scheme.component}") from None
    except ValidationError as error:  # a future stdnum exception: still precise about which number
        raise InvalidIdentity(kind, f"{quoted(raw)} is not a {scheme.name}: {error}") from None
    return scheme.canonical(number)


def _check_lv_shape(kind: str, raw: str, number: str) -> None:
    """Refuse what ``stdnum.lv.pvn`` accepts but is not a personal code.

    The module validates Latvian VAT numbers, which are either a personal
    code or a legal entity's registration number (first digit 4-9). An
    old-format personal code ``DDMMYY-CNNNN`` carries the century in ``C``:
    0 for the 1800s, 1 for the 1900s, 2 for the 2000s.
    """
    if len(number) != 11 or not number.isdigit():
        return  # stdnum reports length and characters precisely
    if number[0] > "3":
        raise InvalidIdentity(
            kind,
            f"{quoted(raw)} is a Latvian legal entity registration number, not a personal code",
        )
    if not number.startswith("32") and number[6] not in "012":
        raise InvalidIdentity(
            kind,
            f"{quoted(raw)} has century digit {number[6]} after the birth date;"
            " a Latvian personal code uses 0, 1 or 2",
        )
