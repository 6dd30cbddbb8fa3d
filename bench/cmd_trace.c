/*
 * cmd_trace.c - `rcache-bench trace FILE`: options, the unique-key pass,
 * one replay or a sweep of replays (replay.c), and the report as text,
 * markdown table or JSON, with an optional gnuplot curve (plot.c).
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "plot.h"
#include "rcache.h"
#include "replay.h"

#define MAX_SWEEP 64

typedef struct cap_spec {
    int is_pct;
    double pct;
    uint64_t items;
    char text[32];
} cap_spec_t;

static void trace_usage(FILE *f)
{
    fputs("usage: rcache-bench trace FILE [options]\n"
          "Replays FILE through librcache (1 shard, exact LRU): every request is a\n"
          "lookup, every miss inserts the key.\n"
          "  --capacity N|P%       item capacity: a count, or P% of the unique keys\n"
          "                        (max(1, floor(unique*P/100)); default 10%)\n"
          "  --capacity-bytes SIZE byte capacity (\"64mb\"); values are as long as the\n"
          "                        trace's object sizes; no item limit\n"
          "  --sweep LIST          several item capacities, e.g. 0.1%,1%,5%,10%,25%:\n"
          "                        prints the miss-ratio curve\n"
          "  --plot OUT.png        with --sweep: draw the curve with gnuplot\n"
          "  --format TAG          oracleGeneral, lcs-csv, plain-txt, lirs-txt, be-int32,\n"
          "                        be-int64, adaptsize-txt, tencent-photo-txt (default:\n"
          "                        from the file name)\n"
          "  --compression KIND    gzip, xz, bzip2, zstd, none (default: from the name)\n"
          "  --json                machine-readable output\n"
          "  --no-progress         no progress bar (it is drawn only on a terminal)\n", f);
}

static int parse_cap(const char *s, cap_spec_t *c)
{
    char *end;
    memset(c, 0, sizeof *c);
    snprintf(c->text, sizeof c->text, "%s", s);
    size_t n = strlen(s);
    if (n == 0)
        return -1;
    if (s[n - 1] == '%') {
        c->is_pct = 1;
        c->pct = strtod(s, &end);
        return (end == s + n - 1 && c->pct > 0 && isfinite(c->pct)) ? 0 : -1;
    }
    if (s[0] < '0' || s[0] > '9')
        return -1;
    c->items = strtoull(s, &end, 10);
    return (*end == '\0' && c->items > 0) ? 0 : -1;
}

static int parse_zkind(const char *s, rcache__zkind_t *k)
{
    static const struct { const char *n; rcache__zkind_t k; } t[] = {
        {"gzip", RCACHE__Z_GZIP}, {"gz", RCACHE__Z_GZIP}, {"xz", RCACHE__Z_XZ},
        {"bzip2", RCACHE__Z_BZIP2}, {"bz2", RCACHE__Z_BZIP2}, {"zstd", RCACHE__Z_ZSTD},
        {"zst", RCACHE__Z_ZSTD}, {"none", RCACHE__Z_NONE}, {"auto", RCACHE__Z_DETECT}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(s, t[i].n) == 0) {
            *k = t[i].k;
            return 0;
        }
    return -1;
}

static void print_result_json(FILE *f, const rcache__replay_result_t *r,
                              uint64_t items, uint64_t bytes, const char *spec)
{
    fprintf(f, "{\"capacity\": ");
    rcache__json_str(f, spec);
    fprintf(f, ", \"capacity_items\": %llu, \"capacity_bytes\": %llu, "
               "\"requests\": %llu, \"hits\": %llu, \"misses\": %llu, "
               "\"hit_ratio\": %.6f, \"miss_ratio\": %.6f, \"evictions\": %llu, "
               "\"not_stored_too_big\": %llu, \"seconds\": %.6f, "
               "\"requests_per_second\": %.0f}",
            (unsigned long long)items, (unsigned long long)bytes,
            (unsigned long long)r->requests, (unsigned long long)r->hits,
            (unsigned long long)r->misses, r->hit_ratio, 1 - r->hit_ratio,
            (unsigned long long)r->evictions, (unsigned long long)r->too_big,
            r->seconds, r->seconds > 0 ? (double)r->requests / r->seconds : 0);
}

int rcache__cmd_trace(int argc, char **argv)
{
    static const struct option opts[] = {
        {"capacity", required_argument, 0, 'c'},
        {"capacity-bytes", required_argument, 0, 'b'},
        {"sweep", required_argument, 0, 's'},
        {"plot", required_argument, 0, 'p'},
        {"format", required_argument, 0, 'f'},
        {"compression", required_argument, 0, 'z'},
        {"json", no_argument, 0, 'j'},
        {"no-progress", no_argument, 0, 'n'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    cap_spec_t cap, sweep[MAX_SWEEP];
    size_t nsweep = 0;
    int have_cap = 0, json = 0, progress = 1;
    uint64_t cap_bytes = 0;
    const char *plot = NULL;
    rcache__replay_opts_t ro = {0};
    parse_cap("10%", &cap);
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            if (parse_cap(optarg, &cap) != 0) {
                fprintf(stderr, "rcache-bench: bad --capacity '%s' (a count or P%%)\n", optarg);
                return 2;
            }
            have_cap = 1;
            break;
        case 'b':
            if (rcache_parse_size(optarg, &cap_bytes) != RCACHE_OK || cap_bytes == 0) {
                fprintf(stderr, "rcache-bench: bad --capacity-bytes '%s'\n", optarg);
                return 2;
            }
            break;
        case 's': {
            char *list = strdup(optarg), *save = NULL;
            for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                if (nsweep == MAX_SWEEP || parse_cap(tok, &sweep[nsweep]) != 0) {
                    fprintf(stderr, "rcache-bench: bad --sweep entry '%s'\n", tok);
                    free(list);
                    return 2;
                }
                nsweep++;
            }
            free(list);
            if (nsweep == 0) {
                fprintf(stderr, "rcache-bench: empty --sweep\n");
                return 2;
            }
            break;
        }
        case 'p': plot = optarg; break;
        case 'f':
            ro.fmt = rcache__trace_format_parse(optarg);
            if (ro.fmt == RCACHE__TF_AUTO && strcmp(optarg, "auto") != 0) {
                fprintf(stderr, "rcache-bench: unknown --format '%s'\n", optarg);
                return 2;
            }
            break;
        case 'z':
            if (parse_zkind(optarg, &ro.zkind) != 0) {
                fprintf(stderr, "rcache-bench: unknown --compression '%s'\n", optarg);
                return 2;
            }
            break;
        case 'j': json = 1; break;
        case 'n': progress = 0; break;
        case 'h': trace_usage(stdout); return 0;
        default: trace_usage(stderr); return 2;
        }
    }
    if (optind + 1 != argc) {
        trace_usage(stderr);
        return 2;
    }
    const char *path = argv[optind];
    if (plot && nsweep == 0) {
        fprintf(stderr, "rcache-bench: --plot needs --sweep\n");
        return 2;
    }
    if (nsweep && (have_cap || cap_bytes)) {
        fprintf(stderr, "rcache-bench: --sweep replaces --capacity/--capacity-bytes\n");
        return 2;
    }
    if (have_cap && cap_bytes) {
        fprintf(stderr, "rcache-bench: give --capacity or --capacity-bytes, not both\n");
        return 2;
    }

    /* Pass 1: requests and unique keys (percentages need them). */
    char err[1024];
    rcache__trace_counts_t tc;
    if (rcache__trace_count(path, ro.fmt, ro.zkind, &tc, err, sizeof err) != 0) {
        fprintf(stderr, "rcache-bench: %s\n", err);
        return 1;
    }
    ro.expect_requests = tc.requests;
    ro.progress = progress;
    if (cap_bytes && !tc.has_size)
        fprintf(stderr, "rcache-bench: note: %s has no object sizes; values are empty and "
                        "only the per-entry overhead counts against --capacity-bytes\n", path);

    if (nsweep == 0) {
        sweep[0] = cap;
        nsweep = 1;
    }
    rcache__replay_result_t res[MAX_SWEEP];
    uint64_t items[MAX_SWEEP];
    for (size_t i = 0; i < nsweep; i++) {
        items[i] = cap_bytes ? 0
                   : sweep[i].is_pct ? rcache__capacity_pct(tc.unique, sweep[i].pct)
                                     : sweep[i].items;
        char label[64];
        snprintf(label, sizeof label, "replay %s", cap_bytes ? "bytes" : sweep[i].text);
        ro.label = label;
        ro.max_items = items[i];
        ro.max_bytes = cap_bytes;
        if (rcache__replay(path, &ro, &res[i], err, sizeof err) != 0) {
            fprintf(stderr, "rcache-bench: %s\n", err);
            return 1;
        }
    }

    const char *fmtname = rcache__trace_format_name(tc.format);
    int is_sweep = plot || nsweep > 1;
    if (json) {
        printf("{\"trace\": ");
        rcache__json_str(stdout, path);
        printf(", \"format\": \"%s\", \"requests\": %llu, \"unique_keys\": %llu, "
               "\"unique_bytes\": %llu, \"shards\": 1, \"policy\": \"LRU\", ",
               fmtname, (unsigned long long)tc.requests, (unsigned long long)tc.unique,
               (unsigned long long)tc.unique_bytes);
        if (is_sweep) {
            printf("\"sweep\": [");
            for (size_t i = 0; i < nsweep; i++) {
                if (i)
                    printf(", ");
                print_result_json(stdout, &res[i], items[i], 0, sweep[i].text);
            }
            printf("]}\n");
        } else {
            printf("\"result\": ");
            print_result_json(stdout, &res[0], items[0], cap_bytes,
                              cap_bytes ? "bytes" : sweep[0].text);
            printf("}\n");
        }
    } else if (is_sweep) {
        printf("trace: %s (%s), %llu requests, %llu unique keys; LRU, 1 shard\n\n", path,
               fmtname, (unsigned long long)tc.requests, (unsigned long long)tc.unique);
        printf("| capacity | items | hits | hit ratio | miss ratio | evictions | Mreq/s |\n"
               "|---:|---:|---:|---:|---:|---:|---:|\n");
        for (size_t i = 0; i < nsweep; i++)
            printf("| %s | %llu | %llu | %.4f | %.4f | %llu | %.2f |\n", sweep[i].text,
                   (unsigned long long)items[i], (unsigned long long)res[i].hits,
                   res[i].hit_ratio, 1 - res[i].hit_ratio,
                   (unsigned long long)res[i].evictions,
                   res[i].seconds > 0 ? (double)res[i].requests / res[i].seconds / 1e6 : 0);
    } else {
        const rcache__replay_result_t *r = &res[0];
        printf("trace        %s (%s)\n", path, fmtname);
        printf("requests     %llu\n", (unsigned long long)r->requests);
        printf("unique keys  %llu\n", (unsigned long long)tc.unique);
        if (cap_bytes)
            printf("capacity     %llu bytes (entry footprint as librcache charges it)\n",
                   (unsigned long long)cap_bytes);
        else
            printf("capacity     %llu items (%s)\n", (unsigned long long)items[0], sweep[0].text);
        printf("hits         %llu\n", (unsigned long long)r->hits);
        printf("misses       %llu\n", (unsigned long long)r->misses);
        printf("hit ratio    %.4f\n", r->hit_ratio);
        printf("evictions    %llu\n", (unsigned long long)r->evictions);
        if (r->too_big)
            printf("not stored   %llu (object larger than the capacity)\n",
                   (unsigned long long)r->too_big);
        printf("replay       %.3f s, %.2f M requests/s (decoding included)\n", r->seconds,
               r->seconds > 0 ? (double)r->requests / r->seconds / 1e6 : 0);
    }

    if (plot) {
        rcache__plot_point_t pts[MAX_SWEEP];
        int all_pct = 1;
        for (size_t i = 0; i < nsweep; i++)
            all_pct &= sweep[i].is_pct;
        double lo = 1e300, hi = 0;
        for (size_t i = 0; i < nsweep; i++) {
            pts[i].x = all_pct ? sweep[i].pct : (double)items[i];
            pts[i].miss_ratio = 1 - res[i].hit_ratio;
            lo = pts[i].x < lo ? pts[i].x : lo;
            hi = pts[i].x > hi ? pts[i].x : hi;
        }
        const char *base = strrchr(path, '/');
        char title[512];
        snprintf(title, sizeof title, "Miss-ratio curve: %s (%s, %llu requests, %llu keys)",
                 base ? base + 1 : path, fmtname, (unsigned long long)tc.requests,
                 (unsigned long long)tc.unique);
        if (rcache__plot_curve(plot, title,
                               all_pct ? "cache size (% of unique keys)" : "cache size (items)",
                               hi >= 20 * lo, pts, nsweep, err, sizeof err) != 0) {
            fprintf(stderr, "rcache-bench: %s\n", err);
            return 1;
        }
        if (!json)
            printf("\nplot: %s\n", plot);
    }
    return 0;
}
