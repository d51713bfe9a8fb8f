"""Photos are validated, turned upright and copied at web sizes with nothing but pixels."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from tests.posts.media.conftest import (
    CAMERA_MAKE,
    GPS_DATUM,
    files_in,
    gps_latitude_bytes,
    jpeg_with_gps,
    png_bomb,
)
from watchhouse.posts.media import MediaRejectedError, image_process
from watchhouse.posts.media.images import MAX_IMAGE_PIXELS


def assert_pixels_only(path: Path) -> None:
    """The public copy at ``path`` carries no EXIF, GPS, XMP, comment or camera name."""
    data = path.read_bytes()
    hidden = [GPS_DATUM.encode(), CAMERA_MAKE.encode(), b"Exif", b"taken at the scene"]
    hidden += [b"WatchhouseXMP", b"Photoshop 3.0", *gps_latitude_bytes()]
    for secret in hidden:
        assert secret not in data, f"{secret!r} found in {path.name}"
    with Image.open(path) as image:
        assert len(image.getexif()) == 0
        assert not {"exif", "xmp", "comment", "icc_profile", "photoshop"} & set(image.info)


def test_public_copies_have_no_exif_or_gps_and_the_original_keeps_it(tmp_path: Path) -> None:
    """Every public size is stripped of EXIF and GPS; the original is left byte for byte."""
    src = jpeg_with_gps(tmp_path / "scene.jpg")
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    with Image.open(src) as original:
        assert original.getexif().get_ifd(0x8825)[18] == GPS_DATUM

    result = image_process(src, tmp_path / "public")

    assert hashlib.sha256(src.read_bytes()).hexdigest() == before
    assert GPS_DATUM.encode() in src.read_bytes()
    assert any(latitude in src.read_bytes() for latitude in gps_latitude_bytes())
    assert b"WatchhouseXMP" in src.read_bytes() and b"taken at the scene" in src.read_bytes()
    assert (result.width, result.height, result.mime) == (2000, 1500, "image/jpeg")
    assert [(r.name, r.width, r.height) for r in result.renditions] == [
        ("w320", 320, 240),
        ("w640", 640, 480),
        ("w1280", 1280, 960),
        ("w1920", 1920, 1440),
    ]
    for rendition in result.renditions:
        assert rendition.path.parent == (tmp_path / "public").resolve()
        assert rendition.bytes == rendition.path.stat().st_size
        assert rendition.mime == "image/jpeg"
        with Image.open(rendition.path) as image:
            assert image.format == "JPEG"
            assert image.size == (rendition.width, rendition.height)
        assert_pixels_only(rendition.path)
    # Only the finished copies are there: no temporary files left behind.
    assert files_in(tmp_path / "public") == ["w1280.jpg", "w1920.jpg", "w320.jpg", "w640.jpg"]


def test_no_copy_is_larger_than_the_original(tmp_path: Path) -> None:
    """A 1000 px photo gets 320 and 640 copies; a 200 px one a single copy at its own size."""
    medium = image_process(jpeg_with_gps(tmp_path / "m.jpg", (1000, 750)), tmp_path / "m")
    assert [(r.width, r.height) for r in medium.renditions] == [(320, 240), (640, 480)]
    small = image_process(jpeg_with_gps(tmp_path / "s.jpg", (200, 100)), tmp_path / "s")
    assert [(r.name, r.width, r.height) for r in small.renditions] == [("w200", 200, 100)]
    custom = image_process(jpeg_with_gps(tmp_path / "c.jpg", (500, 500)), tmp_path / "c",
                           widths=(100, 400, 800))  # fmt: skip
    assert [r.width for r in custom.renditions] == [100, 400]


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    """A photo stored sideways (orientation 6) comes out upright, with its top at the top."""
    image = Image.new("RGB", (300, 200), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 150, 200))  # left half red, as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed turned 90° clockwise: the stored left edge is the top
    src = tmp_path / "sideways.jpg"
    image.save(src, "JPEG", exif=exif, quality=95)

    result = image_process(src, tmp_path / "out")

    assert (result.width, result.height) == (200, 300)
    [copy] = result.renditions
    with Image.open(copy.path) as upright:
        assert upright.size == (200, 300)
        top, bottom = upright.convert("RGB").getpixel((100, 30)), upright.getpixel((100, 270))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 200 and top[2] < 60, top
    assert bottom[2] > 200 and bottom[0] < 60, bottom
    assert_pixels_only(copy.path)


def test_transparency_is_kept_in_a_png(tmp_path: Path) -> None:
    """A logo with a transparent background stays transparent (PNG), not black in a JPEG."""
    image = Image.new("RGBA", (400, 200), (0, 0, 0, 0))
    image.paste((255, 200, 0, 255), (100, 50, 300, 150))
    src = tmp_path / "badge.png"
    image.save(src, "PNG")

    result = image_process(src, tmp_path / "out")

    assert result.mime == "image/png"
    [copy] = result.renditions
    assert (copy.name, copy.mime, copy.width, copy.height) == ("w320", "image/png", 320, 160)
    with Image.open(copy.path) as out:
        assert out.format == "PNG" and out.mode == "RGBA"
        assert out.getpixel((5, 5)) == (0, 0, 0, 0)
        assert out.getpixel((160, 80)) == (255, 200, 0, 255)
    assert_pixels_only(copy.path)


def test_an_opaque_png_photo_becomes_a_jpeg(tmp_path: Path) -> None:
    """A screenshot with an alpha channel but no transparency is published as a JPEG."""
    src = tmp_path / "shot.png"
    Image.new("RGBA", (640, 480), (10, 20, 30, 255)).save(src)
    result = image_process(src, tmp_path / "out")
    assert [(r.name, r.mime) for r in result.renditions] == [
        ("w320", "image/jpeg"),
        ("w640", "image/jpeg"),
    ]


def test_an_embedded_colour_profile_is_not_published(tmp_path: Path) -> None:
    """A photo with an ICC profile is published in sRGB, colours intact, without the profile."""
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    src = tmp_path / "profiled.jpg"
    Image.new("RGB", (400, 300), (200, 30, 30)).save(src, "JPEG", icc_profile=srgb.tobytes())
    with Image.open(src) as original:
        assert "icc_profile" in original.info
    result = image_process(src, tmp_path / "out")
    [copy] = result.renditions
    with Image.open(copy.path) as out:
        assert "icc_profile" not in out.info
        red, green, blue = out.convert("RGB").getpixel((200, 150))  # type: ignore[misc]
    assert abs(red - 200) < 8 and abs(green - 30) < 8 and abs(blue - 30) < 8


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (9_000, 9_000),  # over the 60 MP limit, under Pillow's process-wide one
        (12_000, 12_000),  # over Pillow's warning limit too
        (100_000, 100_000),  # over Pillow's error limit
    ],
)
def test_decompression_bombs_are_refused_and_nothing_is_written(
    tmp_path: Path, width: int, height: int
) -> None:
    """A tiny PNG declaring a huge picture is refused from its header; nothing is written."""
    assert width * height > MAX_IMAGE_PIXELS
    src = png_bomb(tmp_path / "bomb.png", width, height)
    with pytest.raises(MediaRejectedError, match="decompression bomb"):
        image_process(src, tmp_path / "out")
    assert files_in(tmp_path / "out") == []


def test_a_truncated_jpeg_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    """A photo cut off half-way is refused as damaged rather than published half grey."""
    image = Image.effect_noise((800, 600), 60).convert("RGB")
    full = tmp_path / "full.jpg"
    image.save(full, "JPEG", quality=90)
    src = tmp_path / "cut.jpg"
    src.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(MediaRejectedError, match="damaged or incomplete"):
        image_process(src, tmp_path / "out")
    assert files_in(tmp_path / "out") == []


def test_a_png_with_a_bad_checksum_is_refused(tmp_path: Path) -> None:
    """A PNG whose data was altered after writing fails verification."""
    src = tmp_path / "bad.png"
    Image.effect_noise((64, 64), 60).save(src)
    data = bytearray(src.read_bytes())
    data[60] ^= 0xFF  # inside the IDAT chunk
    src.write_bytes(bytes(data))
    with pytest.raises(MediaRejectedError, match="cannot be read"):
        image_process(src, tmp_path / "out")
    assert files_in(tmp_path / "out") == []


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("photo.jpg", "zip"),
        ("photo.png", b"<html><body><script>alert(document.cookie)</script></body></html>"),
    ],
)
def test_files_that_are_not_images_are_refused(
    tmp_path: Path, name: str, content: bytes | str
) -> None:
    """A ZIP named .jpg or HTML named .png is refused; nothing is written."""
    if content == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("a.jpg", b"\xff\xd8\xff")
        content = buffer.getvalue()
    assert isinstance(content, bytes)
    src = tmp_path / name
    src.write_bytes(content)
    with pytest.raises(MediaRejectedError, match="not a JPEG, PNG, WebP or GIF image"):
        image_process(src, tmp_path / "out")
    assert files_in(tmp_path / "out") == []


def test_an_animated_gif_is_published_as_its_first_frame(tmp_path: Path) -> None:
    """The first frame of an animation becomes a still copy."""
    frames = [Image.new("P", (400, 300), colour) for colour in (1, 2, 3)]
    src = tmp_path / "anim.gif"
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=100)
    result = image_process(src, tmp_path / "out")
    assert result.mime == "image/gif"
    assert [(r.width, r.height, r.mime) for r in result.renditions] == [(320, 240, "image/jpeg")]


@pytest.mark.parametrize(
    ("name", "image", "mime", "pixel"),
    [
        ("grey16.png", Image.new("I;16", (400, 300), 30000), "image/jpeg", (117, 117, 117)),
        ("print.jpg", Image.new("CMYK", (400, 300), (0, 255, 255, 0)), "image/jpeg", (254, 0, 0)),
        ("mask.png", Image.new("LA", (400, 300), (100, 128)), "image/png", (100, 100, 100, 128)),
        ("new.avif", Image.new("RGB", (400, 300), (200, 0, 0)), "image/jpeg", (200, 0, 0)),
    ],
)
def test_unusual_pixel_formats_come_out_with_the_right_colours(
    tmp_path: Path, name: str, image: Image.Image, mime: str, pixel: tuple[int, ...]
) -> None:
    """16-bit grey, CMYK, grey with alpha and AVIF photos are published as they look."""
    src = tmp_path / name
    image.save(src)
    [copy] = image_process(src, tmp_path / "out").renditions
    assert copy.mime == mime
    with Image.open(copy.path) as out:
        got = out.getpixel((160, 120))
    assert isinstance(got, tuple) and len(got) == len(pixel)
    assert all(abs(a - b) <= 3 for a, b in zip(got, pixel, strict=True)), got
