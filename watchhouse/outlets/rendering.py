"""A post or an alert fitted to one network's rules: length, threads, hashtags, media.

Length is measured the way each network measures it (:func:`text_length`):

- X: twitter-text's weighted length (configuration v3): text in NFC; code points in the
  ranges U+0000–U+10FF, U+2000–U+200D, U+2010–U+201F and U+2032–U+2037 weigh 1, every other
  code point 2, an emoji (a whole grapheme cluster with an emoji in it) 2, and every URL 23.
  A bare domain that X may or may not link is counted as at least 23, so the count never
  falls short of X's.
- Bluesky: grapheme clusters (``regex``'s ``\\X``), URLs at their own length.
- Mastodon: grapheme clusters, http(s) URLs 23.
- Facebook: code points.

A text longer than the network takes becomes a thread, split on sentences, then words,
then (for one enormous word) graphemes, each part ending with " (1/3)"; the link is in the
first part. Hashtags (from topics and area names, CamelCase, ASCII) end the last part when
they fit and are dropped with a warning when they do not.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import regex  # type: ignore[import-untyped]
from django.conf import settings
from django.utils.translation import gettext as _

from watchhouse.outlets.networks.base import MediaItem, Rendered
from watchhouse.outlets.networks.registry import LIMITS, NetworkLimits

if TYPE_CHECKING:
    from watchhouse.alerts.models import Alert
    from watchhouse.outlets.models import Outlet
    from watchhouse.posts.models import Post

URL_RE = regex.compile(r"https?://[^\s<>\"]+", regex.IGNORECASE)
# What X may link without a scheme: a dotted name ending in letters.
BARE_DOMAIN_RE = regex.compile(
    r"(?<![\w@/.-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}(?:/[^\s]*)?(?![\w-])",
    regex.IGNORECASE,
)
GRAPHEME_RE = regex.compile(r"\X")
EMOJI_RE = regex.compile(r"\p{Extended_Pictographic}|\p{Regional_Indicator}")
SENTENCE_END_RE = regex.compile(r"(?<=[.!?…。！？])\s+|\n+")
# twitter-text v3: the code point ranges that weigh 100 (1 character); all else weighs 200.
X_LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
X_URL_LENGTH = 23


def _x_weight(cluster: str) -> int:
    if EMOJI_RE.search(cluster):
        return 2
    total = 0
    for char in cluster:
        point = ord(char)
        total += 1 if any(low <= point <= high for low, high in X_LIGHT_RANGES) else 2
    return total


def _graphemes(text: str) -> int:
    return len(GRAPHEME_RE.findall(text))


def _split_urls(text: str, pattern: regex.Pattern[str]) -> tuple[list[str], list[str]]:
    """The text between URLs, and the URLs."""
    urls = pattern.findall(text)
    return pattern.split(text), urls


def weighted_length(text: str) -> int:
    """X's weighted length of ``text`` (see the module docs)."""
    text = unicodedata.normalize("NFC", text)
    pieces, urls = _split_urls(text, URL_RE)
    total = X_URL_LENGTH * len(urls)
    for piece in pieces:
        rest, domains = _split_urls(piece, BARE_DOMAIN_RE)
        total += sum(max(X_URL_LENGTH, len(domain)) for domain in domains)
        total += sum(_x_weight(cluster) for chunk in rest for cluster in GRAPHEME_RE.findall(chunk))
    return total


def text_length(network: str, text: str) -> int:
    """``text``'s length as ``network`` counts it."""
    limits = LIMITS[network]
    if limits.counting == "weighted":
        return weighted_length(text)
    count = _graphemes if limits.counting == "graphemes" else len
    if limits.url_length is None:
        return count(text)
    pieces, urls = _split_urls(text, URL_RE)
    return limits.url_length * len(urls) + sum(count(piece) for piece in pieces)


def hashtag(name: str) -> str:
    """``name`` as a CamelCase, ASCII hashtag ("Main Street-North" → "#MainStreetNorth"),
    or "" when nothing usable is left (no letters)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    words = regex.findall(r"[A-Za-z0-9]+", ascii_name)
    tag = "".join(word[:1].upper() + word[1:] for word in words)
    if not regex.search(r"[A-Za-z]", tag):
        return ""
    return f"#{tag[:60]}"


# --- Splitting ----------------------------------------------------------------------------


def _pieces(text: str, budget: int, measure: Any) -> list[tuple[str, str]]:
    """``text`` cut into pieces that each measure at most ``budget``: whole sentences when
    they fit, else words, else graphemes. Each piece comes with what joins it to the one
    before (a paragraph break or a space)."""
    out: list[tuple[str, str]] = []
    for paragraph in (p.strip() for p in regex.split(r"\n\s*\n", text)):
        joiner = "\n\n"
        for sentence in (s.strip() for s in SENTENCE_END_RE.split(paragraph)):
            if not sentence:
                continue
            if measure(sentence) <= budget:
                out.append((sentence, joiner))
                joiner = " "
                continue
            for word in sentence.split():
                if measure(word) <= budget:
                    out.append((word, joiner))
                    joiner = " "
                    continue
                chunk = ""
                for cluster in GRAPHEME_RE.findall(word):
                    if chunk and measure(chunk + cluster) > budget:
                        out.append((chunk, joiner))
                        joiner, chunk = "", ""
                    chunk += cluster
                if chunk:
                    out.append((chunk, joiner))
                joiner = " "
    return out


def _pack(pieces: list[tuple[str, str]], budgets: list[int], measure: Any) -> list[str] | None:
    """Greedy packing of ``pieces`` into parts; ``budgets[i]`` is part i's room (the last
    budget repeats). ``None`` when a piece does not fit even alone."""
    parts: list[str] = []
    current = ""
    for piece, joiner in pieces:
        budget = budgets[min(len(parts), len(budgets) - 1)]
        joined = f"{current}{joiner}{piece}" if current else piece
        if measure(joined) <= budget:
            current = joined
            continue
        if not current:
            return None
        parts.append(current)
        budget = budgets[min(len(parts), len(budgets) - 1)]
        if measure(piece) > budget:
            return None
        current = piece
    if current or not parts:
        parts.append(current)
    return parts


def fit(
    network: str, text: str, *, link: str = "", tags: list[str] | None = None
) -> tuple[list[str], list[str]]:
    """``text`` (and ``link``, and ``tags``) as the parts of a post or thread on
    ``network``, and the warnings. The link goes at the end of the first part."""
    limits = LIMITS[network]
    tags = tags or []
    warnings: list[str] = []
    measure = lambda value: text_length(network, value)  # noqa: E731
    link_tail = f"\n\n{link}" if link and network not in ("facebook", "webhook") else ""
    tag_tail = ("\n\n" + " ".join(tags)) if tags else ""
    whole = text + link_tail
    if measure(whole + tag_tail) <= limits.text:
        return [whole + tag_tail], warnings
    if measure(whole) <= limits.text:
        warnings.append(_("The hashtags were left out: they do not fit."))
        return [whole], warnings
    if not limits.threads:
        room = limits.text - measure(link_tail) - 1
        kept, used = "", 0
        for cluster in GRAPHEME_RE.findall(text):
            used += measure(cluster)
            if used > room:
                break
            kept += cluster
        kept = kept.rsplit(None, 1)[0] if " " in kept.strip() else kept
        warnings.append(_("The text was shortened to fit %(limit)s characters.") % {
            "limit": limits.text
        })  # fmt: skip
        return [kept.rstrip() + "…" + link_tail], warnings
    if measure(link_tail) > limits.text // 2:
        # A link that would crowd out the text of the first part: the card carries it.
        warnings.append(_("The link is too long for the text and was left out of it."))
        link_tail = ""
    # A thread: the markers' width depends on the number of parts' digits; guess it.
    total = 2
    packed: list[str] | None = None
    for _attempt in range(4):
        marker = f" ({total}/{total})"
        room = limits.text - measure(marker)
        budgets = [room - measure(link_tail), room]
        packed = _pack(_pieces(text, min(budgets), measure), budgets, measure)
        if packed is None or len(str(len(packed))) == len(str(total)):
            break
        total = len(packed)
    if packed is None:
        raise ValueError("The text cannot be split for this network.")
    count = len(packed)
    parts = [
        f"{body}{link_tail if index == 0 else ''} ({index + 1}/{count})"
        for index, body in enumerate(packed)
    ]
    if tags:
        with_tags = parts[-1] + tag_tail
        if measure(with_tags) <= limits.text:
            parts[-1] = with_tags
        else:
            warnings.append(_("The hashtags were left out: they do not fit."))
    warnings.append(_("Too long for one post: sent as a thread of %(count)s.") % {
        "count": count
    })  # fmt: skip
    return parts, warnings


# --- Media --------------------------------------------------------------------------------


def _public_file(path: str) -> Path | None:
    """A rendition's file under MEDIA_ROOT, never outside it."""
    root = Path(settings.MEDIA_ROOT).resolve()
    candidate = (root / path.lstrip("/")).resolve()
    return candidate if candidate.is_relative_to(root) and candidate.is_file() else None


def _best_rendition(renditions: dict[str, Any], kind: str, max_bytes: int) -> dict[str, Any] | None:
    """The largest public copy of ``kind`` within ``max_bytes`` (a video's "mp4")."""
    entries = [
        e for name, e in renditions.items()
        if isinstance(e, dict) and isinstance(e.get("path"), str)
        and (name == "mp4" if kind == "video" else str(e.get("mime", "")).startswith("image/")
             and name != "poster")
    ]  # fmt: skip
    fitting = [e for e in entries if int(e.get("bytes") or 0) <= max_bytes]
    fitting.sort(key=lambda e: (int(e.get("width") or 0), int(e.get("bytes") or 0)))
    return fitting[-1] if fitting else None


def post_media(post: Post, network: str) -> tuple[list[MediaItem], list[str]]:
    """The post's public media that ``network`` takes, in order, and the warnings."""
    from watchhouse.posts.models import MediaKind, MediaStatus, PostMedia

    limits = LIMITS[network]
    warnings: list[str] = []
    images: list[MediaItem] = []
    videos: list[MediaItem] = []
    attachments = (
        PostMedia.objects.filter(post=post, hidden=False, media__status=MediaStatus.READY)
        .select_related("media")
        .order_by("position", "id")
    )
    for attachment in attachments:
        media = attachment.media
        if media.kind not in (MediaKind.IMAGE, MediaKind.VIDEO):
            continue
        renditions = media.renditions if isinstance(media.renditions, dict) else {}
        kind = str(media.kind)
        cap = limits.image_bytes if kind == "image" else limits.video_bytes
        if kind == "video" and limits.videos == 0:
            warnings.append(_("%(network)s does not take videos here: a video was left out.") % {
                "network": network
            })  # fmt: skip
            continue
        entry = _best_rendition(renditions, kind, cap)
        path = _public_file(str(entry["path"])) if entry else None
        if entry is None or path is None:
            warnings.append(
                _("A %(kind)s was left out: no public copy within %(bytes)s bytes.")
                % {"kind": kind, "bytes": f"{cap:,}"}
            )
            continue
        if not media.alt_text.strip():
            warnings.append(_("A %(kind)s has no alt text.") % {"kind": kind})
        item = MediaItem(
            path=path,
            mime=str(entry.get("mime") or media.mime),
            kind=kind,
            alt=media.alt_text.strip(),
            bytes=int(entry.get("bytes") or path.stat().st_size),
            width=entry.get("width") if isinstance(entry.get("width"), int) else None,
            height=entry.get("height") if isinstance(entry.get("height"), int) else None,
        )
        (images if kind == "image" else videos).append(item)
    if len(images) > limits.images:
        warnings.append(
            _("Only %(limit)s images go out here: %(dropped)s left out.")
            % {"limit": limits.images, "dropped": len(images) - limits.images}
        )
        images = images[: limits.images]
    if len(videos) > limits.videos:
        warnings.append(
            _("Only %(limit)s video goes out here: %(dropped)s left out.")
            % {"limit": limits.videos, "dropped": len(videos) - limits.videos}
        )
        videos = videos[: limits.videos]
    if videos and images and not limits.mix:
        warnings.append(_("A video cannot go with images here: the images were left out."))
        images = []
    return images + videos, warnings


# --- Posts and alerts ---------------------------------------------------------------------


def _plain(html_or_text: str) -> str:
    import nh3

    text = nh3.clean(html_or_text, tags=set(), strip_comments=True)
    import html

    return regex.sub(r"[ \t]+", " ", html.unescape(text)).strip()


def _post_content(post: Post) -> tuple[str, str, str, list[str]]:
    """Title, the text under it, the link and the hashtags of a post."""
    from watchhouse.posts.public import absolute, post_url

    summary = post.summary.strip() or _plain(post.body_html or post.body)
    link = absolute(post_url(post))
    names = [t.name for t in post.topics.all()] + [a.name for a in post.areas.all()]
    tags = list(dict.fromkeys(tag for tag in (hashtag(n) for n in names) if tag))
    return post.title.strip(), summary, link, tags


def _alert_content(alert: Alert) -> tuple[str, str, str, str]:
    """The title, text, link and language of an alert."""
    from watchhouse.alerts.models import Category, MsgType

    infos = list(alert.infos.all())
    preferred = settings.LANGUAGE_CODE.split("-")[0]
    info = next((i for i in infos if i.language.split("-")[0] == preferred), None)
    info = info or (infos[0] if infos else None)
    prefix = {MsgType.UPDATE: _("UPDATE:"), MsgType.CANCEL: _("CANCELLED:")}.get(alert.msg_type, "")  # type: ignore[call-overload]
    label = Category(alert.category).label if alert.category in Category.values else ""
    headline = info.headline if info else alert.event
    title = " ".join(p for p in (prefix, f"{label}:" if label else "", headline) if p)
    body = "\n\n".join(
        p.strip() for p in ((info.description, info.instruction) if info else ()) if p.strip()
    )
    link = f"{settings.SITE_URL}{alert.get_absolute_url()}"
    return title, body, link, (info.language if info else settings.LANGUAGE_CODE)


def render(
    outlet_or_network: Outlet | str, *, post: Post | None = None, alert: Alert | None = None
) -> Rendered:
    """What ``outlet_or_network`` is given for ``post`` or ``alert``, fitted to its rules."""
    network = outlet_or_network if isinstance(outlet_or_network, str) else outlet_or_network.network
    if network not in LIMITS:
        raise ValueError(f"Nothing is rendered for network {network!r}.")
    if (post is None) == (alert is None):
        raise ValueError("Render a post or an alert.")
    warnings: list[str] = []
    media: list[MediaItem] = []
    if post is not None:
        title, summary, link, tags = _post_content(post)
        language = post.language
        media, media_warnings = post_media(post, network)
        warnings += media_warnings
    elif alert is not None:
        title, summary, link, language = _alert_content(alert)
        tags = []
    text = "\n\n".join(p for p in (title, summary) if p)
    parts, fit_warnings = fit(network, text, link=link, tags=tags)
    return Rendered(
        parts=parts,
        link=link,
        title=title,
        summary=summary,
        media=media,
        hashtags=tags,
        language=language or "en",
        warnings=warnings + fit_warnings,
    )


def preview(
    network: str, *, post: Post | None = None, alert: Alert | None = None
) -> dict[str, Any]:
    """What the composer shows for ``network``: each part with its count against the limit,
    the media going out, and the warnings to read before publishing."""
    rendered = render(network, post=post, alert=alert)
    limits: NetworkLimits = LIMITS[network]
    counts = [text_length(network, part) for part in rendered.parts]
    return {
        "network": network,
        "limit": limits.text,
        "parts": rendered.parts,
        "counts": counts,
        "link": rendered.link,
        "link_card": limits.link_card and not any(m.kind == "image" for m in rendered.media),
        "media": [
            {"kind": m.kind, "alt": m.alt, "bytes": m.bytes, "name": m.path.name}
            for m in rendered.media
        ],
        "hashtags": rendered.hashtags,
        "warnings": rendered.warnings,
        "thread": len(rendered.parts) > 1,
    }
