"""Documents written from the policy: the privacy notice (Art. 13/14) and the
record of processing activities (Art. 30).

Both are rendered from the same facts (:mod:`.facts`, derived from the policy
by :mod:`.derive`), so they cannot contradict each other or the policy.
Wording lives in one template directory per language under ``templates/``."""

from datasteward.documents.notice import NOTICE_FORMATS, render_notice
from datasteward.documents.ropa import ROPA_COLUMNS, ROPA_FORMATS, render_ropa
from datasteward.documents.templating import UnsupportedLanguage, available_languages

__all__ = [
    "NOTICE_FORMATS",
    "ROPA_COLUMNS",
    "ROPA_FORMATS",
    "UnsupportedLanguage",
    "available_languages",
    "render_notice",
    "render_ropa",
]
