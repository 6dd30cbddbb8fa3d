"""Framework-neutral handlers of rcached's admin paths, shared by the Flask
blueprint (rcache.flask) and the FastAPI router (rcache.fastapi).

Each handler takes parsed request data and returns ``(http_status, body)``
with the JSON bodies of docs/ADMIN.md: ``{"status": "success", ...}`` or
``{"status": "error", "error": msg, "code": status[, "field": name]}``.
Bearer-token check: :func:`check_token` (401 without a Bearer header, 403
for a wrong token, compared in constant time).
"""
from __future__ import annotations

import hmac
import json
import math
from typing import Any, Dict, Optional, Tuple

from ._cache import Cache

Reply = Tuple[int, Dict[str, Any]]
_MAX_TTL = 3155760000
_MAX_MB = 2 ** 40


def error(code: int, msg: str, field: Optional[str] = None) -> Reply:
    body: Dict[str, Any] = {"status": "error", "error": msg, "code": code}
    if field is not None:
        body["field"] = field
    return code, body


def check_token(header: Optional[str], token: Optional[str]) -> Optional[Reply]:
    """None when allowed; else the 401/403 reply. token None = no check."""
    if token is None:
        return None
    if not header or not header.startswith("Bearer "):
        return error(401, "missing bearer token")
    if not hmac.compare_digest(header[7:].strip().encode(), token.encode()):
        return error(403, "wrong token")
    return None


def stats(cache: Cache) -> Reply:
    s = cache.get_stats()
    s.pop("functions", None)
    return 200, {"status": "success", "cache_enabled": s["cache_enabled"], "stats": s}


def get_config(cache: Cache) -> Reply:
    return 200, {"status": "success", "config": cache.get_config()}


def _reject_duplicates(pairs: list) -> dict:
    d: Dict[str, Any] = {}
    for k, v in pairs:
        if k in d:
            raise ValueError(f"duplicate field {k}")
        d[k] = v
    return d


def parse_json(body: bytes) -> Tuple[Optional[Dict[str, Any]], Optional[Reply]]:
    try:
        data = json.loads(body or b"null", object_pairs_hook=_reject_duplicates)
    except ValueError as e:
        return None, error(400, f"malformed JSON: {e}")
    if not isinstance(data, dict):
        return None, error(400, "the body must be a JSON object")
    return data, None


def post_config(cache: Cache, body: bytes) -> Reply:
    data, err = parse_json(body)
    if err:
        return err
    assert data is not None
    kw: Dict[str, Any] = {}
    for field, value in data.items():
        if field == "max_size":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                return error(400, "max_size must be an integer or null", field)
            if value is not None and value < 0:
                return error(422, "max_size must be >= 0", field)
        elif field in ("max_memory_mb", "default_ttl_seconds"):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                return error(400, f"{field} must be a number or null", field)
            top = _MAX_MB if field == "max_memory_mb" else _MAX_TTL
            if value is not None and not (math.isfinite(value) and 0 <= value <= top):
                return error(422, f"{field} must be between 0 and {top}", field)
        elif field == "cache_enabled":
            if not isinstance(value, bool):
                return error(400, "cache_enabled must be a boolean", field)
        else:
            return error(400, f"unknown field {field}", field)
        kw[field] = value
    out = cache.update_config(**kw)
    evicted = out.pop("evicted")
    return 200, {"status": "success", "config": out, "evicted": evicted}


def clear(cache: Cache) -> Reply:
    return 200, {"status": "success", "removed": cache.clear()}


def invalidate(cache: Cache, body: bytes) -> Reply:
    data, err = parse_json(body)
    if err:
        return err
    assert data is not None
    extra = set(data) - {"pattern"}
    if extra:
        return error(400, f"unknown field {sorted(extra)[0]}", sorted(extra)[0])
    pattern = data.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        return error(400, "pattern must be a non-empty string", "pattern")
    try:
        removed = cache.invalidate_pattern(pattern)
    except ValueError as e:
        return error(400, str(e), "pattern")
    return 200, {"status": "success", "removed": removed, "pattern": pattern}


def entries(cache: Cache, cursor: Optional[str], count: Optional[str],
            match: Optional[str]) -> Reply:
    try:
        cur = int(cursor) if cursor not in (None, "") else 0
        cnt = int(count) if count not in (None, "") else 100
    except ValueError:
        return error(400, "cursor and count must be integers")
    if cur < 0 or cur >= 2 ** 64:
        return error(400, "bad cursor", "cursor")
    if cnt < 1:
        return error(400, "count must be >= 1", "count")
    try:
        nxt, page = cache.scan_entries(cur, min(cnt, 1000), match or None)
    except ValueError as e:
        return error(400, str(e), "match")
    for e in page:
        e.pop("size_mb", None)
        e.pop("timestamp", None)
    return 200, {"status": "success", "count": len(page), "entries": page,
                 "next_cursor": str(nxt), "done": nxt == 0, "total_items": len(cache)}
