"""Images in training examples (vision fine-tuning): the guide's rules, and what an image
costs in tokens.

From OpenAI's vision fine-tuning guide: images are given as HTTP URLs or base64 data URLs in
`image_url` content parts; a file holds at most 50,000 examples with images, an example at
most 10 images, an image at most 10 MB; images are JPEG, PNG or WEBP in the RGB or RGBA mode;
an assistant message holds no image. Images that break a rule of the image itself are
*skipped* ("inaccessible URL", "image too large", "invalid image format"), not the file's
error: they are left out of training and cost nothing.

What an image costs (the vision guide's formula for gpt-4o): `detail: "low"` 85 tokens;
otherwise the image is scaled down to fit 2048 x 2048, then down so that its short side is at
most 768 px, and costs 170 tokens per 512 px tile plus 85. mockft counts `"auto"` as `"high"`.

No network: the size of an image behind a URL cannot be known. mockft takes every `http(s)`
URL as reachable and valid, and counts it as a 1024 x 1024 image (the guide's own example:
765 tokens at high detail, 85 at low). A data URL is decoded and its header read (PNG, JPEG
and WEBP, with the standard library): its format, size in bytes, dimensions and colour mode
decide whether it is skipped, and what it costs.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
from dataclasses import dataclass
from typing import Final

MAX_IMAGE_EXAMPLES: Final = 50_000
MAX_IMAGES_PER_EXAMPLE: Final = 10
MAX_IMAGE_BYTES: Final = 10 * 1024 * 1024
DETAILS: Final = ("low", "high", "auto")
DEFAULT_DETAIL: Final = "auto"

LOW_DETAIL_TOKENS: Final = 85
BASE_TOKENS: Final = 85
TILE_TOKENS: Final = 170
TILE_PIXELS: Final = 512
FIT_PIXELS: Final = 2048
SHORT_SIDE_PIXELS: Final = 768
UNKNOWN_SIZE: Final = (1024, 1024)  # an image behind a URL, which mockft cannot fetch

# Why an image is skipped, in the guide's words.
INACCESSIBLE_URL: Final = "inaccessible URL"
TOO_LARGE: Final = "image too large"
INVALID_FORMAT: Final = "invalid image format"

PNG: Final = "png"
JPEG: Final = "jpeg"
WEBP: Final = "webp"
DATA_URL_PREFIX: Final = "data:"
BASE64_MARK: Final = ";base64,"
WEB_SCHEMES: Final = ("http://", "https://")
PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
PNG_RGB, PNG_RGBA = 2, 6  # IHDR colour types (0, 3, 4: grey, palette, grey with alpha)
JPEG_COMPONENTS_RGB: Final = 3  # YCbCr; 1 is greyscale, 4 CMYK
# frame headers (baseline, extended, progressive, lossless; Huffman or arithmetic coded)
JPEG_SOF: Final = frozenset({*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC)})
JPEG_STANDALONE: Final = frozenset({0x01, *range(0xD0, 0xD8)})


@dataclass(frozen=True)
class ImageInfo:
    """What an image's header says."""

    format: str
    width: int
    height: int
    rgb: bool  # in the RGB or RGBA mode


@dataclass(frozen=True)
class Verdict:
    """An image of an example: what it costs, or why it is skipped (then it costs 0)."""

    tokens: int
    skipped: str | None = None


def tokens_for(width: int, height: int, detail: str) -> int:
    """The tokens of a `width` x `height` image at `detail` (the vision guide's formula)."""
    if detail == "low":
        return LOW_DETAIL_TOKENS
    if width <= 0 or height <= 0:
        return BASE_TOKENS
    scale = min(1.0, FIT_PIXELS / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, SHORT_SIDE_PIXELS / min(w, h))
    w, h = w * scale, h * scale
    tiles = math.ceil(round(w, 6) / TILE_PIXELS) * math.ceil(round(h, 6) / TILE_PIXELS)
    return BASE_TOKENS + TILE_TOKENS * tiles


def inspect(url: str, detail: str = DEFAULT_DETAIL) -> Verdict:
    """What an `image_url` part's image costs, or why it is skipped."""
    if url.startswith(WEB_SCHEMES):
        return Verdict(tokens_for(*UNKNOWN_SIZE, detail))
    if not url.startswith(DATA_URL_PREFIX):
        return Verdict(0, INACCESSIBLE_URL)
    header, mark, payload = url.partition(BASE64_MARK)
    if not mark or not header[len(DATA_URL_PREFIX) :].lower().startswith("image/"):
        return Verdict(0, INVALID_FORMAT)
    # the decoded size, known before decoding: an image too large is never decoded
    if len(payload) // 4 * 3 - payload[-2:].count("=") > MAX_IMAGE_BYTES:
        return Verdict(0, TOO_LARGE)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return Verdict(0, INVALID_FORMAT)
    info = probe(data)
    if info is None or not info.rgb:
        return Verdict(0, INVALID_FORMAT)
    return Verdict(tokens_for(info.width, info.height, detail))


def probe(data: bytes) -> ImageInfo | None:
    """The format, dimensions and mode of a PNG, JPEG or WEBP image (None: none of those,
    or a header that does not parse)."""
    try:
        if data.startswith(PNG_SIGNATURE):
            return _png(data)
        if data.startswith(b"\xff\xd8"):
            return _jpeg(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp(data)
    except (struct.error, IndexError):
        return None
    return None


def _png(data: bytes) -> ImageInfo | None:
    if data[12:16] != b"IHDR":
        return None
    width, height, _, colour = struct.unpack(">IIBB", data[16:26])
    return ImageInfo(PNG, width, height, colour in (PNG_RGB, PNG_RGBA))


def _jpeg(data: bytes) -> ImageInfo | None:
    """Walk the markers to the frame header (SOFn): height, width, components."""
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill bytes
            at += 1
            continue
        if marker in JPEG_STANDALONE:
            at += 2
            continue
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if marker in JPEG_SOF:
            height, width, components = struct.unpack(">HHB", data[at + 5 : at + 10])
            return ImageInfo(JPEG, width, height, components == JPEG_COMPONENTS_RGB)
        if marker == 0xDA or length < 2:  # image data before any frame header
            return None
        at += 2 + length
    return None


def _webp(data: bytes) -> ImageInfo | None:
    chunk = data[12:16]
    if chunk == b"VP8 ":  # lossy: after a 3-byte frame tag and the start code 9d 01 2a
        width, height = struct.unpack("<HH", data[26:30])
        return ImageInfo(WEBP, width & 0x3FFF, height & 0x3FFF, True)
    if chunk == b"VP8L":  # lossless: 14-bit width and height - 1 after the 0x2f signature
        bits = int.from_bytes(data[21:25], "little")
        return ImageInfo(WEBP, (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, True)
    if chunk == b"VP8X":  # extended: 24-bit canvas width and height - 1
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return ImageInfo(WEBP, width, height, True)
    return None
