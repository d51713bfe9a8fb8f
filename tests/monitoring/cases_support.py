"""Shared pieces of the case-workspace tests (their fixtures are in ``conftest_cases.py``):
an open case, a loopback web server with a photo carrying EXIF GPS and a post page,
and a stand-in for the connectors' account reader."""

from __future__ import annotations

import io
import subprocess
import types
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from PIL import Image

from tests.notify.loopback import Answer, LoopbackHttpServer, RecordedRequest
from watchhouse.monitoring.connectors import accounts
from watchhouse.monitoring.models import Case
from watchhouse.monitoring.posts import PublicPost
from watchhouse.monitoring.services.cases import case_decide, case_request

JUSTIFICATION = (
    "Missing person report 2026-0412: her own public posts may show where she went last."
)
PREDICATE = "Suspected abduction (kidnapping, state criminal code 10-2)"
PHOTO_AT = (39.7875, -89.6416667)
POST_TEXT = "Walking past the old mill, lovely evening"


def gps_jpeg(lat: float, lon: float) -> bytes:
    """A small JPEG whose EXIF GPS block records ``lat``/``lon``."""
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)

    def dms(value: float) -> tuple[float, float, float]:
        value = abs(value)
        degrees = int(value)
        minutes = int((value - degrees) * 60)
        return float(degrees), float(minutes), round((value - degrees - minutes / 60) * 3600, 4)

    gps.update({1: "N" if lat >= 0 else "S", 2: dms(lat), 3: "E" if lon >= 0 else "W",
                4: dms(lon)})  # fmt: skip
    out = io.BytesIO()
    Image.new("RGB", (16, 16), "navy").save(out, "JPEG", exif=exif)
    return out.getvalue()


class WebServer(LoopbackHttpServer):
    """A photo with GPS, a photo without, a post's page, and a text file posing as a photo."""

    def answer(self, request: RecordedRequest) -> Answer:
        if request.path == "/photo.jpg":
            return Answer(200, gps_jpeg(*PHOTO_AT), {"Content-Type": "image/jpeg"})
        if request.path == "/plain.jpg":
            out = io.BytesIO()
            Image.new("RGB", (8, 8)).save(out, "JPEG")
            return Answer(200, out.getvalue(), {"Content-Type": "image/jpeg"})
        if request.path == "/fake.jpg":
            return Answer(200, gps_jpeg(1.0, 1.0), {"Content-Type": "text/plain"})
        if request.path.startswith("/post/"):
            body = f"<html><body><p>{POST_TEXT}</p></body></html>".encode()
            return Answer(200, body, {"Content-Type": "text/html; charset=utf-8"})
        return Answer(404)


def open_case(people: types.SimpleNamespace, number: str = "2026-0412") -> Case:
    case = case_request(actor=people.investigator, number=number, title="Missing: J. Doe",
                        justification=JUSTIFICATION, predicate=PREDICATE)  # fmt: skip
    return case_decide(actor=people.supervisor, case_id=case.pk, approve=True)


def account_posts_stub(monkeypatch: Any, posts: list[PublicPost]) -> list[tuple[str, str]]:
    """Replace the connectors' ``account_posts`` (tested on its own against loopback networks
    in ``tests/monitoring/connectors``) with one returning ``posts``; returns the calls it got."""
    calls: list[tuple[str, str]] = []

    def account_posts(network: str, handle: str, *, since: datetime | None = None,
                      limit: int = 500) -> list[PublicPost]:  # fmt: skip
        calls.append((network, handle))
        return list(posts)

    monkeypatch.setattr(accounts, "account_posts", account_posts)
    return calls


def post(n: int, *, server: WebServer, when: datetime, text: str = POST_TEXT, **extra: Any
         ) -> PublicPost:  # fmt: skip
    return PublicPost(
        source="fediverse", remote_id=f"{server.url}/post/{n}", text=text, posted_at=when,
        author_handle="@jdoe@social.example", url=f"{server.url}/post/{n}", **extra,
    )  # fmt: skip


class OpensslTsa(LoopbackHttpServer):
    """An RFC 3161 time-stamping authority: OpenSSL's own ``openssl ts -reply`` signing with a
    fresh certificate for time-stamping (extended key usage, critical)."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Loopback TSA")])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
            )
            .sign(key, hashes.SHA256())
        )
        self.key = folder / "tsa-key.pem"
        self.cert = folder / "tsa-cert.pem"
        self.key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        self.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (folder / "serial").write_text("01\n")
        self.config = folder / "tsa.cnf"
        self.config.write_text(
            "[ tsa ]\ndefault_tsa = tsa_config\n[ tsa_config ]\n"
            f"serial = {folder / 'serial'}\ncrypto_device = builtin\nsigner_digest = sha256\n"
            "default_policy = 1.2.3.4.1\ndigests = sha256\naccuracy = secs:1\nordering = no\n"
            "tsa_name = no\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n"
        )

    def answer(self, request: RecordedRequest) -> Answer:
        query, reply = self.folder / "query.tsq", self.folder / "reply.tsr"
        query.write_bytes(request.body)
        subprocess.run(  # noqa: S603 - fixed arguments, test only
            ["openssl", "ts", "-reply", "-queryfile", str(query), "-config", str(self.config),
             "-inkey", str(self.key), "-signer", str(self.cert), "-out", str(reply)],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        return Answer(200, reply.read_bytes(), {"Content-Type": "application/timestamp-reply"})

    def verify(self, token: bytes, data: Path) -> bool:
        """What a court's expert would run: ``openssl ts -verify`` of the token over the file."""
        path = self.folder / "token.der"
        path.write_bytes(token)
        done = subprocess.run(  # noqa: S603 - fixed arguments, test only
            ["openssl", "ts", "-verify", "-token_in", "-in", str(path), "-data", str(data),
             "-CAfile", str(self.cert)],
            capture_output=True, timeout=30, check=False,
        )  # fmt: skip
        return done.returncode == 0 and b"Verification: OK" in done.stdout
