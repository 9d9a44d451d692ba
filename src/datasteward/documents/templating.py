"""Template sets and the Jinja2 environment the documents are rendered with.

A language is a directory ``templates/<code>/`` shipped with the package. It
holds the document templates (``notice.md.j2``, ``notice.html.j2``,
``ropa.html.j2``) and ``_words.j2``, the one place its wording lives: headings,
names of legal bases, rights and roles, and the macros that phrase periods.
The record of processing's CSV and JSON take their wording from the same
``_words.j2``, so a change of wording reaches every output at once.

The environment is strict (an undefined name is an error, not an empty
string), escapes HTML by file extension, and offers filters for the two
output languages: ``md`` / ``md_cell`` make text from the policy inert in
Markdown, ``web_url`` / ``mail_url`` let only http(s) and mail addresses become
links (``javascript:`` in a policy must never become a link in a notice).
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from datasteward.errors import StewardError

__all__ = [
    "UnsupportedLanguage",
    "available_languages",
    "environment",
    "resolve_language",
    "words",
]

_TEMPLATES = "templates"
_MARKER = "_words.j2"


class UnsupportedLanguage(StewardError):
    """A document was asked for in a language that has no template set."""

    code = "unsupported_language"

    def __init__(self, language: str, available: tuple[str, ...] | None = None) -> None:
        if available is None:
            available = available_languages()
        listed = ", ".join(available) or "none"
        super().__init__(f"no templates for language '{language}'; available: {listed}")
        self.language = language
        self.available = available


@cache
def available_languages() -> tuple[str, ...]:
    """Codes of the template sets shipped with the package, sorted."""
    root = files("datasteward.documents").joinpath(_TEMPLATES)
    return tuple(
        sorted(
            entry.name
            for entry in root.iterdir()
            if entry.is_dir() and entry.joinpath(_MARKER).is_file()
        )
    )


def _match(language: str) -> str | None:
    code = language.strip().lower().replace("_", "-")
    available = available_languages()
    if code in available:
        return code
    primary = code.split("-", 1)[0]
    return primary if primary in available else None


def resolve_language(requested: str | None, preferred: list[str]) -> str:
    """The template set to use.

    An explicit ``requested`` language must exist (else
    :class:`UnsupportedLanguage`); without one, the controller's first
    language is used when a set exists for it, otherwise English."""
    if requested is not None:
        found = _match(requested)
        if found is None:
            raise UnsupportedLanguage(requested, available_languages())
        return found
    if preferred:
        found = _match(preferred[0])
        if found is not None:
            return found
    return "en"


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")
_MD_LINE_START = re.compile(r"^(\d+)([.)])(?=\s|$)|^([-+=])(?=\s|$)")
_WHITESPACE = re.compile(r"\s+")
_SAFE_WEB = re.compile(r"^https?://[^\s<>\"'`]+$", re.IGNORECASE)
_SAFE_MAIL = re.compile(r"^[^\s<>\"'`:/@]+@[^\s<>\"'`:/@]+$")


def md(value: object) -> str:
    """Policy text made inert in Markdown: one line, punctuation escaped."""
    text = _MD_SPECIAL.sub(r"\\\1", _WHITESPACE.sub(" ", str(value)).strip())
    # A value that starts like a list item or heading underline stays text.
    return _MD_LINE_START.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", text)


def web_url(value: object) -> str | None:
    """``value`` when it is an http(s) address safe to link, else ``None``."""
    text = str(value).strip()
    return text if _SAFE_WEB.match(text) else None


def mail_url(value: object) -> str | None:
    """``value`` when it is a plain email address safe to link, else ``None``."""
    text = str(value).strip()
    return text if _SAFE_MAIL.match(text) else None


@cache
def environment(language: str, *, html: bool = False) -> Environment:
    """The environment of one template set (cached; environments are immutable
    once built and safe to share).

    HTML documents get an environment that escapes *every* template,
    ``_words.j2`` included: a macro is compiled with the escaping of its own
    file, so shared phrases that embed policy text must be compiled escaping
    to be safe inside a page. Markdown and the CSV/JSON cells use the other
    environment, which escapes by extension only (``*.html.j2``)."""
    if language not in available_languages():
        raise UnsupportedLanguage(language, available_languages())
    env = Environment(
        loader=PackageLoader("datasteward.documents", f"{_TEMPLATES}/{language}"),
        autoescape=True
        if html
        else select_autoescape(
            enabled_extensions=("html.j2", "html"), default_for_string=False, default=False
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md
    env.filters["web_url"] = web_url
    env.filters["mail_url"] = mail_url
    return env


def words(language: str) -> Any:
    """The ``_words.j2`` module of a template set: its dictionaries and macros,
    for outputs rendered without a template (CSV, JSON)."""
    return environment(language).get_template(_MARKER).module
