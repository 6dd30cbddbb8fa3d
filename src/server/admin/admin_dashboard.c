/*
 * admin_dashboard.c - serves the dashboard page (GET /dashboard) and its
 * assets (GET /dashboard/<name>) from arrays compiled into the binary
 * (dashboard_assets.c, generated at build time from dashboard/src and the
 * uPlot files npm installed), so the page needs no network access.
 *
 * The page itself is public: it holds no data and asks the operator for the
 * admin token, which it keeps in sessionStorage and sends as a bearer header
 * on every API call. Every asset is sent with a strict Content-Security-
 * Policy (same-origin scripts, styles and fetches only, no inline script, no
 * framing), X-Content-Type-Options: nosniff and no-store caching.
 */
#include "admin_diag.h"
#include "admin_internal.h"

#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#define CSP                                                                              \
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "      \
    "img-src 'self' data:; font-src 'self'; base-uri 'none'; form-action 'none'; "       \
    "frame-ancestors 'none'"

static void security_headers(struct evhttp_request *req, const char *ctype) {
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_remove_header(h, "Content-Type");
    evhttp_add_header(h, "Content-Type", ctype);
    evhttp_add_header(h, "Content-Security-Policy", CSP);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "X-Frame-Options", "DENY");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    evhttp_add_header(h, "Cache-Control", "no-store");
}

void rcache__admin_h_dashboard(rcache__admin_t *a, struct evhttp_request *req, const char *rest,
                               const char *query) {
    (void)a;
    (void)query;
    const rcache__asset_t *f = NULL;
    for (size_t i = 0; i < rcache__dashboard_nassets && !f; i++)
        if (strcmp(rcache__dashboard_assets[i].name, rest) == 0)
            f = &rcache__dashboard_assets[i];
    if (!f) {
        rcache__admin_reply_error(req, 404, NULL, "no such dashboard file");
        return;
    }
    struct evbuffer *buf = evbuffer_new();
    if (!buf) {
        rcache__admin_reply_error(req, 500, NULL, "out of memory");
        return;
    }
    security_headers(req, f->ctype);
    evbuffer_add_reference(buf, f->data, f->len, NULL, NULL);
    evhttp_send_reply(req, 200, "OK", buf);
    evbuffer_free(buf);
}
