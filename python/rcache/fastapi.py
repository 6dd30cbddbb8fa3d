"""FastAPI / Starlette router serving rcached's admin paths.

    from rcache.fastapi import cache_router
    app.include_router(cache_router(token=os.environ["CACHE_ADMIN_TOKEN"]))

Same paths, JSON and bearer-token rules as rcache.flask.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from . import admin
from ._cache import Cache, get_cache

_UNSET: Any = object()


def cache_router(cache: Optional[Cache] = None, *, token: Any = _UNSET,
                 prefix: str = "") -> APIRouter:
    """An APIRouter for cache (default: get_cache() at request time);
    token as in rcache.flask.cache_blueprint (required; None = no check)."""
    if token is _UNSET:
        raise TypeError("cache_router() needs token= (a str, or None for no authentication)")
    if token is not None and (not isinstance(token, str) or not token):
        raise TypeError("token must be a non-empty str or None")
    router = APIRouter(prefix=prefix)
    the_cache: Callable[[], Cache] = (lambda: cache) if cache is not None else get_cache

    def reply(r: admin.Reply) -> JSONResponse:
        code, body = r
        headers = {"Cache-Control": "no-store"}
        if code == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="rcache"'
        return JSONResponse(body, status_code=code, headers=headers)

    def guarded(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> JSONResponse:
            denied = admin.check_token(request.headers.get("authorization"), token)
            if denied:
                return reply(denied)
            return reply(await handler(request))
        endpoint.__name__ = handler.__name__
        return endpoint

    async def stats(request: Request) -> admin.Reply:
        return admin.stats(the_cache())

    async def get_config(request: Request) -> admin.Reply:
        return admin.get_config(the_cache())

    async def post_config(request: Request) -> admin.Reply:
        return admin.post_config(the_cache(), await request.body())

    async def clear(request: Request) -> admin.Reply:
        return admin.clear(the_cache())

    async def invalidate(request: Request) -> admin.Reply:
        return admin.invalidate(the_cache(), await request.body())

    async def entries(request: Request) -> admin.Reply:
        q = request.query_params
        return admin.entries(the_cache(), q.get("cursor"), q.get("count"), q.get("match"))

    router.add_api_route("/api/cache/stats", guarded(stats), methods=["GET"])
    router.add_api_route("/api/cache/config", guarded(get_config), methods=["GET"])
    router.add_api_route("/api/cache/config", guarded(post_config), methods=["POST"])
    router.add_api_route("/api/cache/clear", guarded(clear), methods=["POST"])
    router.add_api_route("/api/cache/invalidate", guarded(invalidate), methods=["POST"])
    router.add_api_route("/api/cache/entries", guarded(entries), methods=["GET"])
    return router
