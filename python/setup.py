"""Build of the rcache package: the _rcache C extension is compiled from
the in-tree librcache sources (../src/lib, ../include) plus python/src.

Environment:
  RCACHE_PY_DEBUG=1     -O0 -g, assertions on (for the ASan run)
  RCACHE_PY_SANITIZE=address,undefined   build with these sanitizers
"""
import glob
import os
import subprocess
import sys

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LIB = os.path.join(ROOT, "src", "lib")
INC = os.path.join(ROOT, "include")

if not os.path.isfile(os.path.join(INC, "rcache.h")):
    sys.exit("rcache: build from a checkout of the rcache repository "
             "(python/ needs ../src/lib and ../include)")


def pkg_config(flag, pkg, default):
    """Flags of a system library from pkg-config (liblzf: its header is in
    include/liblzf), or default when pkg-config cannot tell."""
    try:
        out = subprocess.run(["pkg-config", flag, pkg], check=True,
                             capture_output=True, text=True).stdout
        return out.split()
    except (OSError, subprocess.CalledProcessError):
        return default


LZF_INC = [f[2:] for f in pkg_config("--cflags-only-I", "liblzf",
                                     ["-I/usr/include/liblzf"])]


def rel(paths):
    # setuptools wants paths relative to setup.py
    return sorted(os.path.relpath(p, HERE) for p in paths)


sources = rel(glob.glob(os.path.join(HERE, "src", "*.c")) +
              glob.glob(os.path.join(LIB, "*.c")))
cflags = ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter",
          "-Wno-missing-field-initializers", "-fvisibility=hidden"]
ldflags = []
undef = []
if os.environ.get("RCACHE_PY_DEBUG") == "1":
    cflags += ["-O0", "-g3"]
    undef = ["NDEBUG"]
san = os.environ.get("RCACHE_PY_SANITIZE", "")
if san:
    cflags += ["-fsanitize=" + san, "-fno-omit-frame-pointer"]
    ldflags += ["-fsanitize=" + san]

setup(
    ext_modules=[
        Extension(
            "rcache._rcache",
            sources=sources,
            include_dirs=[rel([INC])[0], rel([LIB])[0], "src"] + LZF_INC,
            define_macros=[("_GNU_SOURCE", None)],
            undef_macros=undef,
            libraries=["xxhash", "lzf", "pthread"],
            extra_compile_args=cflags,
            extra_link_args=ldflags,
            depends=rel(glob.glob(os.path.join(HERE, "src", "*.h")) +
                        glob.glob(os.path.join(LIB, "*.h")) +
                        [os.path.join(INC, "rcache.h")]),
        )
    ],
)
