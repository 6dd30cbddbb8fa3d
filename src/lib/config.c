/*
 * config.c - configuration defaults, size parsing and the environment.
 *
 * Two families of variable names are read: rcache's own (RCACHE_*) and the
 * names existing result-cache deployments already set (CACHE_MAX_SIZE,
 * CACHE_MAX_MEMORY_MB, CACHE_TTL_SECONDS, DISABLE_RESULT_CACHE). Parsing is
 * strict (no sign, no junk, no overflow) and all-or-nothing: the config is
 * changed only when every variable present is valid, and the error names
 * the variable and the value so an operator can fix it at once.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_MAX_ITEMS 1000u
#define DEFAULT_MAX_BYTES (512ull * 1024u * 1024u)
#define DEFAULT_TTL_MS (24ull * 3600u * 1000u)
#define MAX_SHARDS 1024u

void rcache_config_init(rcache_config_t *cfg) {
    if (!cfg)
        return;
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_items = DEFAULT_MAX_ITEMS;
    cfg->max_bytes = DEFAULT_MAX_BYTES;
    cfg->default_ttl_ms = DEFAULT_TTL_MS;
    cfg->shards = 0; /* chosen by rcache_open() from the CPU count */
}

/* Strict unsigned decimal: digits only, no overflow. */
static int parse_u64(const char *s, uint64_t *out) {
    uint64_t v = 0;
    if (!s || !*s)
        return RCACHE_EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return RCACHE_EINVAL;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10u)
            return RCACHE_EINVAL;
        v = v * 10u + d;
    }
    *out = v;
    return RCACHE_OK;
}

int rcache_parse_size(const char *text, uint64_t *out_bytes) {
    static const struct { const char *suffix; unsigned shift; } units[] = {
        {"", 0},    {"b", 0},    {"k", 10},  {"kb", 10}, {"kib", 10},
        {"m", 20},  {"mb", 20},  {"mib", 20}, {"g", 30}, {"gb", 30},
        {"gib", 30}, {"t", 40},  {"tb", 40}, {"tib", 40},
    };
    char digits[32];
    size_t n = 0;
    uint64_t v;

    if (!text || !out_bytes)
        return RCACHE_EINVAL;
    while (text[n] >= '0' && text[n] <= '9')
        n++;
    if (n == 0 || n >= sizeof(digits))
        return RCACHE_EINVAL;
    memcpy(digits, text, n);
    digits[n] = '\0';
    if (parse_u64(digits, &v) != RCACHE_OK)
        return RCACHE_EINVAL;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(text + n, units[i].suffix) == 0) {
            if (units[i].shift && v > (UINT64_MAX >> units[i].shift))
                return RCACHE_EINVAL;
            *out_bytes = v << units[i].shift;
            return RCACHE_OK;
        }
    }
    return RCACHE_EINVAL;
}

static int env_error(char *errbuf, size_t errlen, const char *name,
                     const char *value, const char *why) {
    if (errbuf && errlen)
        snprintf(errbuf, errlen, "%s=%s: %s", name, value, why);
    return RCACHE_EINVAL;
}

/* Read an unsigned integer variable, optionally scaled, at most max after
 * scaling; out is untouched when the variable is absent. */
static int env_u64(const char *name, uint64_t scale, uint64_t max, uint64_t *out,
                   char *errbuf, size_t errlen) {
    const char *v = getenv(name);
    uint64_t n;
    if (!v)
        return RCACHE_OK;
    if (parse_u64(v, &n) != RCACHE_OK)
        return env_error(errbuf, errlen, name, v,
                         "expected a non-negative integer");
    if ((scale && n > UINT64_MAX / scale) || n * (scale ? scale : 1u) > max)
        return env_error(errbuf, errlen, name, v, "value too large");
    *out = n * (scale ? scale : 1u);
    return RCACHE_OK;
}

static int env_bool(const char *name, int *out, char *errbuf, size_t errlen) {
    static const char *yes[] = {"1", "true", "yes", "on"};
    static const char *no[] = {"0", "false", "no", "off", ""};
    const char *v = getenv(name);
    if (!v)
        return RCACHE_OK;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (strcasecmp(v, yes[i]) == 0)
            return *out = 1, RCACHE_OK;
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (strcasecmp(v, no[i]) == 0)
            return *out = 0, RCACHE_OK;
    return env_error(errbuf, errlen, name, v,
                     "expected 1/true/yes/on or 0/false/no/off");
}

int rcache_config_from_env(rcache_config_t *cfg, char *errbuf, size_t errlen) {
    rcache_config_t t;
    uint64_t shards;
    const char *v;
    int rc;

    if (!cfg)
        return RCACHE_EINVAL;
    t = *cfg;
    shards = t.shards;
    if ((rc = env_u64("CACHE_MAX_SIZE", 1, UINT64_MAX, &t.max_items, errbuf, errlen)) ||
        (rc = env_u64("CACHE_MAX_MEMORY_MB", (uint64_t)1024u * 1024u,
                      UINT64_MAX, &t.max_bytes, errbuf, errlen)) ||
        (rc = env_u64("CACHE_TTL_SECONDS", 1000u, INT64_MAX, &t.default_ttl_ms, errbuf,
                      errlen)) ||
        (rc = env_u64("RCACHE_MAX_ITEMS", 1, UINT64_MAX, &t.max_items, errbuf, errlen)) ||
        (rc = env_u64("RCACHE_DEFAULT_TTL_MS", 1, INT64_MAX, &t.default_ttl_ms, errbuf,
                      errlen)) ||
        (rc = env_u64("RCACHE_SHARDS", 1, UINT64_MAX, &shards, errbuf, errlen)) ||
        (rc = env_bool("DISABLE_RESULT_CACHE", &t.disabled, errbuf, errlen)))
        return rc;
    if ((v = getenv("RCACHE_MAX_BYTES")) &&
        rcache_parse_size(v, &t.max_bytes) != RCACHE_OK)
        return env_error(errbuf, errlen, "RCACHE_MAX_BYTES", v,
                         "expected a size such as 1048576, 64kb, 512mb or 1g");
    if ((v = getenv("RCACHE_POLICY")) &&
        rcache_policy_parse(v, &t.policy) != RCACHE_OK)
        return env_error(errbuf, errlen, "RCACHE_POLICY", v,
                         "expected lru, s3fifo, sieve, wtinylfu or "
                         "wtinylfu-fixed");
    if (shards > MAX_SHARDS)
        return env_error(errbuf, errlen, "RCACHE_SHARDS", getenv("RCACHE_SHARDS"),
                         "at most 1024 shards");
    t.shards = (uint32_t)shards;
    *cfg = t;
    return RCACHE_OK;
}
