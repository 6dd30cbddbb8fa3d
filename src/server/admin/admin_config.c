/*
 * admin_config.c - turns the JSON body of POST /api/cache/config into a
 * validated config change. Kept pure (no cache, no HTTP) so the HTTP layer
 * only applies what this accepted, and so a fuzzer can hammer it directly.
 *
 * Order of checks: malformed JSON or a non-object top level (400), then
 * every field for being known and of the right type (400 naming the first
 * bad field), then every value for range (422 naming the first bad field).
 */
#include "admin_config.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum kind { K_ITEMS, K_MB, K_TTL, K_BOOL };

static const struct field {
    const char *name;
    enum kind kind;
} FIELDS[] = {
    {"max_size", K_ITEMS},
    {"max_memory_mb", K_MB},
    {"default_ttl_seconds", K_TTL},
    {"cache_enabled", K_BOOL},
};
#define NFIELDS (sizeof FIELDS / sizeof FIELDS[0])

static int fail(rcache__admin_config_error_t *err, int status,
                const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(rcache__admin_config_error_t *err, int status,
                const char *field, const char *fmt, ...) {
    va_list ap;
    err->status = status;
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return status;
}

static const struct field *lookup(const char *name, size_t len) {
    for (size_t i = 0; i < NFIELDS; i++)
        if (strlen(FIELDS[i].name) == len && memcmp(FIELDS[i].name, name, len) == 0)
            return &FIELDS[i];
    return NULL;
}

/* Field name for a message: printable ASCII only, shortened. */
static void safe_name(const char *name, size_t len, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < cap; i++) {
        unsigned char ch = (unsigned char)name[i];
        out[o++] = (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') ? (char)ch : '?';
    }
    out[o] = '\0';
}

static int type_ok(enum kind k, const json_t *v) {
    switch (k) {
    case K_ITEMS: return json_is_integer(v) || json_is_null(v);
    case K_MB:
    case K_TTL: return json_is_number(v) || json_is_null(v);
    case K_BOOL: return json_is_boolean(v);
    }
    return 0;
}

static const char *type_want(enum kind k) {
    switch (k) {
    case K_ITEMS: return "an integer >= 0 or null";
    case K_MB: return "a number of MiB >= 0 or null";
    case K_TTL: return "a number of seconds >= 0 or null";
    case K_BOOL: return "true or false";
    }
    return "?";
}

/* Range check and conversion of one well-typed value. */
static int apply(const struct field *f, const json_t *v,
                 rcache__admin_config_change_t *out,
                 rcache__admin_config_error_t *err) {
    double d;
    switch (f->kind) {
    case K_ITEMS:
        if (json_is_null(v)) {
            out->max_items = 0;
        } else {
            json_int_t n = json_integer_value(v);
            if (n < 0)
                return fail(err, 422, f->name, "%s must be >= 0 (0 = unbounded)", f->name);
            out->max_items = (uint64_t)n;
        }
        out->set |= RCACHE__CFG_MAX_ITEMS;
        return 0;
    case K_MB:
        d = json_is_null(v) ? 0.0 : json_number_value(v);
        if (!(d >= 0.0) || d > (double)RCACHE__CFG_MAX_MEMORY_MB)
            return fail(err, 422, f->name, "%s must be between 0 (unbounded) and %llu",
                        f->name, (unsigned long long)RCACHE__CFG_MAX_MEMORY_MB);
        out->max_bytes = (uint64_t)(d * 1048576.0);
        if (d > 0.0 && out->max_bytes == 0)
            return fail(err, 422, f->name, "%s is below one byte", f->name);
        out->set |= RCACHE__CFG_MAX_BYTES;
        return 0;
    case K_TTL:
        d = json_is_null(v) ? 0.0 : json_number_value(v);
        if (!(d >= 0.0) || d > RCACHE__CFG_MAX_TTL_SECONDS)
            return fail(err, 422, f->name, "%s must be between 0 (no expiry) and %.0f",
                        f->name, RCACHE__CFG_MAX_TTL_SECONDS);
        out->default_ttl_ms = (uint64_t)llround(d * 1000.0);
        if (d > 0.0 && out->default_ttl_ms == 0)
            return fail(err, 422, f->name, "%s is below one millisecond", f->name);
        out->set |= RCACHE__CFG_DEFAULT_TTL;
        return 0;
    case K_BOOL:
        out->enabled = json_is_true(v) ? 1 : 0;
        out->set |= RCACHE__CFG_ENABLED;
        return 0;
    }
    return fail(err, 400, f->name, "internal error");
}

int rcache__admin_config_parse(const char *text, size_t len,
                               rcache__admin_config_change_t *out,
                               rcache__admin_config_error_t *err) {
    json_error_t jerr;
    json_t *root, *v;
    const char *name;
    size_t name_len;
    void *it;
    int rc = 0;

    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    err->line = err->column = -1;
    err->position = -1;

    root = json_loadb(text ? text : "", text ? len : 0,
                      JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!root) {
        err->line = jerr.line;
        err->column = jerr.column;
        err->position = (long)jerr.position;
        return fail(err, 400, NULL, "malformed JSON: %s (line %d, column %d, position %d)",
                    jerr.text, jerr.line, jerr.column, jerr.position);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return fail(err, 400, NULL, "the body must be a JSON object");
    }
    /* Pass 1: known fields, right types. */
    for (it = json_object_iter(root); it; it = json_object_iter_next(root, it)) {
        const struct field *f;
        char shown[48];
        name = json_object_iter_key(it);
        name_len = json_object_iter_key_len(it);
        v = json_object_iter_value(it);
        f = lookup(name, name_len);
        safe_name(name, name_len, shown, sizeof shown);
        if (!f) {
            rc = fail(err, 400, shown, "unknown field \"%s\" (known: max_size, "
                      "max_memory_mb, default_ttl_seconds, cache_enabled)", shown);
            goto out;
        }
        if (!type_ok(f->kind, v)) {
            rc = fail(err, 400, f->name, "field \"%s\" must be %s", f->name, type_want(f->kind));
            goto out;
        }
    }
    /* Pass 2: ranges. */
    for (it = json_object_iter(root); it; it = json_object_iter_next(root, it)) {
        name = json_object_iter_key(it);
        name_len = json_object_iter_key_len(it);
        rc = apply(lookup(name, name_len), json_object_iter_value(it), out, err);
        if (rc)
            goto out;
    }
out:
    if (rc)
        memset(out, 0, sizeof *out);
    json_decref(root);
    return rc;
}
