"""The app's languages and their catalogues.

The key of every text is its English wording (gettext's msgid), so the English catalogue is
the text itself and a text with no translation yet shows in English rather than as a blank.
Each language's translations are the `.po` files in its folder (`zh/*.po`), merged: one file
per part of the app, so that the lessons and the pages can be translated separately. Babel reads
them (no compiled `.mo` to keep in step); a test checks that every text the app shows has a
translation and that every translation keeps the text's `{placeholders}`.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

LANGUAGES = {"en": "English", "zh": "中文"}  # code -> the language's own name
DEFAULT = "en"
FOLDER = Path(__file__).resolve().parent
PLACEHOLDER = re.compile(r"\{[a-z_0-9]*(?::[^{}]*)?\}")


def language_of(value: str | None) -> str:
    """The app's language for a browser locale or a `?lang=` value ("zh-CN" -> "zh"); the
    default for anything it does not speak."""
    code = (value or "").strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else DEFAULT


@cache
def catalogue(lang: str) -> dict[str, str]:
    """msgid -> translation for `lang` (empty for English); fuzzy or empty entries are left
    out, so their text shows in English."""
    if lang == DEFAULT:
        return {}
    if lang not in LANGUAGES:
        raise ValueError(f"lang: must be one of {', '.join(LANGUAGES)}; got {lang!r}")
    found: dict[str, str] = {}
    for path in sorted((FOLDER / lang).glob("*.po")):
        with path.open("rb") as f:
            for message in read_po(f):
                if message.id and message.string and not message.fuzzy:
                    found[str(message.id)] = str(message.string)
    return found


def translate(text: str, lang: str) -> str:
    """`text` in `lang`: its translation, or the text itself when it has none."""
    if lang == DEFAULT or not text:
        return text
    return catalogue(lang).get(text, text)


def placeholders(text: str) -> set[str]:
    """The `{name}` fields of a text, which its translation must keep."""
    return set(PLACEHOLDER.findall(text))


def N_(text: str) -> str:  # noqa: N802 (gettext's name for "mark for translation")
    """Mark a text for the catalogue where it is defined; it is translated where shown."""
    return text
