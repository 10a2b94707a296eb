"""The errors every layer may raise, so that none has to import a layer above it to raise them.
Imports nothing from the project."""


class ConfigError(ValueError):
    """A setting is invalid. The message names the setting and what is allowed."""

    def __init__(self, name: str, message: str):
        # A name from outside (an unknown key) may hold a newline: quote it, keep one line.
        shown = name if name.isprintable() else repr(name)
        super().__init__(f"{shown}: {message}")
        self.setting = name


class UsageError(Exception):
    """Bad arguments: reported in one line, exit status 2."""
