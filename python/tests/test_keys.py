"""Argument keys: stable across processes, unambiguous, librcache-compatible."""
import dataclasses
import enum
import os
import subprocess
import sys

import pytest

import rcache
from rcache import encode_key


def test_matches_librcache_format():
    # include/rcache.h: namespace "f", the string "ab" and the int64 -1
    assert encode_key("f", ("ab", -1)).hex() == \
        "6600017300000002616269ffffffffffffffff"


def test_distinct_arguments_distinct_keys():
    samples = [None, True, False, 0, 1, -1, 1.0, 0.5, "", "1", b"1", bytearray(b"1"),
               (), [], {}, frozenset(), (1,), [1], {1: 2}, {2: 1}, frozenset({1}),
               2 ** 63, 2 ** 64, -2 ** 63 - 1, 10 ** 30, (1, 2), ((1,), 2), (1, (2,)),
               ["a", "b"], ["ab"], {"a": (1,)}]
    keys = [encode_key("ns", (s,)) for s in samples]
    # bytearray and bytes are the same content type
    assert keys[10] == keys[11]
    del keys[11]
    assert len(set(keys)) == len(keys)
    assert encode_key("ns", (1, 2)) != encode_key("ns", ((1, 2),))
    assert encode_key("a", (1,)) != encode_key("b", (1,))


def test_canonical_forms():
    assert encode_key("n", ({"b": 1, "a": 2},)) == encode_key("n", ({"a": 2, "b": 1},))
    assert encode_key("n", (frozenset("abc"),)) == encode_key("n", (set("cba"),))
    assert encode_key("n", (-0.0,)) == encode_key("n", (0.0,))
    assert encode_key("n", (float("nan"),)) == encode_key("n", (-float("nan"),))
    assert encode_key("n", (), {"a": 1, "b": 2}) == encode_key("n", (), {"b": 2, "a": 1})


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int


class Version:
    def __init__(self, v):
        self.v = v
        self.scratch = object()

    def __cache_key__(self):
        return ("version", self.v)


class Color(enum.IntEnum):
    RED = 1


def test_dataclass_and_cache_key():
    assert encode_key("n", (Point(1, 2),)) == encode_key("n", (Point(1, 2),))
    assert encode_key("n", (Point(1, 2),)) != encode_key("n", (Point(2, 1),))
    assert encode_key("n", (Version(3),)) == encode_key("n", (Version(3),))
    assert encode_key("n", (Version(3),)) != encode_key("n", (("version", 3),))
    assert encode_key("n", (Color.RED,)) == encode_key("n", (1,))

    class NpLikeInt:  # numpy.int64 is not an int subclass but has __index__
        def __index__(self):
            return 7

    class BadIndex:
        def __index__(self):
            raise TypeError("not a scalar")

    assert encode_key("n", (NpLikeInt(),)) == encode_key("n", (7,))
    with pytest.raises(TypeError, match="unsupported type 'BadIndex'"):
        encode_key("n", (BadIndex(),))


def test_stable_across_processes():
    code = ("import rcache; print(rcache.encode_key('m.f/v2', "
            "('x', 3, 2.5, None, (1, [2]), {'k': b'v'}, frozenset({1, 2})), {'z': True}).hex())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=dict(os.environ, PYTHONPATH=":".join(sys.path), PYTHONHASHSEED="123"))
    here = encode_key("m.f/v2", ("x", 3, 2.5, None, (1, [2]), {"k": b"v"}, frozenset({1, 2})),
                      {"z": True}).hex()
    assert out.stdout.strip() == here


def test_unsupported_argument_names_it():
    c = rcache.Cache()

    @rcache.cached_result_sync(cache=c)
    def f(a, b):
        return 1

    with pytest.raises(TypeError, match=r"argument 'b' of .*f: unsupported type 'object'"):
        f(1, object())
    with pytest.raises(TypeError, match=r"argument 'b'.*'object'"):
        f(1, b=[object()])
    with pytest.raises(TypeError, match=r"positional argument 1"):
        encode_key("n", (lambda: 1,))
    with pytest.raises(TypeError):
        f(1, {object(): 1})
    assert len(c) == 0


def test_self_and_cls_excluded():
    c = rcache.Cache()
    calls = []

    class Svc:
        def __init__(self, n):
            self.n = n

        @rcache.cached_result_sync(cache=c)
        def get(self, x):
            calls.append((self.n, x))
            return x * 2

        @classmethod
        @rcache.cached_result_sync(cache=c)
        def cm(cls, x):
            return x

    assert Svc(1).get(2) == 4
    assert Svc(2).get(2) == 4  # different self, same key
    assert calls == [(1, 2)]
    assert Svc.cm(5) == 5 and Svc.cm(5) == 5
    assert Svc.get.__name__ == "get"


def test_namespace_and_version():
    c = rcache.Cache()

    @rcache.cached_result_sync(cache=c, namespace="thumb", version=2)
    def f(x):
        return x

    f(1)
    assert c.get(encode_key("thumb/2", (1,))) == 1
    assert f.cache_clear() == 1
    assert len(c) == 0
