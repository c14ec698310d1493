"""The one cursor-pagination helper of the HTTP layer: `after` / `limit` / `order` parsed
from a query with the real API's error wording, and the list envelope. What a page is
(`PageRequest`, the cursor slice) lives below the store, in `mockft.paging`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from mockft import errors
from mockft.paging import Order, PageRequest, slice_after

__all__ = ["MAX_LIMIT", "PageRequest", "envelope", "page_request", "parse_int", "slice_after"]

T = TypeVar("T")
MAX_LIMIT = 10_000
ORDER_WORDS: Mapping[str, Order] = {"asc": "asc", "desc": "desc"}


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
    orders: Mapping[str, Order] = ORDER_WORDS,
) -> PageRequest:
    """`orders`: the words a list takes for its orders (most say `asc` / `desc`; checkpoint
    permissions, `ascending` / `descending`)."""
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
        if raw not in orders:
            raise errors.invalid_value("order", raw, list(orders))
        order = orders[raw]
    after = query.get("after") or None
    return PageRequest(limit=limit, after=after, order=order)


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
