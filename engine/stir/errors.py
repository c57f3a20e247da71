"""The one error of STIR/SHAKEN checks, raised by key loading, chain validation and PASSporT verification."""

from __future__ import annotations


class StirError(Exception):
    """A STIR/SHAKEN check that failed; ``reason`` is the text after ``*stir_authenticate: ``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


__all__ = ["StirError"]
