"""``{{ comment.body|resident_text }}``: a resident's plain text as safe HTML (escaped, line
breaks kept, allowed web addresses as ``rel="nofollow ugc noopener"`` links)."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from watchhouse.community.text import render_text

register = template.Library()


@register.filter
def resident_text(value: object) -> SafeString:
    return render_text(str(value or ""))
