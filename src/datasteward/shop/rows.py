"""The row generators of one shop (a size, a seed and a reference time).

Two kinds of randomness (see ``rng``): what other tables look up about a
customer (sign-up and closing time, country, name and email, bank account,
home IP address) is drawn from a per-customer :class:`Rng`, so an order
recomputes it instead of remembering it; everything else is drawn in table
order from per-chunk streams. Tables that depend on another table's rows
(items and payments on orders, events on subscriptions, documents on
sellers) replay that table's stream, which gives the same rows again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Final

from datasteward.errors import UsageError
from datasteward.shop.catalogue import (
    BOT_AGENTS,
    BROWSER_AGENTS,
    CATEGORIES,
    CONTACT_TEMPLATES,
    DOCUMENT_FILES,
    MAIL_AGENTS,
    PAGES,
    PRODUCT_SLUGS,
    PRODUCTS,
    REFERRERS,
    SEARCHES,
)
from datasteward.shop.identifiers import IBAN_BANKS, iban
from datasteward.shop.names import COUNTRIES, format_postcode, format_street_line
from datasteward.shop.people import (
    COUNTRY_CHOICE,
    MAX_ORDINAL,
    Namespace,
    Person,
    customer_email_number,
    email_address,
    invent_person,
    ip_address,
    seconds,
    to_datetime,
)
from datasteward.shop.rng import CHUNK, ChunkRng, Draws, Rng, Weighted, stream_key

__all__ = [
    "DAY",
    "Order",
    "Payment",
    "Row",
    "Shop",
    "ShopSize",
    "Subscription",
    "Timeline",
    "money",
    "years_before",
]

Row = tuple[object, ...]
"""One row, values in the column order of its table in ``schema``."""

DAY: Final = 86_400
_CACHE: Final = 1 << 16
"""Customers whose derived details each cache remembers (tens of MB at most)."""
_HISTORY_YEARS: Final = 12
_LOG_YEARS: Final = 2
_EVENT_YEARS: Final = 3
_MESSAGE_YEARS: Final = 4
_SELLER_YEARS: Final = 6
_SUBSCRIBER_YEARS: Final = 6
_RECENT_LOG_DAYS: Final = 30
_RECENT_LOG_SHARE: Final = 0.35
_ADULT_DAYS: Final = 6_575
"""Eighteen years, in days, as near as a whole number of days gets."""
_BGN_EURO_DAY: Final = datetime(2026, 1, 1)
"""Bulgaria pays in euro from this day; before it, in lev."""

_ITEM_COUNTS = Weighted(
    [(1, 36), (2, 26), (3, 16), (4, 10), (5, 6), (6, 3), (7, 1.5), (8, 1), (10, 0.5)]
)
_QUANTITIES = Weighted([(1, 72), (2, 20), (3, 5), (4, 2), (5, 1)])
_RECENT_STATUS = Weighted(
    [
        ("processing", 40),
        ("pending", 10),
        ("on-hold", 8),
        ("completed", 35),
        ("cancelled", 4),
        ("failed", 3),
    ]
)
_OLD_STATUS = Weighted([("completed", 91), ("cancelled", 3.5), ("refunded", 3), ("failed", 2.5)])
_PAID_STATUSES = frozenset({"completed", "processing", "refunded"})
_PROVIDERS = Weighted([("stripe", 45), ("paypal", 20), ("klarna", 15), ("bank_transfer", 20)])
_ENGAGEMENT = Weighted([(0.0, 35), (0.15, 35), (0.5, 20), (1.2, 10)])
"""Newsletter opens and clicks per month of subscription."""
_BROWSERS = Weighted(BROWSER_AGENTS)
_MAIL_CLIENTS = Weighted(MAIL_AGENTS)
_PAGES = Weighted(PAGES)
_REFERRERS = Weighted(REFERRERS)
_SELLER_COUNTRIES = Weighted(
    [("LV", 70), ("LT", 8), ("EE", 8), ("PL", 5), ("BG", 3), ("FI", 3), ("DE", 3)]
)
_ID_DOCUMENTS = Weighted([("id_card", 55), ("passport", 40), ("residence_permit", 5)])
_DOCUMENT_KINDS = (
    ("id_document", 1.0),
    ("proof_of_address", 0.7),
    ("bank_statement", 0.6),
    ("contract", 0.8),
)
_CRAFTS_LV = ("keramika", "darbnīca", "adījumi", "medus", "koka lietas", "sveces")
_CRAFTS = ("ceramics", "woodwork", "knitwear", "honey", "candles", "linen")


def years_before(moment: datetime, years: int) -> datetime:
    """The same calendar day ``years`` earlier (29 February becomes the 28th)."""
    day = 28 if (moment.month, moment.day) == (2, 29) else moment.day
    return moment.replace(year=moment.year - years, day=day)


def money(cents: int) -> Decimal:
    """An amount with two decimals, exactly."""
    return Decimal(cents).scaleb(-2)


def _price(euro_cents: int, currency: str) -> int:
    if currency == "PLN":
        return euro_cents * 43 // 1000 * 100 + 99
    if currency == "BGN":
        return euro_cents * 195_583 // 100_000
    return euro_cents


@dataclass(frozen=True, slots=True)
class ShopSize:
    """Row counts fixed by the size alone; the other tables follow from the
    rows (items per order, events per subscriber, ...)."""

    total_rows: int
    customers: int
    orders: int
    newsletter_subscribers: int
    contact_messages: int
    sellers: int


@dataclass(frozen=True, slots=True)
class Timeline:
    """When a customer signed up and closed the account, and restriction."""

    created: int
    closed: int | None
    restricted: bool


@dataclass(frozen=True, slots=True)
class Payment:
    provider: str
    payer_iban: str | None
    card_last4: str | None
    cents: int
    paid: int


@dataclass(frozen=True, slots=True)
class Order:
    """An order with its items ``(product, quantity, unit price in cents)``
    and payments."""

    customer_id: int
    created: int
    status: str
    currency: str
    items: list[tuple[str, int, int]]
    payments: list[Payment]

    @property
    def total_cents(self) -> int:
        return sum(quantity * price for _, quantity, price in self.items)


@dataclass(frozen=True, slots=True)
class Subscription:
    customer_id: int | None
    subscribed: int
    unsubscribed: int | None


class Shop:
    """The row generators of one shop."""

    def __init__(self, size: ShopSize, seed: int, now: datetime) -> None:
        if now.tzinfo is not None:
            raise UsageError("the reference time is a naive datetime in UTC")
        self.size = size
        self.seed = seed
        self.now = seconds(now)
        self.start = seconds(years_before(now, _HISTORY_YEARS))
        self.log_start = seconds(years_before(now, _LOG_YEARS))
        self.event_start = seconds(years_before(now, _EVENT_YEARS))
        self.message_start = seconds(years_before(now, _MESSAGE_YEARS))
        self.seller_start = seconds(years_before(now, _SELLER_YEARS))
        self.subscriber_start = seconds(years_before(now, _SUBSCRIBER_YEARS))
        self.euro_day = seconds(_BGN_EURO_DAY)
        names = ("timeline", "country", "identity", "money", "network", "subscriber")
        self._keys = {name: stream_key(seed, f"entity/{name}") for name in names}
        # Orders, requests and subscriptions look customers up again and again
        # (regulars most); bounded caches keep the memory flat.
        self.timeline: Callable[[int], Timeline] = lru_cache(maxsize=_CACHE)(self._timeline)
        self.country: Callable[[int], str] = lru_cache(maxsize=_CACHE)(self._country)
        self.contact: Callable[[int], tuple[str, str]] = lru_cache(maxsize=_CACHE)(self._contact)
        self.home_ip: Callable[[int], str] = lru_cache(maxsize=_CACHE)(self._home_ip)
        self._linked_step = next(
            step
            for step in (7_919, 104_729, 1_299_709, 15_485_863)
            if math.gcd(step, size.customers) == 1
        )

    def sequence(self, table: str, count: int) -> Iterator[tuple[int, ChunkRng]]:
        """Row numbers ``1..count`` of ``table``, each with the stream its
        values are drawn from (one stream per chunk of rows)."""
        for start in range(0, count, CHUNK):
            rng = ChunkRng(self.seed, table, start // CHUNK)
            for number in range(start + 1, min(start + CHUNK, count) + 1):
                yield number, rng

    # -- customers ------------------------------------------------------------------------

    def _timeline(self, customer_id: int) -> Timeline:
        """Sign-up, closing and restriction of a customer; most sign-ups are
        recent (the shop grew), one in twelve accounts is closed."""
        rng = Rng(self._keys["timeline"], customer_id)
        span = self.now - self.start - 3_600
        created = self.now - 3_600 - int(span * (1.0 - math.sqrt(rng.unit())))
        closed: int | None = None
        room = self.now - created - DAY - 60
        if rng.chance(0.08) and room > 0:
            closed = created + DAY + rng.below(room)
        return Timeline(created, closed, rng.chance(0.003))

    def window_end(self, line: Timeline) -> int:
        return line.closed if line.closed is not None else self.now

    def _country(self, customer_id: int) -> str:
        return COUNTRY_CHOICE.draw(Rng(self._keys["country"], customer_id))

    def _contact(self, customer_id: int) -> tuple[str, str]:
        """Full name and email of a customer."""
        person, email, _, _ = self.customer_person(customer_id)
        return person.full_name, email

    def _home_ip(self, customer_id: int) -> str:
        return ip_address(Rng(self._keys["network"], customer_id))

    def customer_person(
        self, customer_id: int, created: int | None = None
    ) -> tuple[Person, str, str | None, str | None]:
        """A customer's person, email, phone (or None) and personal code (or
        None); ``created`` overrides the sign-up time the code depends on."""
        rng = Rng(self._keys["identity"], customer_id)
        wants_code = rng.chance(0.2)
        person = invent_person(rng, self.country(customer_id), customer_id, national=wants_code)
        email = email_address(rng, person, customer_email_number(customer_id), Namespace.CUSTOMER)
        phone = person.phone if rng.chance(0.9) else None
        code = person.national_id
        adult = seconds(datetime.combine(person.birth, datetime.min.time())) + _ADULT_DAYS * DAY
        signed_up = created if created is not None else self.timeline(customer_id).created
        if code is not None and adult > signed_up:
            code = None  # the shop asks adults only for their personal code
        return person, email, phone, code

    def customer_row(self, customer_id: int, line: Timeline | None = None) -> Row:
        line = line or self.timeline(customer_id)
        person, email, phone, code = self.customer_person(customer_id, line.created)
        return (
            customer_id,
            email,
            person.first_name,
            person.last_name,
            phone,
            code,
            person.country,
            to_datetime(line.created),
            None if line.closed is None else to_datetime(line.closed),
            line.restricted,
        )

    def customers(self) -> Iterator[Row]:
        for customer_id in range(1, self.size.customers + 1):
            yield self.customer_row(customer_id)

    def pick_customer(self, rng: Draws) -> int:
        """A customer; one in ten (the regulars) is picked about five times as often."""
        count = self.size.customers
        if count >= 10 and rng.chance(0.3):
            return 10 * rng.below(count // 10) + 3
        return 1 + rng.below(count)

    # -- addresses ------------------------------------------------------------------------

    def address_rows(self, customer_id: int, first_id: int, rng: Draws) -> list[Row]:
        """One billing address, and for half the customers a shipping address."""
        count = 1 if rng.chance(0.5) else 2
        home = self.country(customer_id)
        rows: list[Row] = []
        for offset, kind in enumerate(("billing", "shipping")[:count]):
            country = COUNTRY_CHOICE.draw(rng) if offset and rng.chance(0.05) else home
            book = COUNTRIES[country]
            city = rng.pick(book.cities)
            flat = rng.between(1, 80) if rng.chance(0.6) else None
            line1 = format_street_line(country, rng.pick(book.streets), rng.between(1, 150), flat)
            postcode = format_postcode(country, rng.between(city.postcode_low, city.postcode_high))
            rows.append((first_id + offset, customer_id, line1, city.name, postcode, country, kind))
        return rows

    def addresses(self) -> Iterator[Row]:
        next_id = 1
        for customer_id, rng in self.sequence("addresses", self.size.customers):
            rows = self.address_rows(customer_id, next_id, rng)
            next_id += len(rows)
            yield from rows

    # -- orders, items, payments ----------------------------------------------------------

    def orders(self) -> Iterator[tuple[int, Order]]:
        for order_id, rng in self.sequence("orders", self.size.orders):
            customer = self.pick_customer(rng)
            line = self.timeline(customer)
            created = line.created + rng.below(max(1, self.window_end(line) - line.created))
            yield order_id, self.order(rng, customer, created)

    def order(
        self, rng: Draws, customer_id: int, created: int, *, items: int = 0, status: str = ""
    ) -> Order:
        """An order placed at ``created``; ``items`` and ``status``, when
        given, fix the number of items (one of each) and the status."""
        recent = self.now - created < 14 * DAY
        status = status or (_RECENT_STATUS if recent else _OLD_STATUS).draw(rng)
        country = self.country(customer_id)
        currency = "EUR"
        if country == "PL":
            currency = "PLN"
        elif country == "BG" and created < self.euro_day:
            currency = "BGN"
        lines: list[tuple[str, int, int]] = []
        for _ in range(items or _ITEM_COUNTS.draw(rng)):
            name, euro_cents = rng.pick(PRODUCTS)
            if rng.chance(0.1):
                euro_cents = euro_cents * rng.between(80, 90) // 100
            lines.append(
                (name, 1 if items else _QUANTITIES.draw(rng), _price(euro_cents, currency))
            )
        payments: list[Payment] = []
        if status in _PAID_STATUSES:
            total = sum(quantity * price for _, quantity, price in lines)
            payments = self._payments(rng, customer_id, country, created, status, total)
        return Order(customer_id, created, status, currency, lines, payments)

    def _payments(
        self, rng: Draws, customer_id: int, country: str, created: int, status: str, total: int
    ) -> list[Payment]:
        provider = _PROVIDERS.draw(rng)
        account = Rng(self._keys["money"], customer_id)
        bank, number, card = account.below(9), account.bits(), account.between(0, 9_999)
        payer_iban = card_last4 = None
        if provider == "bank_transfer":
            payer_iban = iban(country if country in IBAN_BANKS else "LV", bank, number)
            paid = created + rng.between(3_600, 3 * DAY)
        else:
            paid = created + rng.between(20, 900)
            if provider == "stripe":
                card_last4 = f"{card if rng.chance(0.7) else rng.between(0, 9_999):04d}"
        paid = min(paid, self.now)
        payments = [Payment(provider, payer_iban, card_last4, total, paid)]
        if status == "refunded":
            refunded = min(paid + rng.between(DAY, 30 * DAY), self.now)
            payments.append(Payment(provider, payer_iban, card_last4, -total, refunded))
        return payments

    def order_row(self, order_id: int, order: Order) -> Row:
        full_name, email = self.contact(order.customer_id)
        return (
            order_id,
            order.customer_id,
            to_datetime(order.created),
            order.status,
            money(order.total_cents),
            order.currency,
            full_name,
            email,
        )

    @staticmethod
    def item_rows(order_id: int, order: Order, first_id: int) -> list[Row]:
        return [
            (first_id + offset, order_id, name, quantity, money(price))
            for offset, (name, quantity, price) in enumerate(order.items)
        ]

    @staticmethod
    def payment_rows(order_id: int, order: Order, first_id: int) -> list[Row]:
        return [
            (
                first_id + offset,
                order_id,
                p.provider,
                p.payer_iban,
                p.card_last4,
                money(p.cents),
                to_datetime(p.paid),
            )
            for offset, p in enumerate(order.payments)
        ]

    # -- newsletter -----------------------------------------------------------------------

    def subscriptions(self) -> Iterator[tuple[int, Subscription]]:
        """Three in five subscribers are customers, each customer at most once."""
        customers = self.size.customers
        for subscriber_id, rng in self.sequence("newsletter_subscribers", self.subscribers):
            slot = (subscriber_id - 1) % 5
            linked = (subscriber_id - 1) // 5 * 3 + slot
            if slot < 3 and linked < customers:
                customer = 1 + (linked * self._linked_step + 17) % customers
                line = self.timeline(customer)
                end = self.window_end(line)
                if rng.chance(0.3):  # ticked the box when signing up
                    subscribed = min(line.created + rng.between(5, 600), end)
                else:
                    subscribed = line.created + rng.below(max(1, end - line.created))
                unsubscribed: int | None = line.closed
                if unsubscribed is None and rng.chance(0.2):
                    unsubscribed = subscribed + rng.below(max(1, self.now - subscribed))
                yield subscriber_id, Subscription(customer, subscribed, unsubscribed)
                continue
            subscribed = self.now - rng.below(self.now - self.subscriber_start)
            unsubscribed = None
            if rng.chance(0.25):
                unsubscribed = subscribed + rng.below(max(1, self.now - subscribed))
            yield subscriber_id, Subscription(None, subscribed, unsubscribed)

    @property
    def subscribers(self) -> int:
        return self.size.newsletter_subscribers

    def subscriber_row(self, subscriber_id: int, sub: Subscription) -> Row:
        rng = Rng(self._keys["subscriber"], subscriber_id)
        if sub.customer_id is not None:
            email = self.contact(sub.customer_id)[1]
        else:
            person = invent_person(rng, COUNTRY_CHOICE.draw(rng), subscriber_id, national=False)
            email = email_address(rng, person, subscriber_id, Namespace.SUBSCRIBER)
        return (
            subscriber_id,
            email,
            sub.customer_id,
            to_datetime(sub.subscribed),
            None if sub.unsubscribed is None else to_datetime(sub.unsubscribed),
            ip_address(rng),
        )

    def events(self) -> Iterator[tuple[int, Subscription, list[tuple[str, int, str, str]]]]:
        """Each subscriber's tracked opens and clicks ``(kind, time, ip,
        user agent)`` within the last three years of the subscription."""
        streams = zip(
            self.subscriptions(),
            self.sequence("newsletter_events", self.subscribers),
            strict=True,
        )
        for (subscriber_id, sub), (_, rng) in streams:
            start = max(sub.subscribed, self.event_start)
            end = sub.unsubscribed if sub.unsubscribed is not None else self.now
            engagement = _ENGAGEMENT.draw(rng)
            if end <= start or not engagement:
                yield subscriber_id, sub, []
                continue
            months = (end - start) / (30 * DAY)
            count = min(60, int(engagement * months + rng.unit()))
            client = _MAIL_CLIENTS.draw(rng)
            events: list[tuple[str, int, str, str]] = []
            for moment in sorted(start + rng.below(end - start) for _ in range(count)):
                kind = "click" if rng.chance(0.25) else "open"
                agent = client if rng.chance(0.85) else _MAIL_CLIENTS.draw(rng)
                events.append((kind, moment, ip_address(rng), agent))
            yield subscriber_id, sub, events

    # -- contact form ---------------------------------------------------------------------

    def contact_messages(self) -> Iterator[Row]:
        for message_id, rng in self.sequence("contact_messages", self.size.contact_messages):
            yield self._contact_message(message_id, rng)

    def _contact_message(self, message_id: int, rng: Draws) -> Row:
        created = self.now - rng.below(self.now - self.message_start)
        person: Person | None = None
        email = ""
        if rng.chance(0.4):
            customer = 1 + rng.below(self.size.customers)
            line = self.timeline(customer)
            start, end = max(line.created, self.message_start), self.window_end(line)
            if end > start:
                person, email, _, _ = self.customer_person(customer)
                created = start + rng.below(end - start)
        if person is None:
            person = invent_person(rng, COUNTRY_CHOICE.draw(rng), message_id, national=False)
            email = email_address(rng, person, message_id, Namespace.CORRESPONDENT)
        name = person.first_name if rng.chance(0.2) else person.full_name
        text = rng.pick(CONTACT_TEMPLATES).format(
            order=rng.between(1, max(1, self.size.orders)), phone=person.phone, name=name
        )
        resolved: int | None = None
        if rng.chance(0.85 if self.now - created > 14 * DAY else 0.4):
            resolved = min(created + rng.between(3_600, 10 * DAY), self.now - 60)
            if resolved <= created:
                resolved = None
        return (
            message_id,
            email,
            name,
            text,
            ip_address(rng),
            to_datetime(created),
            None if resolved is None else to_datetime(resolved),
        )

    # -- sellers --------------------------------------------------------------------------

    def sellers(self) -> Iterator[Row]:
        for seller_id, rng in self.sequence("sellers", self.size.sellers):
            yield self._seller(seller_id, rng)

    def _seller(self, seller_id: int, rng: Draws) -> Row:
        registered = self.now - rng.below(self.now - self.seller_start)
        country = _SELLER_COUNTRIES.draw(rng)
        person = invent_person(rng, country, MAX_ORDINAL + seller_id, national=True)
        adult = seconds(datetime.combine(person.birth, datetime.min.time())) + _ADULT_DAYS * DAY
        registered = max(registered, min(adult + rng.below(365 * DAY), self.now - DAY))
        closed: int | None = None
        if rng.chance(0.15):
            closed = registered + rng.below(self.now - registered)
        if rng.chance(0.6):
            legal_name = person.full_name
        elif country == "LV":
            legal_name = f"IK “{person.last_name} {rng.pick(_CRAFTS_LV)}”"
        else:
            legal_name = f"{person.full_name} ({rng.pick(_CRAFTS)})"
        document = _ID_DOCUMENTS.draw(rng)
        letters = {"passport": country, "id_card": "P" + country[0], "residence_permit": "RP"}
        bank_country = country if country in IBAN_BANKS else "LV"
        return (
            seller_id,
            email_address(rng, person, seller_id, Namespace.SELLER),
            legal_name,
            person.phone,
            iban(bank_country, rng.below(9), rng.bits()),
            person.birth,
            document,
            f"{letters[document]}{rng.between(1_000_000, 9_999_999)}",
            person.national_id,
            to_datetime(registered),
            None if closed is None else to_datetime(closed),
        )

    def documents(self) -> Iterator[tuple[Row, list[tuple[str, str, datetime]]]]:
        """Each seller's uploads ``(kind, file name, time)``: always an
        identity document, usually more."""
        streams = zip(
            self.sellers(), self.sequence("seller_documents", self.size.sellers), strict=True
        )
        for seller, (_, rng) in streams:
            registered = seller[9]
            assert isinstance(registered, datetime)
            uploads: list[tuple[str, str, datetime]] = []
            for kind, chance in _DOCUMENT_KINDS:
                if not rng.chance(chance):
                    continue
                moment = to_datetime(min(seconds(registered) + rng.below(7 * DAY), self.now))
                name = rng.pick(DOCUMENT_FILES[kind]).format(
                    date=f"{moment:%Y%m%d}", time=f"{moment:%H%M%S}", year=moment.year
                )
                uploads.append((kind, name, moment))
            yield seller, uploads

    # -- access log -----------------------------------------------------------------------

    def log_moment(self, fraction: float) -> int:
        """The time at ``fraction`` (0-1) of the log, in increasing order:
        65 % of requests spread evenly over two years, 35 % over the last 30
        days."""
        span = self.now - self.log_start
        recent = _RECENT_LOG_DAYS * DAY
        a = (1 - _RECENT_LOG_SHARE) / span
        b = _RECENT_LOG_SHARE / recent
        boundary = self.now - recent
        if fraction < a * (boundary - self.log_start):
            return self.log_start + int(fraction / a)
        return min(self.now, int((fraction + a * self.log_start + b * boundary) / (a + b)))

    def access_row(
        self, row_id: int, moment: int, rng: Draws, customer_id: int | None = None
    ) -> Row:
        """One request; ``customer_id`` makes it a request of that customer."""
        customer = customer_id
        bot = customer is None and rng.chance(0.08)
        if customer is None and not bot and rng.chance(0.3):
            picked = self.pick_customer(rng)
            line = self.timeline(picked)
            if line.created <= moment <= self.window_end(line):
                customer = picked
        agent = rng.pick(BOT_AGENTS) if bot else _BROWSERS.draw(rng)
        at_home = customer is not None and rng.chance(0.6)
        ip = self.home_ip(customer) if customer is not None and at_home else ip_address(rng)
        path = _PAGES.draw(rng)
        if "{" in path:
            path = path.format(
                slug=rng.pick(PRODUCT_SLUGS),
                category=rng.pick(CATEGORIES),
                search=rng.pick(SEARCHES),
                order=rng.between(1, max(1, self.size.orders)),
            )
        referrer = None if bot or rng.chance(0.45) else _REFERRERS.draw(rng)
        return (row_id, ip, agent, path, referrer, to_datetime(moment), customer)

    def access_log(self, count: int) -> Iterator[Row]:
        for row_id, rng in self.sequence("access_log", count):
            moment = self.log_moment((row_id - 1 + rng.unit()) / count)
            yield self.access_row(row_id, moment, rng)
