"""The privacy notice (Art. 13 and 14 GDPR), rendered from a policy.

Every statement in the notice comes from the policy through
:func:`~datasteward.documents.derive.derive_facts`; the templates of the chosen
language only put the facts into words. Markdown suits a README or a CMS;
HTML is a complete, self-contained page."""

from __future__ import annotations

import re

from datasteward.documents.derive import derive_facts
from datasteward.documents.templating import environment, resolve_language
from datasteward.policy.model import Policy

__all__ = ["NOTICE_FORMATS", "render_notice"]

NOTICE_FORMATS: tuple[str, ...] = ("markdown", "html")

_TEMPLATE = {"markdown": "notice.md.j2", "html": "notice.html.j2"}


def render_notice(policy: Policy, fmt: str = "markdown", language: str | None = None) -> str:
    """The notice of ``policy`` as Markdown or HTML.

    ``language`` ``None`` takes the controller's first language when a
    template set exists for it, else English; an explicit language without a
    template set raises :class:`~datasteward.documents.UnsupportedLanguage`."""
    if fmt not in _TEMPLATE:
        raise ValueError(
            f"unknown notice format {fmt!r}; choose one of: {', '.join(NOTICE_FORMATS)}"
        )
    lang = resolve_language(language, policy.controller.languages)
    template = environment(lang, html=fmt == "html").get_template(_TEMPLATE[fmt])
    text = template.render(f=derive_facts(policy), language=lang)
    return _tidy_markdown(text) if fmt == "markdown" else text


_HEADING_WITHOUT_GAP = re.compile(r"(?<=[^\n])\n(?=#{1,6} )")
_BLANK_RUNS = re.compile(r"\n{3,}")


def _tidy_markdown(text: str) -> str:
    """One blank line between blocks and before every heading, whatever the
    optional sections left behind; template authors need not count newlines."""
    text = _HEADING_WITHOUT_GAP.sub("\n\n", text)
    return _BLANK_RUNS.sub("\n\n", text).strip() + "\n"
