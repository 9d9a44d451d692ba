"""Identity normalisation: every spelling of one identity gives one canonical
string (the blind index depends on it), malformed input is refused with a
precise reason, and masked forms never reveal the value.

National numbers are generated here from each country's published check-digit
rule, written out independently of python-stdnum, so a bug in the library or
in how the engine calls it shows up as a disagreement. No real person's
number appears in this file.
"""

from __future__ import annotations

import unicodedata
from datetime import date

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from datasteward.errors import InvalidIdentity
from datasteward.identity import IDENTITY_KINDS, Identity, normalise_identity, parse_identity

# --------------------------------------------------------------------------
# check-digit rules, from the national definitions


def lv_check(first10: str) -> int:
    """Latvian personal code: (1101 - Σ wᵢdᵢ) mod 11 with w = 1 6 3 7 9 10 5 8 4 2."""
    weights = (1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return (1101 - sum(w * int(d) for w, d in zip(weights, first10, strict=True))) % 11


def lv_code(born: date, serial: int) -> str:
    """An old-format ``DDMMYY-CNNNC`` code, with the first serial from
    ``serial`` on whose check value is a single digit (10 is never issued)."""
    century = {18: "0", 19: "1", 20: "2"}[born.year // 100]
    for step in range(11):
        body = f"{born:%d%m}{born.year % 100:02d}{century}{(serial + step) % 1000:03d}"
        check = lv_check(body)
        if check < 10:
            return f"{body[:6]}-{body[6:]}{check}"
    raise AssertionError("some serial among 11 consecutive ones has a digit check")


def lv_new_code(digits8: str) -> str | None:
    """A post-2017 code ``32NNNN-NNNNC`` (no birth date), or None if the
    check value would be 10."""
    body = "32" + digits8
    check = lv_check(body)
    return f"{body[:6]}-{body[6:]}{check}" if check < 10 else None


def bg_egn(born: date, serial: int) -> str:
    """EGN: YYMMDD (month +20 for the 1800s, +40 for the 2000s), 3-digit serial,
    check = Σ wᵢdᵢ mod 11 (10 → 0), w = 2 4 8 5 10 9 7 3 6."""
    month = born.month + {18: 20, 19: 0, 20: 40}[born.year // 100]
    body = f"{born.year % 100:02d}{month:02d}{born.day:02d}{serial % 1000:03d}"
    weights = (2, 4, 8, 5, 10, 9, 7, 3, 6)
    check = sum(w * int(d) for w, d in zip(weights, body, strict=True)) % 11
    return body + str(check % 10)


def baltic_check(first10: str) -> int:
    """Estonian and Lithuanian personal codes: weights 1..9,1; if the
    remainder is 10, weights 3..9,1,2,3; if that is 10 too, the digit is 0."""
    for weights in ((1, 2, 3, 4, 5, 6, 7, 8, 9, 1), (3, 4, 5, 6, 7, 8, 9, 1, 2, 3)):
        check = sum(w * int(d) for w, d in zip(weights, first10, strict=True)) % 11
        if check < 10:
            return check
    return 0


def baltic_code(born: date, female: bool, serial: int) -> str:
    """``GYYMMDDNNNC``: G is 1/2 for the 1800s, 3/4 for the 1900s, 5/6 for
    the 2000s (odd male, even female)."""
    gender = {18: 1, 19: 3, 20: 5}[born.year // 100] + int(female)
    body = f"{gender}{born:%y%m%d}{serial % 1000:03d}"
    return body + str(baltic_check(body))


def pesel(born: date, serial: int) -> str:
    """PESEL: YYMMDD (month +80 for the 1800s, +20 for the 2000s), 4-digit
    serial, check = (10 - Σ wᵢdᵢ mod 10) mod 10, w = 1 3 7 9 1 3 7 9 1 3."""
    month = born.month + {18: 80, 19: 0, 20: 20}[born.year // 100]
    body = f"{born.year % 100:02d}{month:02d}{born.day:02d}{serial % 10000:04d}"
    weights = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
    return body + str((10 - sum(w * int(d) for w, d in zip(weights, body, strict=True))) % 10)


def with_check(number: str, check: str) -> str:
    return number[:-1] + check


def wrong_check(number: str, shift: int = 1) -> str:
    return with_check(number, str((int(number[-1]) + shift) % 10))


def test_generators_agree_with_hand_checked_codes() -> None:
    """The generators themselves, on values worked out by hand."""
    # 1·0+6·1+3·0+7·1+9·9+10·0+5·1+8·2+4·3+2·4 = 135; (1101-135) mod 11 = 9
    assert lv_check("0101901234") == 9
    # 2·8+4·0+8·0+5·1+10·0+9·1+7·0+3·0+6·1 = 36; 36 mod 11 = 3
    assert bg_egn(date(1980, 1, 1), 1) == "8001010013"
    # 1·4+3·4+7·0+9·1+1·0+3·1+7·0+9·0+1·0+3·1 = 31; (10-1) mod 10 = 9
    assert pesel(date(1944, 1, 1), 1) == "44010100019"


# Properties are about values, not speed: no per-example deadline, so a busy
# machine cannot turn a slow first IDNA table load into a failure.
BIRTH_DATES = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31))
SERIALS = st.integers(min_value=0, max_value=9999)
SHIFTS = st.integers(min_value=1, max_value=9)

# --------------------------------------------------------------------------
# email


def test_email_domain_goes_to_punycode_and_everything_to_lower_case() -> None:
    assert "bērziņi".encode("idna") == b"xn--brzii-iza47a"
    assert (
        normalise_identity("email", "Ana.Berzina@Bērziņi.example")
        == "ana.berzina@xn--brzii-iza47a.example"
    )


@pytest.mark.parametrize(
    "spelling",
    [
        "ana.berzina@zala-plava.lv",
        "Ana.Berzina@Zala-Plava.LV",
        "ANA.BERZINA@ZALA-PLAVA.LV",
        "  ana.berzina@zala-plava.lv\n",
    ],
)
def test_email_spellings_share_one_canonical_form(spelling: str) -> None:
    assert normalise_identity("email", spelling) == "ana.berzina@zala-plava.lv"


def test_email_unicode_domain_and_its_punycode_are_the_same_identity() -> None:
    ace = "zaļā-pļava".encode("idna").decode("ascii")
    assert ace.startswith("xn--")
    unicode_form = normalise_identity("email", "ana@zaļā-pļava.lv")
    assert unicode_form == f"ana@{ace}.lv"
    assert normalise_identity("email", f"ana@{ace.upper()}.LV") == unicode_form


def test_email_unicode_local_part_is_lower_cased_and_composed() -> None:
    composed = "Ānna@example.com"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    assert normalise_identity("email", composed) == "ānna@example.com"
    assert normalise_identity("email", decomposed) == "ānna@example.com"


def email_reason(address: str) -> str:
    """What email-validator itself says about ``address``."""
    with pytest.raises(EmailNotValidError) as excinfo:
        validate_email(address, check_deliverability=False, strict=True)
    return str(excinfo.value)


@pytest.mark.parametrize(
    "bad",
    [
        "ana@@example",
        "ana",
        "ana berzina@example.com",
        "ana@example",
        '"ana berzina"@example.com',
        "ana@[192.0.2.1]",
        "Ana Bērziņa <ana@example.com>",
        "ana@example.test",
        "ana@localhost",
        "a" * 65 + "@example.com",
        "ana@" + ".".join(["a" * 63] * 4) + ".lv",
    ],
)
def test_bad_email_is_refused_with_the_library_reason(bad: str) -> None:
    with pytest.raises(InvalidIdentity) as excinfo:
        normalise_identity("email", bad)
    error = excinfo.value
    assert error.kind == "email"
    assert error.code == "invalid_identity"
    assert error.exit_code == 2
    if len(bad) <= 80:
        assert error.reason == f"'{bad}' is not an email address: {email_reason(bad)}"
    else:
        assert error.reason.endswith(f"is not an email address: {email_reason(bad)}")


def test_email_error_names_the_input_and_the_fault() -> None:
    with pytest.raises(InvalidIdentity) as excinfo:
        normalise_identity("email", "ana@@example")
    assert str(excinfo.value) == (
        "invalid email: 'ana@@example' is not an email address:"
        " The part after the @-sign contains invalid characters: '@'."
    )


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_empty_email_is_refused(blank: str) -> None:
    with pytest.raises(InvalidIdentity, match="an email address cannot be empty"):
        normalise_identity("email", blank)


def test_long_input_is_cut_in_the_message() -> None:
    with pytest.raises(InvalidIdentity) as excinfo:
        normalise_identity("email", "x" * 10_000)
    assert len(excinfo.value.reason) < 400
    assert "…'" in excinfo.value.reason


ASCII_LOCAL = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-")
UNICODE_LOCAL = st.text(alphabet="aAzZ09āĀēĒšŠžŽņŅßÄäÖöİıДдЖж")
LABEL = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789āĀšŠļĻ",
    min_size=1,
    max_size=20,
)
TLD = st.sampled_from(["lv", "LV", "bg", "ee", "com", "example", "Org"])


@st.composite
def emails(draw: st.DrawFn, local: st.SearchStrategy[str] = UNICODE_LOCAL) -> str:
    """Addresses with mixed case, non-ASCII local parts and IDN domains."""
    name = draw(local.filter(lambda s: 0 < len(s) <= 30))
    labels = draw(st.lists(LABEL, min_size=1, max_size=3))
    return f"{name}@{'.'.join(labels)}.{draw(TLD)}"


def normalised_or_skip(kind: str, raw: str, region: str | None = None) -> str:
    try:
        return normalise_identity(kind, raw, default_region=region)
    except InvalidIdentity:
        assume(False)
        raise


@settings(deadline=None)
@given(emails())
def test_email_normalisation_is_idempotent(address: str) -> None:
    once = normalised_or_skip("email", address)
    assert normalise_identity("email", once) == once
    assert once == once.strip()
    assert once.split("@")[1].isascii()


@settings(deadline=None)
@given(emails(local=ASCII_LOCAL))
def test_ascii_email_ignores_case_everywhere(address: str) -> None:
    once = normalised_or_skip("email", address)
    assert normalise_identity("email", address.swapcase()) == once
    assert normalise_identity("email", address.upper()) == once


@settings(deadline=None)
@given(st.emails())
def test_hypothesis_emails_are_idempotent_when_accepted(address: str) -> None:
    once = normalised_or_skip("email", address)
    assert normalise_identity("email", once) == once


# --------------------------------------------------------------------------
# phone

LV_MOBILE = "+37121234567"  # libphonenumber's example number, not a subscriber
BG_FIXED = "+35929123456"
EE_MOBILE = "+37251234567"


def test_example_numbers_are_the_ones_these_tests_assume() -> None:
    def example(region: str) -> str:
        number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        assert number is not None
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    assert example("LV") == LV_MOBILE
    assert example("EE") == EE_MOBILE
    assert phonenumbers.is_valid_number(phonenumbers.parse(BG_FIXED))


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+371 21 234 567", None, LV_MOBILE),
        ("+371-21-234-567", None, LV_MOBILE),
        ("+371 (21) 234567", None, LV_MOBILE),
        ("21 234 567", "LV", LV_MOBILE),
        ("21234567", "lv", LV_MOBILE),
        ("00371 21234567", "LV", LV_MOBILE),
        ("+37121234567", "EE", LV_MOBILE),
        ("+359 2 912 3456", None, BG_FIXED),
        ("02 912 3456", "BG", BG_FIXED),
        ("02/912-34-56", "BG", BG_FIXED),
        ("00359 2 9123456", "BG", BG_FIXED),
        ("+372 5123 4567", None, EE_MOBILE),
        ("5123 4567", "EE", EE_MOBILE),
        ("5123.4567", "EE", EE_MOBILE),
    ],
)
def test_phone_spellings_normalise_to_e164(raw: str, region: str | None, expected: str) -> None:
    assert normalise_identity("phone", raw, default_region=region) == expected


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("+371 2000", None, "'+371 2000' is not a valid phone number for LV"),
        ("3000 0000", "LV", "'3000 0000' is not a valid phone number for LV"),
        ("+372 0000 0000", None, "'+372 0000 0000' is not a valid phone number for EE"),
        (
            "21234567",
            None,
            "'21234567' has no country code: write it in international form (+371 ...)"
            " or give a default region",
        ),
        ("+999 1234 5678", None, "'+999 1234 5678' has an unknown country code"),
        ("+371 2", None, "'+371 2' is too short to be a phone number"),
        ("+371 " + "2" * 30, None, f"'+371 {'2' * 30}' is too long to be a phone number"),
        ("--", "LV", "'--' is not a phone number"),
        (
            "call me",
            "LV",
            "'call me' contains 'c'; a phone number has only digits, spaces and + - . ( ) /",
        ),
        (
            "+371 21 234 567 ext. 12",
            None,
            "'+371 21 234 567 ext. 12' has an extension (12); an identity is the number without it",
        ),
        (
            "+1 800 FLOWERS",
            None,
            "'+1 800 FLOWERS' contains 'F'; a phone number has only digits, spaces and + - . ( ) /",
        ),
        (
            "tel:+371-21-234-567",
            None,
            "'tel:+371-21-234-567' contains 't'; a phone number has only digits,"
            " spaces and + - . ( ) /",
        ),
        (
            "+37121234567 #",
            None,
            "'+37121234567 #' contains '#'; a phone number has only digits, spaces and + - . ( ) /",
        ),
    ],
)
def test_bad_phone_numbers_are_refused_precisely(raw: str, region: str | None, reason: str) -> None:
    with pytest.raises(InvalidIdentity) as excinfo:
        normalise_identity("phone", raw, default_region=region)
    assert excinfo.value.kind == "phone"
    assert excinfo.value.reason == reason


@pytest.mark.parametrize("blank", ["", "  "])
def test_empty_phone_is_refused(blank: str) -> None:
    with pytest.raises(InvalidIdentity, match="a phone number cannot be empty"):
        normalise_identity("phone", blank, default_region="LV")


@pytest.mark.parametrize("kind", ["phone", "email", "customer_id"])
def test_unknown_default_region_is_refused_for_any_kind(kind: str) -> None:
    with pytest.raises(InvalidIdentity) as excinfo:
        normalise_identity(kind, "x", default_region="Latvia")
    assert excinfo.value.reason == (
        "unknown default region 'Latvia': expected an ISO 3166 country code such as LV"
    )


PHONE_TYPES = [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]


@st.composite
def phone_numbers(draw: st.DrawFn) -> tuple[str, str, str]:
    """(written form, default region, expected E.164) for valid LV/BG/EE numbers."""
    region = draw(st.sampled_from(["LV", "BG", "EE"]))
    example = phonenumbers.example_number_for_type(region, draw(st.sampled_from(PHONE_TYPES)))
    assert example is not None
    national = str(example.national_number)
    keep = len(national) - draw(st.integers(min_value=1, max_value=4))
    tail = draw(
        st.text(alphabet="0123456789", min_size=len(national) - keep, max_size=len(national) - keep)
    )
    number = phonenumbers.parse(f"+{example.country_code}{national[:keep]}{tail}")
    assume(phonenumbers.is_valid_number(number))
    fmt = draw(
        st.sampled_from(
            [
                phonenumbers.PhoneNumberFormat.E164,
                phonenumbers.PhoneNumberFormat.INTERNATIONAL,
                phonenumbers.PhoneNumberFormat.NATIONAL,
            ]
        )
    )
    written = phonenumbers.format_number(number, fmt)
    if draw(st.booleans()):
        written = written.replace(" ", draw(st.sampled_from(["-", ".", "", "  "])))
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return written, region, e164


@settings(deadline=None)
@given(phone_numbers())
def test_phone_normalisation_is_e164_and_idempotent(case: tuple[str, str, str]) -> None:
    written, region, e164 = case
    once = normalise_identity("phone", written, default_region=region)
    assert once == e164
    assert normalise_identity("phone", once) == once
    assert normalise_identity("phone", once, default_region="PL") == once


# --------------------------------------------------------------------------
# national identification numbers


def national(country: str, raw: str) -> str:
    return normalise_identity(f"national_id.{country}", raw)


def national_reason(country: str, raw: str) -> str:
    with pytest.raises(InvalidIdentity) as excinfo:
        national(country, raw)
    assert excinfo.value.kind == f"national_id.{country}"
    return excinfo.value.reason


@settings(deadline=None)
@given(BIRTH_DATES, SERIALS, SHIFTS)
def test_latvian_code_is_canonical_with_hyphen(born: date, serial: int, shift: int) -> None:
    code = lv_code(born, serial)
    digits = code.replace("-", "")
    assert national("lv", code) == code
    assert national("lv", digits) == code
    assert national("lv", f" {digits[:6]} {digits[6:]} ") == code
    assert national("lv", national("lv", digits)) == code
    assert national_reason("lv", wrong_check(code, shift)) == (
        f"'{wrong_check(code, shift)}' fails the Latvian personal code check digit"
    )


@settings(deadline=None)
@given(st.text(alphabet="0123456789", min_size=8, max_size=8))
def test_latvian_code_without_birth_date_is_accepted(digits8: str) -> None:
    code = lv_new_code(digits8)
    assume(code is not None)
    assert code is not None
    assert national("lv", code.replace("-", "")) == code


def test_latvian_code_errors() -> None:
    code = lv_code(date(1990, 1, 1), 234)
    assert national_reason("lv", code[:-1]) == (
        f"'{code[:-1]}' has 10 digits; a Latvian personal code has 11"
    )
    assert national_reason("lv", code + "0") == (
        f"'{code}0' has 12 digits; a Latvian personal code has 11"
    )
    assert national_reason("lv", "01019O-12345") == (
        "'01019O-12345' is not a Latvian personal code: only digits are allowed,"
        " optionally separated by spaces or a hyphen"
    )
    body = "3102901234"  # 31 February 1990
    impossible = f"{body[:6]}-{body[6:]}{lv_check(body) % 10}"
    assert national_reason("lv", impossible) == f"'{impossible}' does not encode a valid birth date"
    body = "0101905234"  # century digit 5
    century = f"{body[:6]}-{body[6:]}{lv_check(body) % 10}"
    assert national_reason("lv", century) == (
        f"'{century}' has century digit 5 after the birth date;"
        " a Latvian personal code uses 0, 1 or 2"
    )
    assert national_reason("lv", " ") == "a Latvian personal code cannot be empty"


def test_latvian_company_number_is_not_a_personal_code() -> None:
    # A registration number starts with 4-9 and satisfies Σ wᵢdᵢ ≡ 3 (mod 11).
    weights = (9, 1, 4, 8, 3, 10, 2, 5, 7, 6)
    body = "4000123456"
    last = (3 - sum(w * int(d) for w, d in zip(weights, body, strict=True))) % 11
    assert last < 10
    company = body + str(last)
    assert national_reason("lv", company) == (
        f"'{company}' is a Latvian legal entity registration number, not a personal code"
    )


@settings(deadline=None)
@given(
    st.dates(min_value=date(1800, 1, 1), max_value=date(2099, 12, 31)), st.integers(0, 999), SHIFTS
)
def test_bulgarian_egn(born: date, serial: int, shift: int) -> None:
    egn = bg_egn(born, serial)
    assert national("bg", egn) == egn
    assert national("bg", f"{egn[:6]}-{egn[6:]}") == egn
    assert national("bg", f"{egn[:6]} {egn[6:9]} {egn[9]}") == egn
    assert national_reason("bg", wrong_check(egn, shift)) == (
        f"'{wrong_check(egn, shift)}' fails the Bulgarian EGN check digit"
    )


def test_bulgarian_egn_errors() -> None:
    egn = bg_egn(date(1985, 3, 14), 123)
    assert national_reason("bg", egn + "1") == f"'{egn}1' has 11 digits; a Bulgarian EGN has 10"
    body = "850230123"  # 30 February 1985
    weights = (2, 4, 8, 5, 10, 9, 7, 3, 6)
    bad_date = body + str(sum(w * int(d) for w, d in zip(weights, body, strict=True)) % 11 % 10)
    assert national_reason("bg", bad_date) == f"'{bad_date}' does not encode a valid birth date"


@pytest.mark.parametrize(
    ("country", "name"),
    [
        ("ee", "Estonian personal code (isikukood)"),
        ("lt", "Lithuanian personal code (asmens kodas)"),
    ],
)
@settings(deadline=None)
@given(born=BIRTH_DATES, female=st.booleans(), serial=st.integers(0, 999), shift=SHIFTS)
def test_baltic_personal_codes(
    country: str, name: str, born: date, female: bool, serial: int, shift: int
) -> None:
    code = baltic_code(born, female, serial)
    assert national(country, code) == code
    assert national(country, f"{code[:1]} {code[1:7]} {code[7:]}") == code
    assert national_reason(country, wrong_check(code, shift)) == (
        f"'{wrong_check(code, shift)}' fails the {name} check digit"
    )
    assert national_reason(country, code[:-1]) == f"'{code[:-1]}' has 10 digits; a {name} has 11"


def test_baltic_check_falls_back_to_second_weights() -> None:
    """A code whose first remainder is 10 exercises the second weight set."""
    born = date(1990, 6, 15)
    for serial in range(1000):
        body = f"4{born:%y%m%d}{serial:03d}"
        first = sum(w * int(d) for w, d in zip((1, 2, 3, 4, 5, 6, 7, 8, 9, 1), body, strict=True))
        if first % 11 == 10:
            break
    else:
        raise AssertionError("no serial gives remainder 10")
    code = baltic_code(born, True, serial)
    assert national("ee", code) == code
    assert national("lt", code) == code


@pytest.mark.parametrize("country", ["ee", "lt"])
def test_baltic_code_with_impossible_date(country: str) -> None:
    body = "4900230123"  # a woman born 30 February 1990
    code = body + str(baltic_check(body))
    assert national_reason(country, code) == (
        f"'{code}' does not encode a valid century digit and birth date"
    )


def test_estonian_code_refuses_a_hyphen() -> None:
    code = baltic_code(date(1975, 5, 20), False, 42)
    raw = f"{code[:7]}-{code[7:]}"
    assert national_reason("ee", raw) == (
        f"'{raw}' is not a Estonian personal code (isikukood): only digits are allowed,"
        " optionally separated by spaces"
    )


@settings(deadline=None)
@given(BIRTH_DATES, SERIALS, SHIFTS)
def test_polish_pesel(born: date, serial: int, shift: int) -> None:
    number = pesel(born, serial)
    assert national("pl", number) == number
    assert national("pl", f"{number[:6]}-{number[6:]}") == number
    assert national_reason("pl", wrong_check(number, shift)) == (
        f"'{wrong_check(number, shift)}' fails the Polish PESEL check digit"
    )


def test_polish_pesel_errors() -> None:
    number = pesel(date(2004, 7, 9), 4321)
    assert number[2:4] == "27"  # the 2000s add 20 to the month
    assert national_reason("pl", number[:10]) == (
        f"'{number[:10]}' has 10 digits; a Polish PESEL has 11"
    )
    body = "8502301234"  # 30 February 1985
    weights = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
    check = (10 - sum(w * int(d) for w, d in zip(weights, body, strict=True))) % 10
    assert national_reason("pl", body + str(check)) == (
        f"'{body}{check}' does not encode a valid birth date"
    )


def test_national_ids_ignore_the_phone_region() -> None:
    number = pesel(date(1970, 12, 1), 555)
    assert normalise_identity("national_id.pl", number, default_region="LV") == number


# --------------------------------------------------------------------------
# customer id and username


def test_customer_id_keeps_case_and_username_folds_it() -> None:
    assert normalise_identity("customer_id", "  ZP-1042 ") == "ZP-1042"
    assert normalise_identity("customer_id", "zp-1042") == "zp-1042"
    assert normalise_identity("username", " Ana.Berzina ") == "ana.berzina"
    assert normalise_identity("username", "ANA.BĒRZIŅA") == "ana.bērziņa"


def test_composed_and_decomposed_text_are_one_identity() -> None:
    composed = "Bērziņa"
    decomposed = unicodedata.normalize("NFD", composed)
    assert normalise_identity("customer_id", decomposed) == composed
    assert normalise_identity("username", decomposed) == "bērziņa"


@pytest.mark.parametrize("kind", ["customer_id", "username"])
def test_text_identity_limits(kind: str) -> None:
    label = kind.replace("_", " ")
    assert normalise_identity(kind, "a" * 256) == "a" * 256
    assert normalise_identity(kind, "ana berzina") == "ana berzina"
    with pytest.raises(InvalidIdentity) as excinfo:
        normalise_identity(kind, "a" * 257)
    assert excinfo.value.reason == f"a {label} is at most 256 characters; this one has 257"
    with pytest.raises(InvalidIdentity) as excinfo:
        normalise_identity(kind, " \t ")
    assert excinfo.value.reason == f"a {label} cannot be empty"


@pytest.mark.parametrize(
    ("raw", "codepoint"),
    [
        ("ana\x00", "U+0000"),
        ("an\ta", "U+0009"),
        ("ana\u200b1", "U+200B"),
        ("\u202eana", "U+202E"),
        ("ana\u2028b", "U+2028"),
    ],
)
def test_control_and_invisible_characters_are_refused(raw: str, codepoint: str) -> None:
    with pytest.raises(InvalidIdentity) as excinfo:
        normalise_identity("username", raw)
    assert f"contains the control or invisible character {codepoint}" in excinfo.value.reason
    assert "\\" in excinfo.value.reason.split("'")[1]  # the character is shown escaped


PLAIN_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Zl", "Zp")),
    min_size=1,
    max_size=256,
)


@pytest.mark.parametrize("kind", ["customer_id", "username"])
@settings(deadline=None)
@given(raw=PLAIN_TEXT)
def test_text_normalisation_is_idempotent(kind: str, raw: str) -> None:
    once = normalised_or_skip(kind, raw)
    assert normalise_identity(kind, once) == once


# --------------------------------------------------------------------------
# parse_identity and kinds


def test_kinds_are_the_documented_ones() -> None:
    assert IDENTITY_KINDS == (
        "email",
        "phone",
        "customer_id",
        "username",
        "national_id.lv",
        "national_id.bg",
        "national_id.ee",
        "national_id.lt",
        "national_id.pl",
    )


def test_parse_identity_reads_kind_and_normalises_value() -> None:
    assert parse_identity("email:Ana@Example.COM") == Identity("email", "ana@example.com")
    assert parse_identity(" Email : Ana@Example.COM ") == Identity("email", "ana@example.com")
    assert parse_identity("phone:21 234 567", default_region="LV") == Identity("phone", LV_MOBILE)
    assert parse_identity("customer_id:ZP:1042") == Identity("customer_id", "ZP:1042")
    code = lv_code(date(1988, 8, 8), 77)
    assert parse_identity("NATIONAL_ID.LV:" + code.replace("-", "")) == Identity(
        "national_id.lv", code
    )


@pytest.mark.parametrize("text", ["ana@example.com", "", ":ana@example.com", "  :x"])
def test_parse_identity_syntax_error(text: str) -> None:
    with pytest.raises(InvalidIdentity) as excinfo:
        parse_identity(text)
    assert excinfo.value.kind == "identity"
    assert excinfo.value.reason == "expected KIND:VALUE, e.g. email:ana@example.com"


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("emial:ana@example.com", " (did you mean 'email'?)"),
        ("phnoe:+37121234567", " (did you mean 'phone'?)"),
        ("national_id.lvv:x", " (did you mean 'national_id.lv'?)"),
        ("customerid:1", " (did you mean 'customer_id'?)"),
    ],
)
def test_unknown_kind_suggests_the_nearest(text: str, hint: str) -> None:
    kind = text.split(":")[0]
    with pytest.raises(InvalidIdentity) as excinfo:
        parse_identity(text)
    assert excinfo.value.reason == f"unknown identity kind '{kind}'{hint}"
    with pytest.raises(InvalidIdentity) as excinfo:
        normalise_identity(kind, "x")
    assert excinfo.value.reason == f"unknown identity kind '{kind}'{hint}"


def test_unknown_kind_without_a_near_match_lists_the_kinds() -> None:
    with pytest.raises(InvalidIdentity) as excinfo:
        parse_identity("fax:123")
    assert excinfo.value.reason == (
        "unknown identity kind 'fax' (known kinds: " + ", ".join(IDENTITY_KINDS) + ")"
    )


def test_parse_identity_passes_value_errors_through() -> None:
    with pytest.raises(InvalidIdentity) as excinfo:
        parse_identity("phone:+371 2000")
    assert excinfo.value.kind == "phone"
    assert str(excinfo.value) == "invalid phone: '+371 2000' is not a valid phone number for LV"


# --------------------------------------------------------------------------
# the Identity value and masking


def test_identity_refuses_a_value_that_is_not_canonical() -> None:
    with pytest.raises(InvalidIdentity, match="not in canonical form"):
        Identity("email", "Ana@example.com")
    with pytest.raises(InvalidIdentity, match="unknown identity kind 'emial'"):
        Identity("emial", "ana@example.com")
    with pytest.raises(InvalidIdentity, match="is not a valid phone number"):
        Identity("phone", "+3712000")


def test_identity_is_a_hashable_value() -> None:
    one = parse_identity("email:Ana@Example.com")
    assert one == parse_identity("email:ana@EXAMPLE.com")
    assert len({one, parse_identity("email:ana@example.com")}) == 1
    with pytest.raises(AttributeError):
        one.value = "x@example.com"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("identity", "masked"),
    [
        (Identity("email", "ana@example.com"), "email:a***@example.com"),
        (Identity("phone", "+37120000067"), "phone:+371******67"),
        (Identity("phone", "+35929123456"), "phone:+359******56"),
        (Identity("customer_id", "ZP-1042"), "customer_id:***42"),
        (Identity("username", "ana"), "username:***"),
    ],
)
def test_masked_forms(identity: Identity, masked: str) -> None:
    assert identity.masked() == masked
    assert str(identity) == masked
    assert repr(identity) == f"Identity('{masked}')"
    assert f"{identity}" == masked


def test_national_id_mask_keeps_the_shape() -> None:
    code = lv_code(date(1990, 1, 1), 234)
    assert Identity("national_id.lv", code).masked() == f"national_id.lv:******-***{code[-2:]}"
    number = pesel(date(1990, 1, 1), 1234)
    assert Identity("national_id.pl", number).masked() == f"national_id.pl:*********{number[-2:]}"


def test_reveal_round_trips_through_parse_identity() -> None:
    identity = parse_identity("email:Ana.Berzina@Bērziņi.example")
    assert identity.reveal() == "email:ana.berzina@xn--brzii-iza47a.example"
    assert parse_identity(identity.reveal()) == identity


def test_a_value_made_of_stars_is_still_hidden() -> None:
    for value in ("*", "***", "******", "****42"):
        body = Identity("customer_id", value).masked().partition(":")[2]
        assert value not in body
    assert Identity("email", "a***@example.com").masked() == "email:***"


def assert_hidden(identity: Identity) -> None:
    body = identity.masked().partition(":")[2]
    assert identity.value not in body
    assert identity.value not in str(identity).partition(":")[2]
    assert repr(identity) == f"Identity({identity.masked()!r})"


@settings(deadline=None)
@given(emails())
def test_masked_email_never_holds_the_address(address: str) -> None:
    assert_hidden(Identity("email", normalised_or_skip("email", address)))


@settings(deadline=None)
@given(phone_numbers())
def test_masked_phone_never_holds_the_number(case: tuple[str, str, str]) -> None:
    assert_hidden(Identity("phone", case[2]))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["customer_id", "username"]), st.text(min_size=1, max_size=300))
def test_masked_text_never_holds_the_value(kind: str, raw: str) -> None:
    assert_hidden(Identity(kind, normalised_or_skip(kind, raw)))


@settings(deadline=None)
@given(BIRTH_DATES, SERIALS)
def test_masked_national_id_never_holds_the_number(born: date, serial: int) -> None:
    for kind, value in [
        ("national_id.lv", lv_code(born, serial)),
        ("national_id.bg", bg_egn(born, serial)),
        ("national_id.ee", baltic_code(born, False, serial)),
        ("national_id.pl", pesel(born, serial)),
    ]:
        assert_hidden(Identity(kind, value))
