"""The composer's live counters (alerts/textcount.js, run under Node) count texts exactly as the
server does: the same GSM-7 tables, septets, UCS-2 units, parts, stripping and WEA checks."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.conftest import need
from watchhouse.alerts import cap
from watchhouse.notify.channels.sms import GSM7_BASIC, GSM7_EXTENSION, sms_count

SCRIPT = Path(settings.BASE_DIR) / "watchhouse" / "alerts" / "static" / "alerts" / "textcount.js"
# Seconds Node may take to start and count.
NODE_TIMEOUT_S = 30

EMOJI = "\U0001f600"
TRICKY = [
    "",
    "€",
    "[]",
    "ñ",
    "ç",  # the small c with cedilla is not in GSM-7 (only the capital is)
    "Ç",
    EMOJI,
    "a" + EMOJI,
    "x" * 160,
    "x" * 161,
    "€" * 80,  # 160 septets
    "€" * 81,
    "x" * 159 + "€",  # 161 septets: split in two
    "x" * 152 + "€" + "x" * 10,  # the escape and its character stay in one part
    "x" * 306 + "€",
    "á" * 70,
    "á" * 71,
    EMOJI * 35,  # 70 UCS-2 units in 35 characters
    EMOJI * 35 + "a",
    "a" * 66 + EMOJI + "a" * 10,  # a surrogate pair is never split
    "Main St closed.\r\nUse Oak Ave.",
    "tab\there",  # a tab is not in GSM-7
    "Road closed’s",  # a curly apostrophe is not either
    "ΑΒΓ",  # Greek capital alpha and beta are not, gamma is
    "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà",
    "\f^{}\\[]~|€",
    "日本語のテキスト",
]
STRIPPED = [" a ", "\x1c a \x85", "\ufeff a", "\u3000a\u2028", "\t\n\r\x0b\x0c a", "a\u200b"]


def run_node(code: str, data: Any) -> Any:
    """Run ``code`` under Node with ``count`` (textcount.js) and ``data`` (JSON) in scope."""
    node = shutil.which("node")
    need(node is not None, "node is not installed")
    program = (
        f"const count = require({json.dumps(str(SCRIPT))});\n"
        "const data = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n"
        f"process.stdout.write(JSON.stringify({code}));\n"
    )
    done = subprocess.run(
        [str(node), "-e", program],
        input=json.dumps(data),
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_S,
        check=True,
    )
    return json.loads(done.stdout)


def test_the_gsm_tables_are_the_servers():
    """The script's alphabet and extension table are the server's, character for character."""
    tables = run_node(
        "{basic: count.GSM7_BASIC, extension: count.GSM7_EXTENSION, spanish: count.WEA_SPANISH}",
        None,
    )
    assert len(tables["basic"]) == 127
    assert set(tables["basic"]) == GSM7_BASIC
    assert set(tables["extension"]) == GSM7_EXTENSION
    assert set(tables["basic"]) | set(tables["extension"]) == cap._GSM7
    assert set(tables["spanish"]) == cap._SPANISH


@pytest.mark.parametrize("text", TRICKY, ids=range(len(TRICKY)))
def test_sms_counts_agree(text):
    """Encoding, characters, septets or units, parts and room per part are the server's."""
    got = run_node("count.smsCount(data)", text)
    expected = sms_count(text)
    assert got == {
        "encoding": expected.encoding,
        "characters": expected.characters,
        "units": expected.units,
        "segments": expected.segments,
        "perSegment": expected.per_segment,
    }


def test_the_counts_of_known_texts():
    """The figures a dispatcher sees for the classic cases."""
    got = run_node("data.map(t => count.smsCount(t))", ["€", "x" * 160, "x" * 161, "á" * 71])
    assert [(c["encoding"], c["units"], c["segments"]) for c in got] == [
        ("GSM-7", 2, 1), ("GSM-7", 160, 1), ("GSM-7", 161, 2), ("UCS-2", 71, 2)
    ]  # fmt: skip


def test_wea_lengths_and_odd_characters_agree():
    """WEA texts count characters (an emoji is one) and name the characters handsets may not
    show, as the CAP check does."""
    got = run_node("data.map(t => [count.length(t), count.weaOdd(t)])", TRICKY)
    for text, (length, odd) in zip(TRICKY, got, strict=True):
        assert length == len(text), text
        assert odd == sorted({c for c in text if c not in cap._GSM7 and c not in cap._SPANISH})
        if odd:
            assert any("phones may not show" in p for p in cap.wea_problems(text or "x"))


def test_fields_are_stripped_and_sent_as_the_server_receives_them():
    """The ends go as Python's str.strip() takes them (not as JavaScript's trim()), and line
    breaks count as CR LF, as browsers send them."""
    got = run_node("data.map(t => count.strip(t))", STRIPPED)
    assert got == [t.strip() for t in STRIPPED]
    sent = run_node("count.submitted(data)", " one\ntwo\r\nthree \n")
    assert sent == "one\r\ntwo\r\nthree"
    assert sms_count(sent).units == run_node("count.smsCount(count.submitted(data)).units", sent)
