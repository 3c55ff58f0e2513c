"""Error types a person sees: one line naming the value, the rule and the fix.

The CLI turns every `MvError` into a single stderr line and exit code 2; anything else
is a bug and gets a traceback only with ``MVDIRECTOR_DEBUG=1``.
"""

from __future__ import annotations


class MvError(Exception):
    """Base of every error meant for a person, with an optional hint on how to fix it."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The message and hint joined into the one line the CLI prints."""
        text = self.message.rstrip(". ")
        if self.hint:
            return f"{text} — {self.hint}"
        return text


class InputError(MvError):
    """A file or value given by the user cannot be used (corrupt audio, no face, bad size)."""


class PlanError(MvError):
    """A shot plan is malformed or does not fit the song."""


class ModelError(MvError):
    """Model weights are missing, incomplete or incompatible."""


class BusyError(MvError):
    """Another mvdirector process holds the work directory."""
