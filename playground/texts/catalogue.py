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
MIN_PATTERN_LETTERS = 5  # a text with fewer letters around its placeholders is no pattern
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


@cache
def _patterns(lang: str) -> list[tuple[re.Pattern, str]]:
    """The catalogue's texts with placeholders as patterns that match a filled-in message:
    "{setting}: must be an integer from {low} to {high}; got {value}" matches the engine's
    "hidden: must be an integer from 4 to 4096; got 99999". Longest texts first, so the most
    specific one wins."""
    found = []
    for english in catalogue(lang):
        parts = PLACEHOLDER.split(english)
        names = [p.strip("{}").split(":")[0] for p in PLACEHOLDER.findall(english)]
        if not names or len(set(names)) != len(names) or any(not n for n in names):
            continue
        if len(re.sub(r"[^A-Za-z]", "", "".join(parts))) < MIN_PATTERN_LETTERS:
            continue  # "{covered} of {total}" would match any message with " of " in it
        pattern = "".join(
            re.escape(part) + (f"(?P<{names[i]}>.+?)" if i < len(names) else "")
            for i, part in enumerate(parts)
        )
        found.append((re.compile(f"^{pattern}$", re.DOTALL), english))
    return sorted(found, key=lambda f: -len(f[1]))


def template_of(text: str, lang: str) -> tuple[str, dict[str, str]] | None:
    """The catalogue's text with placeholders that `text` was filled in from, and the values
    it was filled with; None when there is none."""
    for pattern, english in _patterns(lang):
        found = pattern.match(text)
        if found:
            return english, found.groupdict()
    return None


def translate_message(text: str, lang: str) -> str:
    """A message built by the engine (an error naming a setting and its values) in `lang`: the
    catalogue's text it was filled in from, filled in with the same values. Values stay as
    written (a setting's name, a number, a file's name), except a `{message}`, which holds
    another message and is translated in turn, and a `{title}` (a dataset's title), which is
    translated as a text; a message the catalogue does not know stays in
    English."""
    if lang == DEFAULT or not text:
        return text
    if text in catalogue(lang):
        return catalogue(lang)[text]
    found = template_of(text, lang)
    if found is None:
        return text
    english, values = found
    values = {k: translate_message(v, lang) if k == "message"
              else translate(v, lang) if k == "title" else v for k, v in values.items()}
    return PLACEHOLDER.sub(lambda m: values[m.group(0).strip("{}").split(":")[0]],
                           catalogue(lang)[english])


def placeholders(text: str) -> set[str]:
    """The `{name}` fields of a text, which its translation must keep."""
    return set(PLACEHOLDER.findall(text))


def N_(text: str) -> str:  # noqa: N802 (gettext's name for "mark for translation")
    """Mark a text for the catalogue where it is defined; it is translated where shown."""
    return text
