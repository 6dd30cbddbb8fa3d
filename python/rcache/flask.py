"""Flask blueprint serving rcached's admin paths for a Python cache.

    from rcache.flask import cache_blueprint
    app.register_blueprint(cache_blueprint(token=os.environ["CACHE_ADMIN_TOKEN"]))

Paths (JSON as docs/ADMIN.md): GET /api/cache/stats, GET/POST
/api/cache/config, POST /api/cache/clear, GET /api/cache/entries,
POST /api/cache/invalidate.  Every path needs ``Authorization: Bearer
<token>`` unless token is None (then say so explicitly: token=None).
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from flask import Blueprint, Response, json, request

from . import admin
from ._cache import Cache, get_cache

_UNSET: Any = object()


def cache_blueprint(cache: Optional[Cache] = None, *, token: Any = _UNSET,
                    name: str = "rcache_admin", url_prefix: str = "") -> Blueprint:
    """A blueprint for cache (default: get_cache() at request time).
    token: the bearer token (str), or None for no check (required argument:
    forgetting it raises TypeError rather than serving an open admin API)."""
    if token is _UNSET:
        raise TypeError("cache_blueprint() needs token= (a str, or None for no authentication)")
    if token is not None and (not isinstance(token, str) or not token):
        raise TypeError("token must be a non-empty str or None")
    bp = Blueprint(name, __name__, url_prefix=url_prefix)
    the_cache: Callable[[], Cache] = (lambda: cache) if cache is not None else get_cache

    def reply(r: admin.Reply) -> Response:
        code, body = r
        resp = Response(json.dumps(body), status=code, mimetype="application/json")
        resp.headers["Cache-Control"] = "no-store"
        if code == 401:
            resp.headers["WWW-Authenticate"] = 'Bearer realm="rcache"'
        return resp

    @bp.before_request
    def auth() -> Optional[Response]:
        denied = admin.check_token(request.headers.get("Authorization"), token)
        return reply(denied) if denied else None

    @bp.get("/api/cache/stats")
    def stats() -> Response:
        return reply(admin.stats(the_cache()))

    @bp.get("/api/cache/config")
    def get_config() -> Response:
        return reply(admin.get_config(the_cache()))

    @bp.post("/api/cache/config")
    def post_config() -> Response:
        return reply(admin.post_config(the_cache(), request.get_data()))

    @bp.post("/api/cache/clear")
    def clear() -> Response:
        return reply(admin.clear(the_cache()))

    @bp.post("/api/cache/invalidate")
    def invalidate() -> Response:
        return reply(admin.invalidate(the_cache(), request.get_data()))

    @bp.get("/api/cache/entries")
    def entries() -> Response:
        a = request.args
        return reply(admin.entries(the_cache(), a.get("cursor"), a.get("count"), a.get("match")))

    return bp
