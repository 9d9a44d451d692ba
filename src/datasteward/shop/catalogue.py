"""What the invented shop sells and what its web server sees: products and
prices, browser and mail-client user agents, page paths, referrers, and the
texts customers write into the contact form.

Paraugveikals is a small Latvian online shop for home goods and crafts
(linen, ceramics, candles, honey, woollens) that also hosts a marketplace of
independent makers, the "sellers". The contact messages sometimes carry
personal data in free text (an order number, a phone number), as real ones
do; that is what makes ``set_null`` the right erasure for them.
"""

from __future__ import annotations

__all__ = [
    "BOT_AGENTS",
    "BROWSER_AGENTS",
    "CATEGORIES",
    "CONTACT_TEMPLATES",
    "DOCUMENT_FILES",
    "MAIL_AGENTS",
    "PAGES",
    "PRODUCTS",
    "PRODUCT_SLUGS",
    "REFERRERS",
    "SEARCHES",
]

# fmt: off
PRODUCTS: tuple[tuple[str, int], ...] = (
    ("Linu galdauts “Rīts” 140×180", 3890),
    ("Linu dvielis, dabīgs", 1450),
    ("Linu spilvendrāna 50×70", 1990),
    ("Keramikas krūze “Jūra”", 1800),
    ("Keramikas bļoda, liela", 3200),
    ("Māla šķīvis, melnā keramika", 2450),
    ("Bišu vaska svece, 3 gab.", 1250),
    ("Sojas vaska svece “Priede”", 1590),
    ("Ozolkoka griešanas dēlis", 2990),
    ("Koka karote, bērzs", 650),
    ("Pīts grozs ar rokturiem", 3490),
    ("Vilnas pleds “Kurzeme” 130×170", 7900),
    ("Adīti cimdi ar rakstiem", 3600),
    ("Vilnas zeķes", 1490),
    ("Dzijas komplekts, 5 tīti", 2750),
    ("Medus “Pļavu zieds” 500 g", 890),
    ("Zāļu tēja “Jāņu vakars” 50 g", 590),
    ("Rupjmaizes sausiņi ar ķiplokiem", 320),
    ("Dzintara kaklarota, neapstrādāts dzintars", 4500),
    ("Dāvanu karte 25 EUR", 2500),
    ("Dāvanu karte 50 EUR", 5000),
    ("Ziepes ar kazas pienu", 590),
    ("Auduma iepirkumu soma", 1200),
    ("Lina priekšauts", 2290),
    ("Keramikas vāze “Daugava”", 5400),
)
"""Product names as shown in the shop, and the price in euro cents."""

PRODUCT_SLUGS: tuple[str, ...] = (
    "linu-galdauts-rits", "linu-dvielis", "keramikas-kruze-jura", "bisu-vaska-svece",
    "ozolkoka-griesanas-delis", "vilnas-pleds-kurzeme", "aditi-cimdi", "medus-plavu-zieds",
    "zalu-teja-janu-vakars", "dzintara-kaklarota", "davanu-karte", "keramikas-vaze-daugava",
)

PAGES: tuple[tuple[str, float], ...] = (
    ("/", 18),
    ("/veikals/", 10),
    ("/produkts/{slug}/", 30),
    ("/produktu-kategorija/{category}/", 8),
    ("/grozs/", 6),
    ("/kase/", 4),
    ("/kase/pasutijums-sanemts/{order}/", 1.5),
    ("/mans-konts/", 3),
    ("/mans-konts/pasutijumi/", 1.5),
    ("/?s={search}", 3),
    ("/kontakti/", 1.5),
    ("/privatuma-politika/", 0.5),
    ("/wp-json/wc/store/v1/cart", 4),
    ("/wp-login.php", 1),
    ("/xmlrpc.php", 0.5),
    ("/.env", 0.2),
    ("/robots.txt", 1),
    ("/sitemap.xml", 1),
)
"""Request paths with relative frequencies; placeholders are filled per request."""

CATEGORIES: tuple[str, ...] = (
    "lins", "keramika", "sveces", "koka-izstradajumi", "vilna", "partika", "davanas",
)

SEARCHES: tuple[str, ...] = (
    "galdauts", "svece", "medus", "kruze", "cimdi", "dzintars", "davanu+karte", "lins",
    "vaze", "teja",
)

REFERRERS: tuple[tuple[str, float], ...] = (
    ("https://www.google.com/", 40),
    ("https://www.google.lv/", 12),
    ("https://www.facebook.com/", 10),
    ("https://l.instagram.com/", 8),
    ("https://www.bing.com/", 3),
    ("https://duckduckgo.com/", 2),
    ("https://www.salidzini.lv/", 4),
    ("https://paraugveikals.example/", 18),
    ("https://paraugveikals.example/veikals/", 10),
)

BROWSER_AGENTS: tuple[tuple[str, float], ...] = (
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/128.0.0.0 Safari/537.36", 30),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1", 20),
    ("Mozilla/5.0 (Linux; Android 14; SM-A546B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/128.0.0.0 Mobile Safari/537.36", 18),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Version/17.6 Safari/605.1.15", 9),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:130.0) Gecko/20100101 Firefox/130.0", 7),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/128.0.0.0 Safari/537.36 Edg/128.0.0.0", 6),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0", 2),
    ("Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1", 3),
)

BOT_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "python-requests/2.32.3",
    "curl/8.5.0",
)

MAIL_AGENTS: tuple[tuple[str, float], ...] = (
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Mobile/15E148", 35),
    ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com "
     "GoogleImageProxy)", 30),
    ("Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)", 15),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko)", 12),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.2.0", 8),
)
"""User agents of the mail clients that load newsletter tracking pixels."""

CONTACT_TEMPLATES: tuple[str, ...] = (
    "Labdien! Pasūtījums Nr. {order} joprojām nav piegādāts. Lūdzu, pārbaudiet, kur tas ir.",
    "Sveiki, vai varu mainīt piegādes adresi pasūtījumam {order}? Mans telefons: {phone}.",
    "Labdien, saņēmu bojātu krūzi (pasūtījums {order}). Kā to varu apmainīt?",
    "Vai jums ir pieejams linu galdauts lielākā izmērā? Paldies, {name}",
    "Hello, I would like to return an item from order {order}. How do I do that?",
    "Hi! Do you ship to Finland, and how long does delivery take?",
    "Good afternoon, please call me back about a wholesale order: {phone}. {name}",
    "Lūdzu, izdzēsiet manu kontu un visus datus par mani. {name}",
    "Vai dāvanu karti var izmantot arī veikalā uz vietas?",
    "Labdien! Vēlos kļūt par pārdevēju jūsu platformā. Ar ko sazināties?",
    "Guten Tag, meine Bestellung {order} ist unvollständig angekommen.",
    "Dzień dobry, czy mogę zapłacić przelewem? Pozdrawiam, {name}",
)

DOCUMENT_FILES: dict[str, tuple[str, ...]] = {
    "id_document": ("pase.pdf", "ID_karte_abas_puses.jpg", "IMG_{date}_{time}.jpg", "scan.pdf"),
    "proof_of_address": ("komunalais_rekins_{year}.pdf", "deklaracija.pdf", "adrese.png"),
    "bank_statement": ("bankas_izraksts_{year}.pdf", "konta_apliecinajums.pdf"),
    "contract": ("ligums_parakstits.pdf", "pardeveja_ligums_{year}.edoc", "ligums.asice"),
}
"""Names people give the files they upload, per document kind."""
# fmt: on
