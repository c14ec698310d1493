"""What a page of a list is: the request (`after`, `limit`, `order`) and the cursor slice.

Pure: the store pages with it and the HTTP layer parses into it (`mockft.pagination`), so it
sits below both and knows neither.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

T = TypeVar("T")
D = TypeVar("D")
Order = Literal["asc", "desc"]
ORDERS: list[str] = ["asc", "desc"]


@dataclass(frozen=True)
class PageRequest:
    limit: int
    after: str | None = None
    order: Order = "desc"


def slice_after(items: Sequence[T], page: PageRequest, key: Callable[[T], str]) -> list[T]:
    """Up to `limit + 1` items following the cursor, for a sequence already in page order.

    An unknown cursor gives an empty page, as a cursor past the end would."""
    start = 0
    if page.after is not None:
        for index, item in enumerate(items):
            if key(item) == page.after:
                start = index + 1
                break
        else:
            return []
    return list(items[start : start + page.limit + 1])


def keeping(read: Callable[[D], T | None]) -> tuple[Callable[[D], bool], list[T]]:
    """A `readable` predicate for a store's `page`, and the list it fills: what `read`
    makes of each document it accepts (None: a row damaged by hand, skipped), in the
    page's order, so that no document is read twice."""
    found: list[T] = []

    def readable(doc: D) -> bool:
        item = read(doc)
        if item is None:
            return False
        found.append(item)
        return True

    return readable, found
