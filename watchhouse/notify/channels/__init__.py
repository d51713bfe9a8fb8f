"""Delivery channel adapters: email, Web Push, SMS and signed webhooks.

Each adapter takes an ``OutboundMessage`` and returns a ``SendResult`` saying whether the
message was accepted, whether trying again later can help, and whether the address is gone.
They hold no database state and are called from the notify tasks; importing this package
does not import the adapters, so an email-only worker never loads the Web Push stack.
"""

from watchhouse.notify.channels.base import (
    CHANNELS,
    AddressError,
    ChannelError,
    OutboundMessage,
    SendResult,
    url_check,
)

__all__ = ["CHANNELS", "AddressError", "ChannelError", "OutboundMessage", "SendResult", "url_check"]
