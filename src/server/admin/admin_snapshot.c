/*
 * admin_snapshot.c - GET /api/cache/snapshot (the last save's and the
 * start-up load's status, sizes, durations and keys) and POST
 * /api/cache/snapshot (start a background save, as BGSAVE SCHEDULE).
 * The figures and the save come from the server through its hooks
 * (admin.h); without them the endpoint answers 404.
 */
#include "admin_internal.h"

#include <event2/http.h>

static json_t *ju64(uint64_t v) { return json_integer((json_int_t)v); }

static json_t *figures_json(const rcache__snapshot_figures_t *f) {
    const char *load = f->last_load_status < 0 ? "none" : f->last_load_status ? "ok" : "err";
    return json_pack(
        "{s:b, s:b, s:o, s:{s:s, s:o, s:f, s:o, s:o, s:o, s:o}, s:{s:s, s:f, s:o, s:o, s:o, s:o}, s:s}",
        "enabled", f->enabled, "in_progress", f->in_progress, "changes_since_save",
        ju64(f->changes_since_save), "last_save", "status", f->last_save_ok ? "ok" : "err",
        "time", ju64(f->last_save_time_s), "seconds", f->last_save_seconds, "keys",
        ju64(f->last_save_keys), "bytes", ju64(f->last_save_bytes), "saves", ju64(f->saves),
        "failures", ju64(f->save_failures), "last_load", "status", load, "seconds",
        f->last_load_seconds, "keys", ju64(f->last_load_keys), "expired",
        ju64(f->last_load_expired), "skipped", ju64(f->last_load_skipped), "bytes",
        ju64(f->last_load_bytes), "last_error", f->last_error);
}

void rcache__admin_h_snapshot(rcache__admin_t *a, struct evhttp_request *req,
                              const char *rest, const char *query) {
    rcache__snapshot_figures_t f;
    char err[512];
    (void)rest;
    (void)query;
    if (!a->hooks.snapshot || a->hooks.snapshot(a->hooks.ctx, &f) != 0) {
        rcache__admin_reply_error(req, 404, NULL, "this server has no snapshots");
        return;
    }
    if (evhttp_request_get_command(req) == EVHTTP_REQ_GET) {
        rcache__admin_reply_json(req, 200, figures_json(&f));
        return;
    }
    if (!f.enabled || !a->hooks.snapshot_start) {
        rcache__admin_reply_error(req, 409, NULL,
                                  "snapshots are off: start rcached with --dir");
        return;
    }
    if (a->hooks.snapshot_start(a->hooks.ctx, err, sizeof err) != 0) {
        rcache__admin_reply_error(req, 500, NULL, "%s", err);
        return;
    }
    rcache__admin_reply_json(req, 202, json_pack("{s:s, s:s}", "status", "accepted", "message",
                                                 "background save started or scheduled"));
}
