"""Which connector reads which kind of source."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from watchhouse.core.errors import InvalidInputError
from watchhouse.monitoring.connectors.base import Connector
from watchhouse.monitoring.connectors.fediverse import FediverseConnector
from watchhouse.monitoring.connectors.files import FileConnector
from watchhouse.monitoring.connectors.inbox import InboxConnector
from watchhouse.monitoring.connectors.jetstream import JetstreamConnector
from watchhouse.monitoring.connectors.rss import RssConnector

if TYPE_CHECKING:
    from watchhouse.monitoring.models import Source

CONNECTORS: dict[str, type[Connector]] = {
    c.kind: c
    for c in (FediverseConnector, JetstreamConnector, RssConnector, InboxConnector, FileConnector)
}


def connector_class(kind: str) -> type[Connector]:
    try:
        return CONNECTORS[kind]
    except KeyError:
        raise InvalidInputError(_("Unknown kind of source: %(k)s") % {"k": kind}) from None


def connector_for(source: Source) -> Connector:
    """The connector reading ``source`` (its config validated)."""
    return connector_class(source.kind)(source)
