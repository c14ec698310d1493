"""Reading a file as lines, in bounded memory, from byte chunks of any size."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final

MAX_LINE_BYTES: Final = 64 * 1024 * 1024  # a longer line is rejected without being buffered


def lines(chunks: Iterable[bytes], max_bytes: int = MAX_LINE_BYTES) -> Iterator[bytes | None]:
    """The file's lines without their newline; None for a line longer than ``max_bytes``
    (which is skipped, not buffered). A final newline does not start another line. Holds
    one chunk and one line at a time."""
    pending: list[bytes] = []  # the start of a line that began in an earlier chunk
    pending_size = 0
    overflow = False
    for chunk in chunks:
        start = 0
        newline = chunk.find(b"\n")
        while newline >= 0:
            if pending or overflow:
                if overflow or pending_size + newline - start > max_bytes:
                    yield None
                else:
                    pending.append(chunk[start:newline])
                    yield b"".join(pending)
                pending, pending_size, overflow = [], 0, False
            else:
                yield chunk[start:newline] if newline - start <= max_bytes else None
            start = newline + 1
            newline = chunk.find(b"\n", start)
        if start < len(chunk) and not overflow:
            pending_size += len(chunk) - start
            if pending_size > max_bytes:
                pending, overflow = [], True
            else:
                pending.append(chunk[start:])
        del chunk  # before the next one is read
    if overflow:
        yield None
    elif pending:
        yield b"".join(pending)
