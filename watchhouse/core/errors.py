"""Errors shared by every domain app. Views and the API turn them into clear responses."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied


class WatchhouseError(Exception):
    """Base of the errors a user can be shown: the message says what was wrong."""


class InvalidInputError(WatchhouseError):
    """Input was rejected; nothing was changed."""


class NotPermittedError(PermissionDenied):
    """The acting user's roles do not allow this action."""


class IllegalTransitionError(WatchhouseError):
    """A lifecycle state change that the state's transition table does not allow."""
