"""Flask blueprint, FastAPI router and Django backend, with the real
frameworks from Debian (skipped when one is not installed)."""
import json

import pytest

import rcache

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _exercise(call, cache):
    """The same admin-API checks through any framework: call(method, path,
    body=None, headers=AUTH) -> (status, json)."""
    cache.reset_stats()
    cache.set("model:v3:a", "A", size_mb=1)
    cache.set("model:v3:b", "B")
    cache.set("user:1", "U")
    cache.get("user:1")

    assert call("GET", "/api/cache/stats", headers={})[0] == 401
    assert call("GET", "/api/cache/stats", headers={"Authorization": "Bearer nope"})[0] == 403
    code, body = call("GET", "/api/cache/stats")
    assert code == 200 and body["status"] == "success" and body["cache_enabled"] is True
    assert body["stats"]["current_items"] == 3 and body["stats"]["hits"] == 1

    code, body = call("GET", "/api/cache/entries?count=1000&match=model:*")
    assert code == 200 and body["done"] is True and body["next_cursor"] == "0"
    assert sorted(e["key"] for e in body["entries"]) == ["model:v3:a", "model:v3:b"]
    assert body["total_items"] == 3
    assert call("GET", "/api/cache/entries?count=zero")[0] == 400
    assert call("GET", "/api/cache/entries?match=%5B")[0] == 400

    code, body = call("POST", "/api/cache/invalidate", json.dumps({"pattern": "model:v3:*"}))
    assert (code, body["removed"], body["pattern"]) == (200, 2, "model:v3:*")
    code, body = call("POST", "/api/cache/invalidate", json.dumps({"pattern": "a["}))
    assert code == 400 and body["field"] == "pattern"
    assert call("POST", "/api/cache/invalidate", "{")[0] == 400

    code, body = call("GET", "/api/cache/config")
    assert code == 200 and body["config"]["max_size"] == 100
    code, body = call("POST", "/api/cache/config",
                      json.dumps({"max_size": 2000, "default_ttl_seconds": 60}))
    assert code == 200 and body["config"]["max_size"] == 2000 and body["evicted"] == 0
    assert body["config"]["default_ttl_seconds"] == 60
    code, body = call("POST", "/api/cache/config", json.dumps({"max_size": "10"}))
    assert (code, body["field"]) == (400, "max_size")
    code, body = call("POST", "/api/cache/config", json.dumps({"max_size": -1}))
    assert (code, body["field"]) == (422, "max_size")
    assert call("POST", "/api/cache/config", json.dumps({"bogus": 1}))[0] == 400
    assert call("POST", "/api/cache/config", '{"max_size":1,"max_size":2}')[0] == 400
    assert cache.get_config()["max_size"] == 2000

    code, body = call("POST", "/api/cache/clear")
    assert (code, body["removed"]) == (200, 1)
    assert len(cache) == 0


def test_flask_blueprint(cache):
    flask = pytest.importorskip("flask")
    from rcache.flask import cache_blueprint

    app = flask.Flask(__name__)
    app.register_blueprint(cache_blueprint(cache, token=TOKEN))

    @app.get("/model/<h>")
    def model(h):
        return {"mesh": generate(h)}

    calls = []

    @rcache.cached_result_sync(cache=cache, cache_key_fn=lambda h: f"model:v3:{h}")
    def generate(h):
        calls.append(h)
        return h.upper()

    client = app.test_client()

    def call(method, path, body=None, headers=AUTH):
        r = client.open(path, method=method, data=body, headers=headers)
        return r.status_code, r.get_json()

    assert client.get("/model/ab").get_json() == {"mesh": "AB"}
    assert client.get("/model/ab").get_json() == {"mesh": "AB"}
    assert calls == ["ab"]
    cache.clear()
    _exercise(call, cache)
    with pytest.raises(TypeError, match="token"):
        cache_blueprint(cache)


def test_fastapi_router(cache):
    fastapi = pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from rcache.fastapi import cache_router

    app = fastapi.FastAPI()
    app.include_router(cache_router(cache, token=TOKEN))
    calls = []

    @rcache.cached_result(cache=cache)
    async def generate(h: str):
        calls.append(h)
        return {"mesh": h.upper()}

    @app.get("/model/{h}")
    async def model(h: str):
        return await generate(h)

    client = TestClient(app)

    def call(method, path, body=None, headers=AUTH):
        r = client.request(method, path, content=body, headers=headers)
        return r.status_code, r.json()

    assert client.get("/model/ab").json() == {"mesh": "AB"}
    assert client.get("/model/ab").json() == {"mesh": "AB"}
    assert calls == ["ab"]
    cache.clear()
    _exercise(call, cache)


@pytest.fixture(scope="module")
def django_caches():
    pytest.importorskip("django")
    import django
    from django.conf import settings

    clock = rcache.ManualClock(1_700_000_000)
    if not settings.configured:
        settings.configure(CACHES={
            "default": {"BACKEND": "rcache.django.RcacheCache", "LOCATION": "t-default",
                        "TIMEOUT": 60, "OPTIONS": {"MAX_ENTRIES": 50, "CLOCK": clock}},
            "byref": {"BACKEND": "rcache.django.RcacheCache", "LOCATION": "t-byref",
                      "OPTIONS": {"PICKLE": False}},
        })
        django.setup()
    from django.core.cache import caches
    return caches, clock


def test_django_backend(django_caches):
    caches, clock = django_caches
    c = caches["default"]
    c.clear()
    assert c.get("a") is None and c.get("a", 5) == 5
    c.set("a", {"x": [1]})
    v = c.get("a")
    v["x"].append(2)
    assert c.get("a") == {"x": [1]}  # pickled: a copy each time
    assert c.add("a", 2) is False and c.add("b", 2) is True
    assert c.get_many(["a", "b", "zz"]) == {"a": {"x": [1]}, "b": 2}
    assert c.set_many({"c": 3, "d": 4}) == []
    c.delete_many(["c", "d"])
    assert c.get("c") is None
    assert c.incr("b") == 3 and c.decr("b", 2) == 1
    with pytest.raises(ValueError):
        c.incr("missing")
    assert c.has_key("b") and not c.has_key("zz")
    assert c.delete("b") is True and c.delete("b") is False

    # timeouts: default 60 s, None = forever, 0 = don't cache
    c.set("t60", 1)
    c.set("forever", 1, timeout=None)
    c.set("zero", 1, timeout=0)
    assert c.get("zero") is None
    clock.advance(59)
    assert c.get("t60") == 1
    clock.advance(2)
    assert c.get("t60") is None and c.get("forever") == 1
    c.set("t", 1, timeout=10)
    assert c.touch("t", 100) is True
    clock.advance(50)
    assert c.get("t") == 1
    assert c.touch("t", 0) is True and c.get("t") is None
    assert c.touch("nope", 10) is False
    # versions
    c.set("v", "one", version=1)
    c.set("v", "two", version=2)
    assert c.get("v", version=1) == "one" and c.get("v", version=2) == "two"
    c.clear()
    assert c.get("a") is None


def test_django_by_reference(django_caches):
    caches, _ = django_caches
    c = caches["byref"]
    o = {"big": "result"}
    c.set("k", o)
    assert c.get("k") is o
