"""Residents' text: plain text only, web links only to allowed schemes and hosts, a length
limit, and the profiling filter."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from tests.community.conftest import signed_in
from watchhouse.community.models import Comment, ProfilingTerm
from watchhouse.community.services.conversation import comment_create
from watchhouse.community.services.moderation import profiling_terms_seed
from watchhouse.community.text import (
    COMMENT_MAX,
    clean_text,
    profiling_terms_found,
    render_text,
)
from watchhouse.core.errors import InvalidInputError

pytest_plugins = ["tests.community.conftest_conversation"]


@pytest.fixture(autouse=True)
def _blocked(settings: Any) -> None:
    settings.WATCHHOUSE_COMMUNITY_LINK_SCHEMES = ["https", "http"]
    settings.WATCHHOUSE_COMMUNITY_BLOCKED_DOMAINS = ["malware.example"]


def check(value: str) -> str:
    return clean_text(value, limit=COMMENT_MAX, label="The comment")


@pytest.mark.parametrize(
    "value",
    [
        "See https://city.example.gov/roadworks for the detours.",
        "Also http://neighbours.example.org/page?x=1.",
        "Note: the meeting is at 10:30, room 2.",
        "Re: the streetlight. Ratio 3:1, c:d and so on.",
    ],
)
def test_web_links_and_ordinary_colons_are_accepted(value: str) -> None:
    assert check(f"  {value}  ") == value


@pytest.mark.parametrize(
    ("value", "scheme"),
    [
        ("click javascript:alert(document.cookie)", "javascript"),
        ("JavaScript :alert(1)", "javascript"),
        ("ｊａｖａｓｃｒｉｐｔ:alert(1)", "javascript"),  # full-width letters
        ("java\u200bscript:alert(1)", "javascript"),  # zero-width space inside
        ("data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "data"),
        ("open file:///etc/passwd", "file"),
        ("get it at ftp://files.example.org/x.exe", "ftp"),
        ("chat on irc://irc.example.org/#town", "irc"),
    ],
)
def test_links_with_other_schemes_are_refused_with_the_scheme_named(
    value: str, scheme: str
) -> None:
    with pytest.raises(InvalidInputError, match=f"“{scheme}:”"):
        check(value)


@pytest.mark.parametrize(
    "value",
    [
        "free stuff at https://malware.example/win",
        "free stuff at https://cdn.malware.example/win",
        "type MALWARE.EXAMPLE in your browser",
        "or http://a.b.Malware.Example./x",
    ],
)
def test_blocked_domains_and_their_subdomains_are_refused(value: str) -> None:
    with pytest.raises(InvalidInputError, match="not allowed: the site is known to be unsafe"):
        check(value)


def test_a_domain_that_only_ends_like_a_blocked_one_is_accepted() -> None:
    assert check("https://notmalware.example/ok") == "https://notmalware.example/ok"


def test_empty_and_oversized_text_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="cannot be empty"):
        check("   \n ")
    with pytest.raises(InvalidInputError, match="too long: 2001 characters, at most 2000"):
        check("x" * 2001)
    assert check("x" * 2000) == "x" * 2000


def test_rendering_escapes_everything_and_links_only_allowed_web_addresses() -> None:
    html = render_text(
        '<script>alert("x")</script>\nSee https://city.example.gov/a?b=1&c=2.\n'
        "and https://malware.example/x"
    )
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;<br>" in html
    assert (
        '<a href="https://city.example.gov/a?b=1&amp;c=2" rel="nofollow ugc noopener">'
        "https://city.example.gov/a?b=1&amp;c=2</a>." in html
    )
    assert 'href="https://malware.example' not in html


@pytest.mark.django_db
def test_script_in_a_comment_is_stored_as_typed_and_shown_as_text(
    client: Any, hoods: dict, make_resident: Any, start_discussion: Any
) -> None:
    area = hoods["Old Mill"]
    ana = make_resident("ana@example.org", area)
    discussion = start_discussion(ana, area)
    typed = "<script>alert('owned')</script> <b>bold?</b>"
    comment = comment_create(resident=ana, discussion=discussion, body=typed)
    assert Comment.objects.get(pk=comment.pk).body == typed
    page = signed_in(client, ana).get(
        reverse("community:discussion", kwargs={"area_slug": area.slug, "pk": discussion.pk})
    )
    html = page.content.decode()
    assert "&lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt; &lt;b&gt;bold?&lt;/b&gt;" in html
    assert "<script>alert(" not in html


@pytest.mark.django_db
def test_profiling_terms_are_found_as_whole_words_in_any_case_and_form() -> None:
    assert profiling_terms_seed() > 10
    assert profiling_terms_found("A HISPANIC man and an Asian woman") == ["asian", "hispanic"]
    assert profiling_terms_found("He looked Middle   Eastern") == ["middle eastern"]
    assert profiling_terms_found("ＢＬＡＣＫ guy near the park") == ["black"]  # full-width
    assert profiling_terms_found("Walked down Blackstone Avenue, in a grace period") == []
    assert profiling_terms_found("He tried every car door on Elm, red hoodie") == []


@pytest.mark.django_db
def test_colours_of_things_are_not_descriptions_of_people() -> None:
    """A race or ethnicity word counts near a word for a person, or in the person's
    description; "a white van" describes a van."""
    profiling_terms_seed()
    assert profiling_terms_found("A white van idled outside 41XX Elm St all night") == []
    assert profiling_terms_found("Black Friday sale crowds blocked the road") == []
    assert profiling_terms_found("The van's driver was a black guy") == ["black"]
    assert profiling_terms_found("tall, white", describes_person=True) == ["white"]


@pytest.mark.django_db
def test_staff_tune_the_list_deactivated_terms_are_not_found_and_new_ones_are() -> None:
    profiling_terms_seed()
    ProfilingTerm.objects.filter(term="indian").update(active=False)
    assert profiling_terms_found("an Indian restaurant") == []
    ProfilingTerm.objects.create(term="foreigner")
    assert profiling_terms_found("some Foreigner") == []  # no person nearby
    assert profiling_terms_found("some Foreigner", describes_person=True) == ["foreigner"]
    assert profiling_terms_found("a foreigner guy") == ["foreigner"]
    assert profiling_terms_seed() == 0  # the switched-off term stays off
    assert not ProfilingTerm.objects.get(term="indian").active
