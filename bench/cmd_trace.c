/*
 * cmd_trace.c - `rcache-bench trace FILE`: options, the unique-key pass,
 * one replay or a sweep of replays (replay.c), and the report as text,
 * markdown table or JSON, with an optional gnuplot curve (plot.c); with
 * --cost, the compute time each policy made the application recompute
 * (costmodel.c), against the best cost-blind policy's.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "belady.h"
#include "bench.h"
#include "plot.h"
#include "rcache.h"
#include "replay.h"

#define MAX_SWEEP 64
/* Belady's OPT (belady.c): a bench-only "policy", the offline bound. */
#define POL_OPT RCACHE_POLICY_COUNT
#define NPOL (RCACHE_POLICY_COUNT + 1)

static const char *pol_name(int p) { return p == POL_OPT ? "opt" : rcache_policy_name(p); }

/* Ranked against gdsf on compute time: the cost-blind librcache policies. */
static int cost_blind(int p) { return p != RCACHE_POLICY_GDSF && p != POL_OPT; }

/* "lru,s3fifo,opt", "all" (every librcache policy) or "all,opt" into
 * pols[]; the count, or -1. */
static int parse_policies(const char *s, int *pols)
{
    char *list = strdup(s), *save = NULL;
    int n = 0, ok = list != NULL;
    for (char *tok = ok ? strtok_r(list, ",", &save) : NULL; tok && ok;
         tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "all") == 0) {
            for (int i = 0; i < RCACHE_POLICY_COUNT; i++) {
                int have = 0;
                for (int k = 0; k < n; k++)
                    have |= pols[k] == i;
                if (!have && n < NPOL)
                    pols[n++] = i;
            }
        } else if (n == NPOL) {
            ok = 0;
        } else if (strcmp(tok, "opt") == 0) {
            pols[n++] = POL_OPT;
        } else {
            ok = rcache_policy_parse(tok, &pols[n++]) == RCACHE_OK;
        }
    }
    free(list);
    return ok && n ? n : -1;
}

typedef struct cap_spec {
    int is_pct;
    double pct;
    uint64_t items;
    char text[32];
} cap_spec_t;

static void trace_usage(FILE *f)
{
    fputs("usage: rcache-bench trace FILE [options]\n"
          "Replays FILE through librcache (1 shard): every request is a lookup, every\n"
          "miss inserts the key.\n"
          "  --policy LIST         eviction policies, comma-separated, or \"all\": lru\n"
          "                        (default), s3fifo, sieve, wtinylfu, wtinylfu-fixed,\n"
          "                        gdsf; opt: Belady's offline optimum, the fewest misses\n"
          "                        any policy can have (item capacities only; \"all\" is\n"
          "                        every policy but opt: \"all,opt\" adds it). Several: a\n"
          "                        table with one miss-ratio column per policy (and its\n"
          "                        ratio to lru's when lru is among them)\n"
          "  --cost MODEL          per-key compute cost, seeded: lognormal[:MU,SIGMA]\n"
          "                        (exp(N(MU,SIGMA)) ms, default 1,2) or size[:B]\n"
          "                        (object size / B ms, default 1024; traces with\n"
          "                        sizes). Each store passes the key's cost as\n"
          "                        compute_ms; prints the compute time recomputed (sum\n"
          "                        of the costs of the misses) per policy, and gdsf's\n"
          "                        ratio to the best cost-blind policy's\n"
          "  --seed N              seed of the cost model (default 1)\n"
          "  --capacity N|P%       item capacity: a count, or P% of the unique keys\n"
          "                        (max(1, floor(unique*P/100)); default 10%)\n"
          "  --capacity-bytes SIZE byte capacity (\"64mb\"); values are as long as the\n"
          "                        trace's object sizes; no item limit\n"
          "  --sweep LIST          several item capacities, e.g. 0.1%,1%,5%,10%,25%:\n"
          "                        prints the miss-ratio curve\n"
          "  --plot OUT.png        with --sweep: draw the curves (one per policy) with\n"
          "                        gnuplot\n"
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
                              uint64_t items, uint64_t bytes, const char *spec,
                              int with_cost)
{
    fprintf(f, "{\"capacity\": ");
    rcache__json_str(f, spec);
    fprintf(f, ", \"capacity_items\": %llu, \"capacity_bytes\": %llu, "
               "\"requests\": %llu, \"hits\": %llu, \"misses\": %llu, "
               "\"hit_ratio\": %.6f, \"miss_ratio\": %.6f, \"evictions\": %llu, "
               "\"not_stored_too_big\": %llu, \"seconds\": %.6f, "
               "\"requests_per_second\": %.0f",
            (unsigned long long)items, (unsigned long long)bytes,
            (unsigned long long)r->requests, (unsigned long long)r->hits,
            (unsigned long long)r->misses, r->hit_ratio, 1 - r->hit_ratio,
            (unsigned long long)r->evictions, (unsigned long long)r->too_big,
            r->seconds, r->seconds > 0 ? (double)r->requests / r->seconds : 0);
    if (with_cost)
        fprintf(f, ", \"compute_ms_recomputed\": %llu, \"compute_ms_total\": %llu",
                (unsigned long long)r->cost_ms_missed, (unsigned long long)r->cost_ms_total);
    fputc('}', f);
}

/* Everything one run measured: npol policies x ncap capacities. */
typedef struct runs {
    const char *path, *fmtname;
    const rcache__trace_counts_t *tc;
    const cap_spec_t *caps;
    size_t ncap;
    const int *pols;
    int npol;
    uint64_t items[MAX_SWEEP];
    uint64_t cap_bytes;
    const rcache__cost_model_t *cost; /* NULL without --cost */
    rcache__replay_result_t res[NPOL][MAX_SWEEP];
} runs_t;

static void print_json(const runs_t *r, int is_sweep)
{
    const rcache__trace_counts_t *tc = r->tc;
    printf("{\"trace\": ");
    rcache__json_str(stdout, r->path);
    printf(", \"format\": \"%s\", \"requests\": %llu, \"unique_keys\": %llu, "
           "\"unique_bytes\": %llu, \"shards\": 1, ",
           r->fmtname, (unsigned long long)tc->requests, (unsigned long long)tc->unique,
           (unsigned long long)tc->unique_bytes);
    if (r->npol > 1)
        printf("\"policies\": [");
    for (int k = 0; k < r->npol; k++) {
        printf("%s\"policy\": \"%s\", ", r->npol > 1 ? (k ? ", {" : "{") : "",
               pol_name(r->pols[k]));
        if (is_sweep) {
            printf("\"sweep\": [");
            for (size_t i = 0; i < r->ncap; i++) {
                if (i)
                    printf(", ");
                print_result_json(stdout, &r->res[k][i], r->items[i], 0, r->caps[i].text,
                                  r->cost != NULL);
            }
            printf("]");
        } else {
            printf("\"result\": ");
            print_result_json(stdout, &r->res[k][0], r->items[0], r->cap_bytes,
                              r->cap_bytes ? "bytes" : r->caps[0].text, r->cost != NULL);
        }
        if (r->npol > 1)
            printf("}");
    }
    if (r->cost) {
        char spec[96];
        rcache__cost_format(r->cost, spec, sizeof spec);
        printf(", \"cost_model\": ");
        rcache__json_str(stdout, spec);
    }
    printf(r->npol > 1 ? "]}\n" : "}\n");
}

/* --cost: compute time recomputed per policy (s), and each cost-aware
 * policy's ratio to the best cost-blind one's in the same row. */
static void print_cost(const runs_t *r)
{
    char spec[96];
    rcache__cost_format(r->cost, spec, sizeof spec);
    int blind = 0, aware = 0;
    for (int k = 0; k < r->npol; k++) {
        if (r->pols[k] == RCACHE_POLICY_GDSF)
            aware++;
        else if (cost_blind(r->pols[k]))
            blind++;
    }
    printf("\ncompute time recomputed, s (cost model %s; every request's cost summed: "
           "%.1f s)\n\n| capacity | items |",
           spec, (double)r->res[0][0].cost_ms_total / 1000.0);
    for (int k = 0; k < r->npol; k++)
        printf(" %s |", pol_name(r->pols[k]));
    if (blind && aware)
        printf(" best cost-blind |");
    for (int k = 0; k < r->npol && blind; k++)
        if (r->pols[k] == RCACHE_POLICY_GDSF)
            printf(" %s / best |", pol_name(r->pols[k]));
    printf("\n|---:|---:|");
    for (int k = 0; k < r->npol; k++)
        printf("---:|");
    if (blind && aware)
        printf("---|");
    for (int k = 0; k < r->npol && blind; k++)
        if (r->pols[k] == RCACHE_POLICY_GDSF)
            printf("---:|");
    printf("\n");
    for (size_t i = 0; i < r->ncap; i++) {
        printf("| %s | %llu |", r->cap_bytes ? "bytes" : r->caps[i].text,
               (unsigned long long)(r->cap_bytes ? r->cap_bytes : r->items[i]));
        int best = -1;
        for (int k = 0; k < r->npol; k++) {
            printf(" %.1f |", (double)r->res[k][i].cost_ms_missed / 1000.0);
            if (cost_blind(r->pols[k]) &&
                (best < 0 || r->res[k][i].cost_ms_missed < r->res[best][i].cost_ms_missed))
                best = k;
        }
        if (best >= 0 && aware)
            printf(" %s |", pol_name(r->pols[best]));
        for (int k = 0; k < r->npol && best >= 0; k++) {
            if (r->pols[k] != RCACHE_POLICY_GDSF)
                continue;
            uint64_t b = r->res[best][i].cost_ms_missed;
            printf(b ? " %.3f |" : " - |",
                   b ? (double)r->res[k][i].cost_ms_missed / (double)b : 0);
        }
        printf("\n");
    }
}

/* One policy over several capacities: the historical table. */
static void print_sweep_one(const runs_t *r)
{
    printf("trace: %s (%s), %llu requests, %llu unique keys; %s, 1 shard\n\n", r->path,
           r->fmtname, (unsigned long long)r->tc->requests,
           (unsigned long long)r->tc->unique,
           r->pols[0] == RCACHE_POLICY_LRU ? "LRU" : pol_name(r->pols[0]));
    printf("| capacity | items | hits | hit ratio | miss ratio | evictions | Mreq/s |\n"
           "|---:|---:|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < r->ncap; i++) {
        const rcache__replay_result_t *x = &r->res[0][i];
        printf("| %s | %llu | %llu | %.4f | %.4f | %llu | %.2f |\n", r->caps[i].text,
               (unsigned long long)r->items[i], (unsigned long long)x->hits,
               x->hit_ratio, 1 - x->hit_ratio, (unsigned long long)x->evictions,
               x->seconds > 0 ? (double)x->requests / x->seconds / 1e6 : 0);
    }
}

/* Several policies: a miss-ratio column each, and x LRU when lru ran. */
static void print_sweep_policies(const runs_t *r)
{
    int lru = -1;
    for (int k = 0; k < r->npol; k++)
        if (r->pols[k] == RCACHE_POLICY_LRU)
            lru = k;
    printf("trace: %s (%s), %llu requests, %llu unique keys; 1 shard; miss ratios\n\n",
           r->path, r->fmtname, (unsigned long long)r->tc->requests,
           (unsigned long long)r->tc->unique);
    printf("| capacity | items |");
    for (int k = 0; k < r->npol; k++)
        printf(" %s |", pol_name(r->pols[k]));
    for (int k = 0; k < r->npol && lru >= 0; k++)
        if (k != lru)
            printf(" %s / lru |", pol_name(r->pols[k]));
    printf("\n|---:|---:|");
    for (int k = 0; k < r->npol; k++)
        printf("---:|%s", k != lru && lru >= 0 ? "---:|" : "");
    printf("\n");
    for (size_t i = 0; i < r->ncap; i++) {
        printf("| %s | %llu |", r->caps[i].text, (unsigned long long)r->items[i]);
        for (int k = 0; k < r->npol; k++)
            printf(" %.4f |", 1 - r->res[k][i].hit_ratio);
        double base = lru >= 0 ? 1 - r->res[lru][i].hit_ratio : 0;
        for (int k = 0; k < r->npol && lru >= 0; k++)
            if (k != lru)
                printf(base > 0 ? " %.3f |" : " - |",
                       base > 0 ? (1 - r->res[k][i].hit_ratio) / base : 0);
        printf("\n");
    }
}

static void print_single(const runs_t *r)
{
    for (int k = 0; k < r->npol; k++) {
        const rcache__replay_result_t *x = &r->res[k][0];
        if (k)
            printf("\n");
        printf("trace        %s (%s)\n", r->path, r->fmtname);
        printf("policy       %s\n", pol_name(r->pols[k]));
        printf("requests     %llu\n", (unsigned long long)x->requests);
        printf("unique keys  %llu\n", (unsigned long long)r->tc->unique);
        if (r->cap_bytes)
            printf("capacity     %llu bytes (entry footprint as librcache charges it)\n",
                   (unsigned long long)r->cap_bytes);
        else
            printf("capacity     %llu items (%s)\n", (unsigned long long)r->items[0],
                   r->caps[0].text);
        printf("hits         %llu\n", (unsigned long long)x->hits);
        printf("misses       %llu\n", (unsigned long long)x->misses);
        printf("hit ratio    %.4f\n", x->hit_ratio);
        printf("miss ratio   %.4f\n", 1 - x->hit_ratio);
        printf("evictions    %llu\n", (unsigned long long)x->evictions);
        if (x->too_big)
            printf("not stored   %llu (object larger than the capacity)\n",
                   (unsigned long long)x->too_big);
        printf("replay       %.3f s, %.2f M requests/s (decoding included)\n", x->seconds,
               x->seconds > 0 ? (double)x->requests / x->seconds / 1e6 : 0);
    }
}

static int draw(const runs_t *r, const char *plot, char *err, size_t errlen)
{
    static rcache__plot_point_t pts[NPOL][MAX_SWEEP];
    const rcache__plot_point_t *series[NPOL];
    char names[NPOL][64];
    const char *np[NPOL];
    int all_pct = 1;
    for (size_t i = 0; i < r->ncap; i++)
        all_pct &= r->caps[i].is_pct;
    double lo = 1e300, hi = 0;
    for (int k = 0; k < r->npol; k++) {
        for (size_t i = 0; i < r->ncap; i++) {
            pts[k][i].x = all_pct ? r->caps[i].pct : (double)r->items[i];
            pts[k][i].miss_ratio = 1 - r->res[k][i].hit_ratio;
            lo = pts[k][i].x < lo ? pts[k][i].x : lo;
            hi = pts[k][i].x > hi ? pts[k][i].x : hi;
        }
        series[k] = pts[k];
        if (r->pols[k] == POL_OPT)
            snprintf(names[k], sizeof names[k], "OPT (Belady, offline bound)");
        else
            snprintf(names[k], sizeof names[k], "%s (librcache, 1 shard)",
                     r->pols[k] == RCACHE_POLICY_LRU ? "LRU" : pol_name(r->pols[k]));
        np[k] = names[k];
    }
    const char *base = strrchr(r->path, '/');
    char title[512];
    snprintf(title, sizeof title, "Miss-ratio curve: %s (%s, %llu requests, %llu keys)",
             base ? base + 1 : r->path, r->fmtname, (unsigned long long)r->tc->requests,
             (unsigned long long)r->tc->unique);
    return rcache__plot_curves(plot, title,
                               all_pct ? "cache size (% of unique keys)" : "cache size (items)",
                               hi >= 20 * lo, np, series, (size_t)r->npol, r->ncap, err,
                               errlen);
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
        {"policy", required_argument, 0, 'P'},
        {"cost", required_argument, 0, 'C'},
        {"seed", required_argument, 0, 'S'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    cap_spec_t cap, sweep[MAX_SWEEP];
    size_t nsweep = 0;
    int have_cap = 0, json = 0, progress = 1;
    uint64_t cap_bytes = 0;
    const char *plot = NULL;
    rcache__replay_opts_t ro = {0};
    rcache__cost_model_t cost = {.kind = RCACHE__COST_NONE, .seed = 1};
    const char *cost_spec = NULL;
    int pols[NPOL] = {RCACHE_POLICY_LRU}, npol = 1;
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
        case 'P':
            if ((npol = parse_policies(optarg, pols)) < 0) {
                fprintf(stderr, "rcache-bench: bad --policy '%s' (lru, s3fifo, sieve, "
                                "wtinylfu, wtinylfu-fixed, gdsf, opt, a comma-separated "
                                "list, or all)\n", optarg);
                return 2;
            }
            break;
        case 'C': cost_spec = optarg; break;
        case 'S': {
            char *end;
            cost.seed = strtoull(optarg, &end, 10);
            if (end == optarg || *end || optarg[0] == '-') {
                fprintf(stderr, "rcache-bench: bad --seed '%s'\n", optarg);
                return 2;
            }
            break;
        }
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
    if (cost_spec) {
        char why[160];
        if (rcache__cost_parse(cost_spec, &cost, why, sizeof why) != 0) {
            fprintf(stderr, "rcache-bench: bad --cost: %s\n", why);
            return 2;
        }
        ro.cost = &cost;
    }
    if (plot && nsweep == 0) {
        fprintf(stderr, "rcache-bench: --plot needs --sweep\n");
        return 2;
    }
    if (nsweep && (have_cap || cap_bytes)) {
        fprintf(stderr, "rcache-bench: --sweep replaces --capacity/--capacity-bytes\n");
        return 2;
    }
    for (int k = 0; k < npol && cap_bytes; k++)
        if (pols[k] == POL_OPT) {
            fprintf(stderr, "rcache-bench: opt (Belady) is count-bounded: give --capacity or "
                            "--sweep, not --capacity-bytes\n");
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
    if (cost.kind == RCACHE__COST_SIZE && !tc.has_size) {
        fprintf(stderr, "rcache-bench: --cost size needs a trace with object sizes; "
                        "%s has none\n", path);
        return 2;
    }
    if (cap_bytes && !tc.has_size)
        fprintf(stderr, "rcache-bench: note: %s has no object sizes; values are empty and "
                        "only the per-entry overhead counts against --capacity-bytes\n", path);

    if (nsweep == 0) {
        sweep[0] = cap;
        nsweep = 1;
    }
    static runs_t r;
    memset(&r, 0, sizeof r);
    r.path = path;
    r.tc = &tc;
    r.caps = sweep;
    r.ncap = nsweep;
    r.pols = pols;
    r.npol = npol;
    r.cap_bytes = cap_bytes;
    r.cost = ro.cost;
    r.fmtname = rcache__trace_format_name(tc.format);
    for (int k = 0; k < npol; k++) {
        for (size_t i = 0; i < nsweep; i++) {
            r.items[i] = cap_bytes ? 0
                         : sweep[i].is_pct ? rcache__capacity_pct(tc.unique, sweep[i].pct)
                                           : sweep[i].items;
            char label[64];
            snprintf(label, sizeof label, "%s %s", pol_name(pols[k]),
                     cap_bytes ? "bytes" : sweep[i].text);
            ro.label = label;
            ro.max_items = r.items[i];
            ro.max_bytes = cap_bytes;
            ro.policy = pols[k];
            int rc = pols[k] == POL_OPT
                         ? rcache__belady_replay(path, &ro, &r.res[k][i], err, sizeof err)
                         : rcache__replay(path, &ro, &r.res[k][i], err, sizeof err);
            if (rc != 0) {
                fprintf(stderr, "rcache-bench: %s\n", err);
                return 1;
            }
        }
    }

    int is_sweep = plot || nsweep > 1;
    if (json)
        print_json(&r, is_sweep);
    else if (is_sweep && npol == 1)
        print_sweep_one(&r);
    else if (is_sweep || (npol > 1 && !cap_bytes))
        print_sweep_policies(&r);
    else
        print_single(&r);
    if (ro.cost && !json)
        print_cost(&r);

    if (plot) {
        if (draw(&r, plot, err, sizeof err) != 0) {
            fprintf(stderr, "rcache-bench: %s\n", err);
            return 1;
        }
        if (!json)
            printf("\nplot: %s\n", plot);
    }
    return 0;
}
