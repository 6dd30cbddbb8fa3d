/*
 * fuzz_env.c - libFuzzer target for the configuration parsers: the
 * library's rcache_parse_size() and rcache_config_from_env() (src/lib/
 * config.c) and the server's redis.conf-style text, flag and environment
 * parsers (src/server/config.c).
 *
 * Why: these read operator-supplied text at start-up (environment, config
 * file, argv) and at run time (CONFIG SET); a crash or a silently wrong
 * value there takes the cache down or gives it limits nobody asked for.
 *
 * Input: byte 0 picks the mode, the rest is split at NUL bytes into
 * fields.
 *  mode 0: each field is a size: rcache_parse_size() must agree with a
 *          reference parser written here from the documented grammar.
 *  mode 1: the low 8 bits of byte 1 say which of the library's variables
 *          are set, to the fields in order (setenv), plus RCACHED_* ones;
 *          rcache_config_from_env() must give exactly what the reference
 *          parsers predict, leave the config untouched and name a variable
 *          on error; a valid result is opened (when it is small enough).
 *          The server's environment overlay runs on the same environment.
 *  mode 2: the data is a config file: rcache__config_parse_text().
 *  mode 3: the fields are argv: rcache__config_apply_args().
 * After modes 1-3 every server option must survive CONFIG GET -> CONFIG
 * SET -> CONFIG GET unchanged, and nothing may leak (ASan's leak check).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "rcache.h"

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond))                                                          \
            abort();                                                          \
    } while (0)

#define MAX_FIELDS 16

/* ---- references --------------------------------------------------------- */

/* Strict decimal; 0 on junk, empty or overflow. */
static int ref_u64(const char *s, uint64_t *out) {
    unsigned __int128 v = 0;
    if (!*s)
        return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return 0;
        v = v * 10 + (unsigned)(*s - '0');
        if (v > UINT64_MAX)
            return 0;
    }
    *out = (uint64_t)v;
    return 1;
}

/* Size grammar: digits, then one of the units (any case), powers of 1024.
 * Returns 1 valid, 0 invalid, 2 "valid number but more than 31 digits"
 * (the library refuses those outright; either answer is accepted). */
static int ref_size(const char *t, uint64_t *out) {
    static const char *units[] = {"",   "b",  "k",   "kb", "kib",
                                  "m",  "mb", "mib", "g",  "gb",
                                  "gib", "t", "tb",  "tib"};
    static const unsigned shift[] = {0, 0, 10, 10, 10, 20, 20, 20, 30, 30, 30,
                                     40, 40, 40};
    size_t n = 0;
    unsigned __int128 v = 0;
    while (t[n] >= '0' && t[n] <= '9') {
        v = v * 10 + (unsigned)(t[n] - '0');
        if (v > UINT64_MAX)
            v = (unsigned __int128)UINT64_MAX + 1; /* saturate: overflow */
        n++;
    }
    if (n == 0)
        return 0;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(t + n, units[i]) == 0) {
            if (v > UINT64_MAX || (v << shift[i]) > UINT64_MAX)
                return 0;
            *out = (uint64_t)(v << shift[i]);
            return n >= 32 ? 2 : 1;
        }
    }
    return 0;
}

static int ref_bool(const char *v, int *out) {
    static const char *yes[] = {"1", "true", "yes", "on"};
    static const char *no[] = {"0", "false", "no", "off", ""};
    for (size_t i = 0; i < 4; i++)
        if (strcasecmp(v, yes[i]) == 0)
            return *out = 1, 1;
    for (size_t i = 0; i < 5; i++)
        if (strcasecmp(v, no[i]) == 0)
            return *out = 0, 1;
    return 0;
}

/* ---- modes -------------------------------------------------------------- */

static size_t split(char *buf, size_t len, char **fields) {
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= len && n < MAX_FIELDS; i++) {
        if (i == len || buf[i] == '\0') {
            buf[i] = '\0';
            fields[n++] = buf + start;
            start = i + 1;
        }
    }
    return n;
}

static void mode_size(char **f, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint64_t got = 12345, want = 0;
        int rc = rcache_parse_size(f[i], &got);
        int ref = ref_size(f[i], &want);
        if (ref == 2)
            CHECK(rc == RCACHE_EINVAL || (rc == RCACHE_OK && got == want));
        else if (ref == 1)
            CHECK(rc == RCACHE_OK && got == want);
        else
            CHECK(rc == RCACHE_EINVAL && got == 12345);
    }
    CHECK(rcache_parse_size(NULL, NULL) == RCACHE_EINVAL);
}

static const char *const LIB_VARS[8] = {
    "CACHE_MAX_SIZE",   "CACHE_MAX_MEMORY_MB",   "CACHE_TTL_SECONDS",
    "RCACHE_MAX_ITEMS", "RCACHE_MAX_BYTES",      "RCACHE_DEFAULT_TTL_MS",
    "RCACHE_SHARDS",    "DISABLE_RESULT_CACHE"};
static const char *const SRV_VARS[4] = {"RCACHED_PORT", "RCACHED_MAXMEMORY",
                                        "RCACHED_LOGLEVEL",
                                        "RCACHE_ADMIN_TOKEN"};

/* What rcache_config_from_env() must produce from cfg and the values
 * (NULL = unset); 1 if valid, 0 if some value is invalid, -1 if valid but
 * RCACHE_MAX_BYTES has 32+ digits (either answer accepted). */
static int ref_env(rcache_config_t *cfg, const char *const v[8]) {
    uint64_t n, shards = cfg->shards;
    int ok = 1, big = 0, b;
    if (v[0]) {
        if (ref_u64(v[0], &n)) cfg->max_items = n; else ok = 0;
    }
    if (v[1]) {
        if (ref_u64(v[1], &n) && n <= UINT64_MAX / 1048576u)
            cfg->max_bytes = n * 1048576u;
        else
            ok = 0;
    }
    if (v[2]) {
        /* TTLs are int64_t ms: at most INT64_MAX after scaling */
        if (ref_u64(v[2], &n) && n <= (uint64_t)INT64_MAX / 1000u)
            cfg->default_ttl_ms = n * 1000u;
        else
            ok = 0;
    }
    if (v[3]) {
        if (ref_u64(v[3], &n)) cfg->max_items = n; else ok = 0;
    }
    if (v[4]) {
        int r = ref_size(v[4], &n);
        if (r == 1)
            cfg->max_bytes = n;
        else if (r == 2)
            big = 1;
        else
            ok = 0;
    }
    if (v[5]) {
        if (ref_u64(v[5], &n) && n <= (uint64_t)INT64_MAX) cfg->default_ttl_ms = n; else ok = 0;
    }
    if (v[6]) {
        if (ref_u64(v[6], &n) && n <= 1024) shards = n; else ok = 0;
    }
    if (v[7]) {
        if (ref_bool(v[7], &b)) cfg->disabled = b; else ok = 0;
    }
    cfg->shards = (uint32_t)shards;
    return ok && big ? -1 : ok;
}

/* Every option survives get -> set -> get, on a copy. */
static void check_roundtrip(const rcache__config_t *cfg) {
    rcache__config_t copy;
    char a[4096], b[4096], err[512];
    CHECK(rcache__config_copy(&copy, cfg) == 0);
    for (size_t i = 0; i < rcache__config_count(); i++) {
        const char *name = rcache__config_name(i);
        CHECK(name != NULL);
        CHECK(rcache__config_get(cfg, name, a, sizeof a) == 0);
        if (strlen(a) >= sizeof a - 1)
            continue; /* truncated by the buffer: not comparable */
        if (rcache__config_set(&copy, name, a, err, sizeof err) != 0) {
            fprintf(stderr, "option %s: value '%s' refused on re-set: %s\n",
                    name, a, err);
            abort();
        }
        CHECK(rcache__config_get(&copy, name, b, sizeof b) == 0);
        CHECK(strcmp(a, b) == 0);
    }
    CHECK(rcache__config_get(cfg, "no-such-option", a, sizeof a) == -1);
    rcache__config_free(&copy);
}

static void mode_env(const uint8_t *data, size_t size, char **f, size_t n) {
    const char *v[8] = {0};
    unsigned mask = size > 1 ? data[1] : 0;
    size_t k = 1; /* field 0 held the mask byte's remainder; skip it */
    for (int i = 0; i < 8; i++) {
        if ((mask >> i) & 1u) {
            v[i] = k < n ? f[k++] : "";
            setenv(LIB_VARS[i], v[i], 1);
        } else {
            unsetenv(LIB_VARS[i]);
        }
    }
    for (int i = 0; i < 4; i++) {
        if (k < n && f[k][0] == (char)('a' + i))
            setenv(SRV_VARS[i], f[k++] + 1, 1);
        else
            unsetenv(SRV_VARS[i]);
    }

    rcache_config_t cfg, before, want;
    char err[128];
    rcache_config_init(&cfg);
    cfg.max_items = 7;
    cfg.max_bytes = 77;
    cfg.default_ttl_ms = 777;
    cfg.shards = 3;
    before = want = cfg;
    int ok = ref_env(&want, v);
    err[0] = '\0';
    int rc = rcache_config_from_env(&cfg, err, sizeof err);
    if (ok == -1) { /* a 32+ digit size: either answer, but consistent */
        if (rc == RCACHE_OK)
            ok = 1, want.max_bytes = cfg.max_bytes;
        else
            ok = 0;
    }
    if (ok) {
        CHECK(rc == RCACHE_OK);
        CHECK(cfg.max_items == want.max_items);
        CHECK(cfg.max_bytes == want.max_bytes);
        CHECK(cfg.default_ttl_ms == want.default_ttl_ms);
        CHECK(cfg.shards == want.shards);
        CHECK(cfg.disabled == want.disabled);
        /* Open it when its tables are small (a bucket array of up to 64k
         * slots per shard is allocated up front). */
        uint64_t per = cfg.max_items ? cfg.max_items / (cfg.shards ? cfg.shards : 16) : 0;
        if (cfg.shards <= 16 && per <= 4096) {
            rcache_t *c = NULL;
            cfg.clock = NULL;
            CHECK(rcache_open(&cfg, &c) == RCACHE_OK);
            rcache_stats_t st;
            rcache_stats(c, &st);
            CHECK(st.max_items == cfg.max_items && st.max_bytes == cfg.max_bytes);
            CHECK(st.disabled == (cfg.disabled != 0));
            rcache_close(c);
        }
    } else {
        CHECK(rc == RCACHE_EINVAL);
        CHECK(memcmp(&cfg, &before, sizeof cfg) == 0);
        int named = 0;
        for (int i = 0; i < 8; i++)
            if (v[i] && strncmp(err, LIB_VARS[i], strlen(LIB_VARS[i])) == 0 &&
                err[strlen(LIB_VARS[i])] == '=')
                named = 1;
        CHECK(named);
    }

    rcache__config_t scfg;
    rcache__config_defaults(&scfg);
    char serr[512];
    serr[0] = '\0';
    if (rcache__config_apply_env(&scfg, serr, sizeof serr) != 0)
        CHECK(serr[0] != '\0');
    check_roundtrip(&scfg);
    rcache__config_free(&scfg);
}

static void mode_text(const uint8_t *data, size_t size) {
    rcache__config_t cfg;
    char err[512];
    rcache__config_defaults(&cfg);
    err[0] = '\0';
    if (rcache__config_parse_text(&cfg, (const char *)data, size, "fuzz", err,
                                  sizeof err) != 0)
        CHECK(err[0] != '\0' && memchr(err, '\0', sizeof err));
    check_roundtrip(&cfg);
    rcache__config_free(&cfg);
}

static void mode_args(char **f, size_t n) {
    char *argv[MAX_FIELDS + 2];
    rcache__config_t cfg;
    char err[512];
    argv[0] = "rcached";
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = f[i];
    argv[n + 1] = NULL;
    rcache__config_defaults(&cfg);
    err[0] = '\0';
    if (rcache__config_apply_args(&cfg, (int)n + 1, argv, err, sizeof err) != 0)
        CHECK(err[0] != '\0');
    check_roundtrip(&cfg);
    rcache__config_free(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *fields[MAX_FIELDS];
    if (size < 1 || size > 4096)
        return 0;
    unsigned mode = data[0] & 3u;
    if (mode == 2) {
        mode_text(data + 1, size - 1);
        return 0;
    }
    /* fields of the rest; mode 1 keeps byte 1 as the mask (in field 0) */
    char *buf = malloc(size);
    CHECK(buf != NULL);
    memcpy(buf, data + 1, size - 1);
    size_t n = split(buf, size - 1, fields);
    if (mode == 0)
        mode_size(fields, n);
    else if (mode == 1)
        mode_env(data, size, fields, n);
    else
        mode_args(fields, n);
    free(buf);
    return 0;
}
