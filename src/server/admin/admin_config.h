/*
 * admin_config.h - validation of the body of POST /api/cache/config
 * (admin_config.c). Pure: JSON text in, a config change or an error out;
 * no cache, no I/O, so it can be fuzzed on its own
 * (tests/fuzz/fuzz_admin_config.c).
 */
#ifndef RCACHE_ADMIN_CONFIG_H
#define RCACHE_ADMIN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

/* Bits of rcache__admin_config_change_t.set */
#define RCACHE__CFG_MAX_ITEMS   0x1u
#define RCACHE__CFG_MAX_BYTES   0x2u
#define RCACHE__CFG_DEFAULT_TTL 0x4u
#define RCACHE__CFG_ENABLED     0x8u

/* Largest values accepted (above: 422). */
#define RCACHE__CFG_MAX_MEMORY_MB   (1ull << 40)     /* 1 EiB in MiB */
#define RCACHE__CFG_MAX_TTL_SECONDS 3153600000.0     /* 100 years */

/* What a valid body asks for; only the fields whose bit is in `set`. */
typedef struct rcache__admin_config_change {
    unsigned set;            /* RCACHE__CFG_* bits */
    uint64_t max_items;      /* 0 = unbounded */
    uint64_t max_bytes;      /* 0 = unbounded */
    uint64_t default_ttl_ms; /* 0 = no expiry */
    int enabled;             /* 1 enabled, 0 disabled */
} rcache__admin_config_change_t;

/* Why a body was refused. */
typedef struct rcache__admin_config_error {
    int status;         /* 400 (malformed, unknown or ill-typed) or 422 */
    char field[64];     /* offending field, "" when none (malformed JSON) */
    char message[256];  /* human-readable reason */
    int line, column;   /* malformed JSON: jansson's position, else -1 */
    long position;      /* byte offset of the error, else -1 */
} rcache__admin_config_error_t;

/*
 * Parse and validate a config body (need not be NUL-terminated). Fields:
 * "max_size" (integer >= 0 or null, items), "max_memory_mb" (number >= 0 or
 * null, MiB), "default_ttl_seconds" (number >= 0 or null), "cache_enabled"
 * (boolean); 0 and null mean unbounded / no expiry. Every field is optional.
 * Type errors (400) are reported before range errors (422).
 * Returns 0 and fills *out, or the HTTP status (400/422) and fills *err.
 */
int rcache__admin_config_parse(const char *text, size_t len,
                               rcache__admin_config_change_t *out,
                               rcache__admin_config_error_t *err);

#endif /* RCACHE_ADMIN_CONFIG_H */
