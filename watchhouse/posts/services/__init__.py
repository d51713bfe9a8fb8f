"""Everything staff (and the worker) change about posts, media, officers and topics.

The services live in three modules by subject; this package names them all, so callers
write ``from watchhouse.posts.services import post_publish``.
"""

from watchhouse.posts.services.media import (
    media_captions_set,
    media_claim,
    media_original_read,
    media_process,
    media_retry,
    media_update,
    media_upload,
)
from watchhouse.posts.services.people import (
    OfficerFields,
    officer_create,
    officer_update,
    topic_create,
)
from watchhouse.posts.services.posts import (
    Attachment,
    PostFields,
    PostRefusedError,
    appeal_resolve,
    fields_problems,
    post_approve,
    post_archive,
    post_create,
    post_expire_due,
    post_problems,
    post_publish,
    post_publish_due,
    post_retract,
    post_return,
    post_schedule,
    post_submit,
    post_unschedule,
    post_update,
)

__all__ = [
    "Attachment",
    "OfficerFields",
    "PostFields",
    "PostRefusedError",
    "appeal_resolve",
    "fields_problems",
    "media_captions_set",
    "media_claim",
    "media_original_read",
    "media_process",
    "media_retry",
    "media_update",
    "media_upload",
    "officer_create",
    "officer_update",
    "post_approve",
    "post_archive",
    "post_create",
    "post_expire_due",
    "post_problems",
    "post_publish",
    "post_publish_due",
    "post_retract",
    "post_return",
    "post_schedule",
    "post_submit",
    "post_unschedule",
    "post_update",
    "topic_create",
]
