"""The demo tips show every stage of the work, with processed files, and load only once."""

from __future__ import annotations

import io
import re

import pytest

from tests.conftest import need
from tests.posts.conftest import HAVE_FFMPEG
from watchhouse.accounts import demo as accounts_demo
from watchhouse.geo import demo as geo_demo
from watchhouse.tips import demo
from watchhouse.tips.models import FileStatus, Tip, TipFile
from watchhouse.tips.services.intake import tipster_open

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_demo_tips_load_once_in_every_state():
    need(HAVE_FFMPEG, "ffmpeg is needed for the demo tip's video")
    out = io.StringIO()
    geo_demo.load(stdout=out)
    accounts_demo.load(stdout=out)
    demo.load(stdout=out)
    demo.load(stdout=out)
    assert Tip.objects.count() == 5
    assert set(Tip.objects.values_list("state", flat=True)) == {
        "new",
        "triaged",
        "assigned",
        "closed",
    }
    assert set(Tip.objects.values_list("channel", flat=True)) == {"web", "sms", "email"}
    files = TipFile.objects.all()
    assert {f.kind for f in files} == {"image", "video"}
    assert all(f.status == FileStatus.READY and f.preview_path for f in files)
    codes = re.findall(r"Demo tips?: (?:5 \()?code ([A-Z0-9-]{14})", out.getvalue())
    assert len(codes) == 2 and codes[0] == codes[1]
    code = codes[0]
    assert tipster_open(code=code, passphrase=demo.DEMO_PASSPHRASE, client="demo").code == code
