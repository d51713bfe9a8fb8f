"""Writes of the outlets app: outlets and their credentials, copies of posts and alerts on
other networks, and what comes back from them."""

from watchhouse.outlets.services.copies import (
    alert_chain,
    alert_outlets_sync,
    copies_due,
    copy_retry,
    copy_sync,
    post_outlets_sync,
    post_take_down,
)
from watchhouse.outlets.services.inbound import inbound_collect, inbound_collect_due, plain_text
from watchhouse.outlets.services.outlets import (
    OutletFields,
    outlet_check,
    outlet_create,
    outlet_enable,
    outlet_expiry_warn,
    outlet_update,
    outlets_expiry_warn,
)

__all__ = [
    "OutletFields",
    "alert_chain",
    "alert_outlets_sync",
    "copies_due",
    "copy_retry",
    "copy_sync",
    "inbound_collect",
    "inbound_collect_due",
    "outlet_check",
    "outlet_create",
    "outlet_enable",
    "outlet_expiry_warn",
    "outlet_update",
    "outlets_expiry_warn",
    "plain_text",
    "post_outlets_sync",
    "post_take_down",
]
