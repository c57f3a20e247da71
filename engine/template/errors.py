"""Errors of the template language."""

from __future__ import annotations


class RSRError(ValueError):
    """An RSR rule that cannot be compiled; the message names the rule."""
