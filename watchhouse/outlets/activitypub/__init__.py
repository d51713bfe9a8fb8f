"""The department's own ActivityPub actors: documents, HTTP Signatures, inbox and delivery.

Addresses are built on ``settings.SITE_URL``: ``/ap/users/<username>`` is an actor, its
``inbox``, ``outbox`` and ``followers`` hang below it, ``/ap/inbox`` is the shared inbox.
"""
