"""Word lists the shop generator combines into invented people and addresses.

Names are common given and family names of each country, drawn independently,
so a full name is an invented combination rather than a known person. Family
names carry their grammatical gender where the language has one (Bērziņš /
Bērziņa, Kazlauskas / Kazlauskienė, Kowalski / Kowalska, Иванов / Иванова).
Bulgarian names and addresses are kept in Cyrillic, as Bulgarian customers
type them, so every backend is exercised with non-Latin text; email local
parts use an ASCII transliteration.

Every email domain ends in ``.example``, a top-level domain reserved for
documentation (RFC 2606): mail to a generated customer can never reach a
real mailbox. Street names are real street names of each country combined
with invented house numbers.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

__all__ = [
    "COUNTRIES",
    "COUNTRY_WEIGHTS",
    "GLOBAL_MAIL_DOMAINS",
    "SHOP_DOMAIN",
    "City",
    "CountryBook",
    "ascii_name",
    "format_postcode",
    "format_street_line",
]

SHOP_DOMAIN = "paraugveikals.example"
"""The invented shop's own web and mail domain."""

GLOBAL_MAIL_DOMAINS: tuple[str, ...] = (
    "gmail.example",
    "outlook.example",
    "icloud.example",
    "yahoo.example",
    "proton.example",
)


@dataclass(frozen=True, slots=True)
class City:
    """A city and the numeric range of its postcodes."""

    name: str
    postcode_low: int
    postcode_high: int


@dataclass(frozen=True, slots=True)
class CountryBook:
    """Everything the generator needs to invent a person of one country."""

    code: str
    female: tuple[str, ...]
    male: tuple[str, ...]
    family: tuple[tuple[str, str], ...]
    """(male form, female form) of each family name."""
    streets: tuple[str, ...]
    cities: tuple[City, ...]
    mail_domains: tuple[str, ...]


# fmt: off
_LV = CountryBook(
    code="LV",
    female=(
        "Anna", "Līga", "Ilze", "Inese", "Kristīne", "Laura", "Elīna", "Dace", "Sanita",
        "Zane", "Agnese", "Evija", "Baiba", "Madara", "Santa", "Ieva", "Marta", "Alise",
        "Sarmīte", "Māra", "Ginta", "Velta", "Rūta", "Signe",
    ),
    male=(
        "Jānis", "Andris", "Mārtiņš", "Edgars", "Kristaps", "Roberts", "Artūrs", "Raivis",
        "Uldis", "Aivars", "Guntis", "Kārlis", "Reinis", "Toms", "Oskars", "Dāvis",
        "Ričards", "Valdis", "Ēriks", "Normunds", "Gatis", "Ivars", "Juris", "Pēteris",
    ),
    family=(
        ("Bērziņš", "Bērziņa"), ("Kalniņš", "Kalniņa"), ("Ozoliņš", "Ozoliņa"),
        ("Jansons", "Jansone"), ("Ozols", "Ozola"), ("Liepiņš", "Liepiņa"),
        ("Krūmiņš", "Krūmiņa"), ("Balodis", "Balode"), ("Eglītis", "Eglīte"),
        ("Zariņš", "Zariņa"), ("Pētersons", "Pētersone"), ("Vītols", "Vītola"),
        ("Kļaviņš", "Kļaviņa"), ("Kārkliņš", "Kārkliņa"), ("Vanags", "Vanaga"),
        ("Lapiņš", "Lapiņa"), ("Siliņš", "Siliņa"), ("Celmiņš", "Celmiņa"),
        ("Grīnbergs", "Grīnberga"), ("Avotiņš", "Avotiņa"), ("Zvaigzne", "Zvaigzne"),
        ("Sproģis", "Sproģe"), ("Dzenis", "Dzene"), ("Āboliņš", "Āboliņa"),
        ("Gailītis", "Gailīte"), ("Strazdiņš", "Strazdiņa"), ("Puriņš", "Puriņa"),
    ),
    streets=(
        "Brīvības iela", "Krišjāņa Barona iela", "Tērbatas iela", "Elizabetes iela",
        "Lāčplēša iela", "Maskavas iela", "Valdemāra iela", "Dzirnavu iela", "Miera iela",
        "Lielā iela", "Rīgas iela", "Skolas iela", "Dārza iela", "Pils iela", "Zemeņu iela",
        "Liepu iela", "Ozolu iela", "Ganību dambis", "Vienības gatve", "Dzelzceļa iela",
    ),
    cities=(
        City("Rīga", 1001, 1084), City("Rīga", 1001, 1084), City("Rīga", 1001, 1084),
        City("Daugavpils", 5401, 5422), City("Liepāja", 3401, 3417),
        City("Jelgava", 3001, 3008), City("Jūrmala", 2008, 2016),
        City("Ventspils", 3601, 3602), City("Rēzekne", 4601, 4604),
        City("Valmiera", 4201, 4202), City("Ogre", 5001, 5001), City("Cēsis", 4101, 4101),
        City("Sigulda", 2150, 2150), City("Salaspils", 2169, 2169),
    ),
    mail_domains=("inbox.example", "pasts.example", "apollo.example", "tvnet.example"),
)

_LT = CountryBook(
    code="LT",
    female=(
        "Ona", "Jurgita", "Rasa", "Eglė", "Agnė", "Ieva", "Gabija", "Rūta", "Kristina",
        "Laura", "Inga", "Dalia", "Austėja", "Vaida", "Simona", "Greta", "Aistė",
    ),
    male=(
        "Jonas", "Tomas", "Mantas", "Lukas", "Darius", "Mindaugas", "Andrius", "Paulius",
        "Tadas", "Rokas", "Vytautas", "Giedrius", "Saulius", "Matas", "Dovydas", "Marius",
    ),
    family=(
        ("Kazlauskas", "Kazlauskienė"), ("Jankauskas", "Jankauskaitė"),
        ("Petrauskas", "Petrauskienė"), ("Stankevičius", "Stankevičienė"),
        ("Vasiliauskas", "Vasiliauskaitė"), ("Žukauskas", "Žukauskienė"),
        ("Butkus", "Butkutė"), ("Paulauskas", "Paulauskienė"), ("Urbonas", "Urbonienė"),
        ("Kavaliauskas", "Kavaliauskaitė"), ("Balčiūnas", "Balčiūnienė"),
        ("Navickas", "Navickaitė"), ("Rimkus", "Rimkienė"), ("Sakalauskas", "Sakalauskienė"),
        ("Baranauskas", "Baranauskaitė"), ("Žilinskas", "Žilinskienė"),
    ),
    streets=(
        "Gedimino pr.", "Vilniaus g.", "Pilies g.", "Laisvės al.", "Savanorių pr.",
        "Ukmergės g.", "Kalvarijų g.", "Taikos pr.", "Žalgirio g.", "Liepų g.",
        "Mokyklos g.", "Sodų g.", "Verkių g.", "Naugarduko g.",
    ),
    cities=(
        City("Vilnius", 1001, 14191), City("Vilnius", 1001, 14191),
        City("Kaunas", 44001, 52500), City("Klaipėda", 91001, 96000),
        City("Šiauliai", 76001, 78000), City("Panevėžys", 35001, 37500),
        City("Alytus", 62001, 63500),
    ),
    mail_domains=("one.example", "takas.example", "zebra.example"),
)

_EE = CountryBook(
    code="EE",
    female=(
        "Mari", "Kadri", "Liis", "Kristiina", "Triin", "Kati", "Maarja", "Anu", "Piret",
        "Helen", "Eha", "Katrin", "Merike", "Laura", "Grete", "Kärt", "Tiiu",
    ),
    male=(
        "Andres", "Jaan", "Tõnu", "Mart", "Rein", "Priit", "Margus", "Toomas", "Siim",
        "Rasmus", "Kristjan", "Marko", "Tanel", "Urmas", "Indrek", "Jüri", "Aivar",
    ),
    family=tuple(
        (name, name)
        for name in (
            "Tamm", "Saar", "Sepp", "Mägi", "Kask", "Kukk", "Rebane", "Ilves", "Pärn",
            "Koppel", "Lepik", "Raudsepp", "Oja", "Vaher", "Kuusk", "Laur", "Kallas",
            "Lill", "Kivi", "Põder", "Mets", "Järv", "Luik",
        )
    ),
    streets=(
        "Tartu mnt", "Narva mnt", "Pärnu mnt", "Liivalaia", "Kadaka tee", "Mustamäe tee",
        "Sõpruse pst", "Pikk", "Lai", "Vabaduse pst", "Männi", "Kase", "Riia", "Rüütli",
    ),
    cities=(
        City("Tallinn", 10111, 15169), City("Tallinn", 10111, 15169),
        City("Tartu", 50050, 51050), City("Narva", 20101, 21020),
        City("Pärnu", 80010, 80050), City("Viljandi", 71001, 71030),
        City("Rakvere", 44301, 44320),
    ),
    mail_domains=("hot.example", "online.example", "neti.example"),
)

_PL = CountryBook(
    code="PL",
    female=(
        "Anna", "Katarzyna", "Małgorzata", "Agnieszka", "Barbara", "Ewa", "Magdalena",
        "Joanna", "Zofia", "Aleksandra", "Natalia", "Monika", "Dorota", "Julia", "Justyna",
    ),
    male=(
        "Piotr", "Krzysztof", "Tomasz", "Andrzej", "Paweł", "Michał", "Marcin", "Jakub",
        "Adam", "Łukasz", "Mateusz", "Kamil", "Grzegorz", "Wojciech", "Bartosz",
    ),
    family=(
        ("Nowak", "Nowak"), ("Kowalski", "Kowalska"), ("Wiśniewski", "Wiśniewska"),
        ("Wójcik", "Wójcik"), ("Kowalczyk", "Kowalczyk"), ("Kamiński", "Kamińska"),
        ("Lewandowski", "Lewandowska"), ("Zieliński", "Zielińska"),
        ("Szymański", "Szymańska"), ("Woźniak", "Woźniak"), ("Dąbrowski", "Dąbrowska"),
        ("Kozłowski", "Kozłowska"), ("Jankowski", "Jankowska"), ("Mazur", "Mazur"),
        ("Krawczyk", "Krawczyk"), ("Piotrowski", "Piotrowska"), ("Grabowski", "Grabowska"),
    ),
    streets=(
        "ul. Długa", "ul. Polna", "ul. Leśna", "ul. Słoneczna", "ul. Krótka", "ul. Szkolna",
        "ul. Ogrodowa", "ul. Lipowa", "ul. Mickiewicza", "ul. Kościuszki",
        "ul. Piłsudskiego", "ul. Marszałkowska", "al. Jerozolimskie", "ul. Żeromskiego",
    ),
    cities=(
        City("Warszawa", 1, 4999), City("Kraków", 30001, 31999), City("Łódź", 90001, 94999),
        City("Wrocław", 50001, 54999), City("Poznań", 60001, 61999),
        City("Gdańsk", 80001, 80999), City("Szczecin", 70001, 71999),
        City("Lublin", 20001, 20999),
    ),
    mail_domains=("wp.example", "onet.example", "interia.example", "o2.example"),
)

_BG = CountryBook(
    code="BG",
    female=(
        "Мария", "Иванка", "Елена", "Йорданка", "Пенка", "Даниела", "Виктория", "Гергана",
        "Десислава", "Николета", "Радослава", "Теодора", "Силвия", "Милена", "Петя",
    ),
    male=(
        "Иван", "Георги", "Димитър", "Николай", "Петър", "Христо", "Стоян", "Тодор",
        "Александър", "Васил", "Мартин", "Калоян", "Владимир", "Любомир", "Стефан",
    ),
    family=(
        ("Иванов", "Иванова"), ("Георгиев", "Георгиева"), ("Димитров", "Димитрова"),
        ("Петров", "Петрова"), ("Николов", "Николова"), ("Христов", "Христова"),
        ("Стоянов", "Стоянова"), ("Тодоров", "Тодорова"), ("Илиев", "Илиева"),
        ("Василев", "Василева"), ("Атанасов", "Атанасова"), ("Петков", "Петкова"),
        ("Ангелов", "Ангелова"), ("Колев", "Колева"), ("Йорданов", "Йорданова"),
        ("Маринов", "Маринова"),
    ),
    streets=(
        "ул. „Граф Игнатиев“", "бул. „Витоша“", "ул. „Раковски“", "бул. „България“",
        "ул. „Шипка“", "ул. „Цар Симеон“", "бул. „Христо Ботев“", "ул. „Оборище“",
        "ул. „Васил Левски“", "бул. „Цар Освободител“",
    ),
    cities=(
        City("София", 1000, 1799), City("София", 1000, 1799), City("Пловдив", 4000, 4030),
        City("Варна", 9000, 9030), City("Бургас", 8000, 8020), City("Русе", 7000, 7020),
        City("Стара Загора", 6000, 6010),
    ),
    mail_domains=("abv.example", "dir.example", "mail-bg.example"),
)

_DE = CountryBook(
    code="DE",
    female=("Anna", "Laura", "Julia", "Lena", "Sarah", "Katharina", "Sabine", "Claudia"),
    male=("Thomas", "Michael", "Andreas", "Stefan", "Jan", "Lukas", "Felix", "Tobias"),
    family=tuple(
        (name, name)
        for name in (
            "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner",
            "Becker", "Hoffmann", "Schulz", "Koch", "Richter",
        )
    ),
    streets=(
        "Hauptstraße", "Bahnhofstraße", "Gartenstraße", "Schulstraße", "Dorfstraße",
        "Lindenstraße", "Bergstraße", "Goethestraße",
    ),
    cities=(
        City("Berlin", 10115, 14199), City("Hamburg", 20095, 22769),
        City("München", 80331, 81929), City("Köln", 50667, 51149),
        City("Leipzig", 4103, 4357),
    ),
    mail_domains=("gmx.example", "web.example", "t-online.example"),
)

_FI = CountryBook(
    code="FI",
    female=("Aino", "Maria", "Helmi", "Sanna", "Laura", "Johanna", "Emilia", "Veera"),
    male=("Mikko", "Juha", "Matti", "Antti", "Jukka", "Timo", "Eetu", "Onni"),
    family=tuple(
        (name, name)
        for name in (
            "Korhonen", "Virtanen", "Mäkinen", "Nieminen", "Mäkelä", "Hämäläinen",
            "Laine", "Heikkinen", "Koskinen", "Järvinen",
        )
    ),
    streets=(
        "Mannerheimintie", "Hämeenkatu", "Aleksanterinkatu", "Rantatie", "Koulukatu",
        "Puistokatu", "Kirkkokatu",
    ),
    cities=(
        City("Helsinki", 100, 990), City("Espoo", 2100, 2980), City("Tampere", 33100, 33960),
        City("Turku", 20100, 20960), City("Oulu", 90100, 90940),
    ),
    mail_domains=("luukku.example", "elisa.example"),
)

_SE = CountryBook(
    code="SE",
    female=("Anna", "Eva", "Maria", "Karin", "Sara", "Emma", "Elin", "Linnea"),
    male=("Erik", "Lars", "Karl", "Anders", "Johan", "Per", "Nils", "Oskar"),
    family=tuple(
        (name, name)
        for name in (
            "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson",
            "Olsson", "Persson", "Svensson", "Gustafsson",
        )
    ),
    streets=(
        "Storgatan", "Drottninggatan", "Kungsgatan", "Skolgatan", "Kyrkogatan",
        "Järnvägsgatan",
    ),
    cities=(
        City("Stockholm", 11120, 12999), City("Göteborg", 41101, 41879),
        City("Malmö", 21111, 21774), City("Uppsala", 75220, 75758),
    ),
    mail_domains=("telia.example", "bredband.example"),
)

# fmt: on

COUNTRIES: dict[str, CountryBook] = {
    book.code: book for book in (_LV, _LT, _EE, _PL, _BG, _DE, _FI, _SE)
}
"""Country books by ISO 3166 alpha-2 code."""

COUNTRY_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("LV", 45),
    ("LT", 12),
    ("EE", 10),
    ("PL", 12),
    ("BG", 8),
    ("DE", 5),
    ("FI", 5),
    ("SE", 3),
)
"""Where the Latvian shop's customers live."""

# fmt: off
_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z",
    "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p",
    "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "ts", "ч": "ch",
    "ш": "sh", "щ": "sht", "ъ": "a", "ь": "y", "ю": "yu", "я": "ya",
}
# fmt: on
"""Bulgarian Cyrillic to Latin, the official streamlined system (2009)."""

_LATIN_EXTRA = {"ł": "l", "ß": "ss", "ø": "o", "æ": "ae", "đ": "d"}


@cache
def ascii_name(name: str) -> str:
    """A name as people write it in an email address: lower-case ASCII
    letters only (``Bērziņa`` -> ``berzina``, ``Иванова`` -> ``ivanova``)."""
    out: list[str] = []
    for ch in name.lower():
        if ch in _CYRILLIC:
            out.append(_CYRILLIC[ch])
        elif ch in _LATIN_EXTRA:
            out.append(_LATIN_EXTRA[ch])
        else:
            base = unicodedata.normalize("NFKD", ch)[0]
            if base.isascii() and base.isalpha():
                out.append(base)
    return "".join(out)


def format_postcode(country: str, number: int) -> str:
    """A postcode as that country writes it."""
    if country == "LV":
        return f"LV-{number:04d}"
    if country == "LT":
        return f"LT-{number:05d}"
    if country == "PL":
        return f"{number // 1000:02d}-{number % 1000:03d}"
    if country == "SE":
        return f"{number // 100:03d} {number % 100:02d}"
    if country == "BG":
        return f"{number:04d}"
    return f"{number:05d}"


def format_street_line(country: str, street: str, house: int, flat: int | None) -> str:
    """The first address line in the country's usual order and punctuation."""
    if country == "PL":
        return f"{street} {house}" + (f"/{flat}" if flat else "")
    if country == "BG":
        return f"{street} {house}" + (f", ап. {flat}" if flat else "")
    if country == "FI":
        return f"{street} {house}" + (f" B {flat}" if flat else "")
    if country in ("DE", "SE"):
        return f"{street} {house}"
    return f"{street} {house}" + (f"-{flat}" if flat else "")
