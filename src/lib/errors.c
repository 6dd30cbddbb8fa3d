/*
 * errors.c - text for the RCACHE_E* return codes.
 *
 * Codes are small negative integers so a switch is all that is needed; the
 * strings are static so callers never free them.
 */
#include "rcache.h"

const char *rcache_strerror(int err) {
    switch (err) {
    case RCACHE_OK: return "success";
    case RCACHE_ENOTFOUND: return "key not found";
    case RCACHE_EEXIST: return "key already exists";
    case RCACHE_EINVAL: return "invalid argument";
    case RCACHE_ENOMEM: return "out of memory";
    case RCACHE_ETOOBIG: return "entry larger than the cache's byte limit (or key too long)";
    case RCACHE_EWRONGTYPE: return "operation against an entry of the wrong kind (bytes vs object)";
    case RCACHE_ERANGE: return "buffer too small for the value";
    case RCACHE_EPATTERN: return "malformed glob pattern";
    case RCACHE_ETIMEDOUT: return "timed out waiting for an in-flight computation";
    case RCACHE_EDEADLK: return "compute callback requested its own key";
    case RCACHE_EAGAIN: return "result not ready; completion will be delivered";
    case RCACHE_EIO: return "snapshot read, write, fsync or rename failed";
    case RCACHE_ECORRUPT: return "snapshot is not a valid RDB file";
    case RCACHE_ECANCELED: return "snapshot stopped by its progress callback";
    default:
        return err <= RCACHE_EUSER ? "error returned by a compute callback"
                                   : "unknown error";
    }
}
