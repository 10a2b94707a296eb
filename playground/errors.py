"""The errors every layer may raise, so that none has to import a layer above it to raise them.
Imports nothing from the project."""

import json

# What json.loads raises on bad input: JSONDecodeError and UnicodeDecodeError are ValueErrors (so
# is an integer with more digits than Python converts), deep nesting raises RecursionError and an
# absurd document MemoryError. Every reader of a file or link catches all of them.
JSON_ERRORS = (ValueError, RecursionError, MemoryError)


def json_problem(exc: BaseException) -> str:
    """One line on why a JSON text could not be read, for a refusal message."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, MemoryError):
        return "too large to read"
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno}"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return " ".join(str(exc).split())[:200] or type(exc).__name__


class ConfigError(ValueError):
    """A setting is invalid. The message names the setting and what is allowed."""

    def __init__(self, name: str, message: str):
        # A name from outside (an unknown key) may hold a newline: quote it, keep one line.
        shown = name if name.isprintable() else repr(name)
        super().__init__(f"{shown}: {message}")
        self.setting = name


class UsageError(Exception):
    """Bad arguments: reported in one line, exit status 2."""
