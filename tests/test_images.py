"""Images in training examples, judged offline: what a header says (PNG, JPEG, WEBP, read with
the standard library), what an image costs by the vision guide's formula, and why one is
skipped. The sample images under tests/data/vision are 40 x 30 pictures made for these tests
(tall.png: 2048 x 4096), one per format and colour mode."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from mockft.validation import images

VISION = Path(__file__).parent / "data" / "vision"


def data_url(name: str, mime: str | None = None) -> str:
    kind = mime or {"jpg": "jpeg"}.get(name.rsplit(".", 1)[1], name.rsplit(".", 1)[1])
    return f"data:image/{kind};base64," + base64.b64encode((VISION / name).read_bytes()).decode()


@pytest.mark.parametrize(
    ("name", "kind", "rgb"),
    [
        ("rgb.png", images.PNG, True),
        ("rgba.png", images.PNG, True),
        ("grey.png", images.PNG, False),
        ("palette.png", images.PNG, False),
        ("rgb.jpg", images.JPEG, True),
        ("exif.jpg", images.JPEG, True),  # an APP1 segment before the frame header
        ("progressive.jpg", images.JPEG, True),
        ("grey.jpg", images.JPEG, False),
        ("cmyk.jpg", images.JPEG, False),
        ("lossy.webp", images.WEBP, True),
        ("lossless.webp", images.WEBP, True),
        ("alpha.webp", images.WEBP, True),
    ],
)
def test_a_header_gives_format_size_and_mode(name: str, kind: str, rgb: bool) -> None:
    info = images.probe((VISION / name).read_bytes())
    assert info == images.ImageInfo(kind, 40, 30, rgb)


def test_what_is_not_png_jpeg_or_webp_has_no_header() -> None:
    assert images.probe((VISION / "anim.gif").read_bytes()) is None
    assert images.probe(b"") is None
    assert images.probe(images.PNG_SIGNATURE + b"\x00\x00") is None  # cut short: no IHDR
    assert images.probe(b"\xff\xd8\xff\xe0\x00") is None  # cut short inside a segment
    assert images.probe(b"RIFF\x00\x00\x00\x00WEBPVP8 ") is None  # cut short: no frame


@pytest.mark.parametrize(
    ("size", "detail", "tokens"),
    [
        ((1024, 1024), "high", 765),  # the vision guide's examples
        ((2048, 4096), "high", 1105),
        ((4096, 8192), "low", 85),
        ((40, 30), "high", 255),  # one tile
        ((40, 30), "auto", 255),  # mockft reads "auto" as "high"
        ((768, 768), "high", 765),
        ((769, 769), "high", 765),  # scaled down to 768: four tiles
        ((512, 512), "high", 255),
        ((513, 512), "high", 425),
    ],
)
def test_tokens_follow_the_vision_guide(size: tuple[int, int], detail: str, tokens: int) -> None:
    assert images.tokens_for(*size, detail) == tokens


def test_a_kept_image_costs_its_size_a_web_url_a_1024_square() -> None:
    assert images.inspect(data_url("rgb.png"), "high") == images.Verdict(255)
    assert images.inspect(data_url("tall.png"), "auto") == images.Verdict(1105)
    assert images.inspect(data_url("tall.png"), "low") == images.Verdict(85)
    assert images.inspect("https://example.com/a.png", "high") == images.Verdict(765)
    assert images.inspect("http://example.com/a.png", "low") == images.Verdict(85)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/a.png", images.INACCESSIBLE_URL),
        ("file:///tmp/a.png", images.INACCESSIBLE_URL),
        ("a.png", images.INACCESSIBLE_URL),
        ("data:image/png;base64,!!!!", images.INVALID_FORMAT),  # not base64
        ("data:text/plain;base64,aGVsbG8=", images.INVALID_FORMAT),
        ("data:image/png,raw", images.INVALID_FORMAT),  # not base64-encoded
        ("data:image/png;base64,aGVsbG8=", images.INVALID_FORMAT),  # "hello"
    ],
)
def test_an_image_that_cannot_be_used_is_skipped(url: str, reason: str) -> None:
    assert images.inspect(url) == images.Verdict(0, reason)


@pytest.mark.parametrize("name", ["anim.gif", "grey.png", "palette.png", "grey.jpg", "cmyk.jpg"])
def test_not_jpeg_png_webp_in_rgb_or_rgba_is_an_invalid_format(name: str) -> None:
    assert images.inspect(data_url(name)) == images.Verdict(0, images.INVALID_FORMAT)


def test_an_image_over_10_mb_is_too_large_even_with_a_valid_header() -> None:
    png = (VISION / "rgb.png").read_bytes()
    padded = png + b"\x00" * (images.MAX_IMAGE_BYTES - len(png) + 1)
    url = "data:image/png;base64," + base64.b64encode(padded).decode()
    assert images.inspect(url) == images.Verdict(0, images.TOO_LARGE)
    exactly = png + b"\x00" * (images.MAX_IMAGE_BYTES - len(png))
    url = "data:image/png;base64," + base64.b64encode(exactly).decode()
    assert images.inspect(url, "high") == images.Verdict(255)
