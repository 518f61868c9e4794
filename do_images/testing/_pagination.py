"""Page arithmetic: ``page``/``per_page`` parsing, O(page) slicing of sorted ids, DO ``links``."""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from typing import Any

from yarl import URL

from ._errors import bad_request

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 200  # larger values are clamped, as the real API does


def _positive(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be an integer") from None
    if value < 1:
        raise bad_request(f"{name} must be greater than or equal to 1")
    return value


def parse(query: Mapping[str, str]) -> tuple[int, int]:
    """``(page, per_page)`` from the query: defaults 1 and 20, per_page clamped to 200, else 400."""
    page = _positive(query, "page", 1)
    per_page = min(_positive(query, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
    return page, per_page


def merged_slice(lists: Sequence[Sequence[int]], offset: int, limit: int) -> list[int]:
    """Items ``[offset, offset+limit)`` of the sorted union of disjoint ascending lists.

    Costs O(limit + log) rather than O(total): the first item is found by bisecting on value.
    """
    lists = [lst for lst in lists if lst]
    if len(lists) == 1:
        return list(lists[0][offset : offset + limit])
    if not lists or offset >= sum(len(lst) for lst in lists):
        return []
    lo, hi = min(lst[0] for lst in lists), max(lst[-1] for lst in lists)
    while lo < hi:  # smallest value with more than `offset` items at or below it
        mid = (lo + hi) // 2
        if sum(bisect_right(lst, mid) for lst in lists) > offset:
            hi = mid
        else:
            lo = mid + 1
    heads = [lst[(start := bisect_left(lst, lo)) : start + limit] for lst in lists]
    return list(heapq.merge(*heads))[:limit]


def links(url: URL, page: int, per_page: int, total: int) -> dict[str, Any]:
    """DO's ``links``: absolute ``first``/``prev`` past page 1, ``next``/``last`` until the last."""
    last = max(1, -(-total // per_page))
    pages: dict[str, str] = {}

    def at(n: int) -> str:
        return str(url.update_query(page=n, per_page=per_page))

    if page > 1:
        pages["first"] = at(1)
        pages["prev"] = at(min(page - 1, last))
    if page < last:
        pages["next"] = at(page + 1)
        pages["last"] = at(last)
    return {"pages": pages} if pages else {}
