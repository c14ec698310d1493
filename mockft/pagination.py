"""The one cursor-pagination helper: `after` / `limit` / `order` parsing with the real
API's error wording, and the list envelope."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from mockft import errors

T = TypeVar("T")
Order = Literal["asc", "desc"]
ORDERS: list[str] = ["asc", "desc"]
MAX_LIMIT = 10_000


@dataclass(frozen=True)
class PageRequest:
    limit: int
    after: str | None = None
    order: Order = "desc"


def parse_int(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.invalid_type(name, "an integer", "a string") from None


def page_request(
    query: Mapping[str, str],
    *,
    default_limit: int,
    max_limit: int = MAX_LIMIT,
    default_order: Order = "desc",
    orderable: bool = False,
) -> PageRequest:
    limit = parse_int(query, "limit")
    if limit is None:
        limit = default_limit
    if limit < 1:
        raise errors.below_minimum("limit", 1, limit)
    if limit > max_limit:
        raise errors.above_maximum("limit", max_limit, limit)
    order: Order = default_order
    if orderable and "order" in query:
        raw = query["order"]
        if raw not in ORDERS:
            raise errors.invalid_value("order", raw, ORDERS)
        order = "asc" if raw == "asc" else "desc"
    after = query.get("after") or None
    return PageRequest(limit=limit, after=after, order=order)


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


def envelope(
    window: Sequence[T],
    page: PageRequest,
    serialize: Callable[[T], Any] | None = None,
    *,
    id_of: Callable[[T], str] | None = None,
) -> dict[str, Any]:
    """`window` is what the store returned for the page: up to `limit + 1` items.
    `serialize` gives what orjson writes (a dict or a dataclass); None for items that are
    that already. `id_of`, for the lists whose envelope names its first and last ids."""
    items = window[: page.limit]
    data = items if serialize is None else [serialize(item) for item in items]
    body: dict[str, Any] = {"object": "list", "data": data}
    if id_of is not None:
        body["first_id"] = id_of(items[0]) if items else None
        body["last_id"] = id_of(items[-1]) if items else None
    body["has_more"] = len(window) > page.limit
    return body
