/*
 * tags.c - `rcache-bench tags`: what invalidating a tag costs (issue 14:
 * 10k tagged entries among 1M, <= 10 ms locally), against the anchor that
 * removes the same entries without an index, rcache_invalidate() with a
 * glob pattern (a walk of the whole keyspace), and against deleting the
 * same keys one by one by name (the floor: the table work alone), each on
 * the same cache size in the same run; and what storing with tags costs
 * against storing without. Prints figures; nothing here is asserted by a test.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "rcache.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Fill: `entries` keys "k:<i>", the first `tagged` of them named "hot:<i>"
 * instead and tagged "hot"; every entry also carries one of 1000 group
 * tags when `all_tagged` (a busy index); tag_hot 0 leaves the hot keys
 * untagged (the pattern anchor). Returns the fill time. */
static double fill(rcache_t *c, unsigned long entries, unsigned long tagged,
                   int tag_hot, int all_tagged) {
    char key[32], grp[16];
    double t0 = now_s();
    for (unsigned long i = 0; i < entries; i++) {
        int hot = i < tagged;
        int kl = snprintf(key, sizeof key, "%s:%lu", hot ? "hot" : "k", i);
        int gl = snprintf(grp, sizeof grp, "grp:%lu", i % 1000);
        rcache_tag_t tg[2] = {{grp, (size_t)gl}, {"hot", 3}};
        rcache_set_opts_t o = {.ttl_ms = 0};
        if (all_tagged || (hot && tag_hot)) {
            o.tags = all_tagged ? tg : &tg[1];
            o.ntags = all_tagged ? (size_t)(1 + (hot && tag_hot)) : 1;
        }
        if (rcache_set_ex(c, key, (size_t)kl, "value-value-value", 17, &o, NULL) != RCACHE_OK) {
            fprintf(stderr, "rcache-bench tags: store failed\n");
            exit(1);
        }
    }
    return now_s() - t0;
}

static void usage(FILE *f) {
    fputs("usage: rcache-bench tags [--entries N] [--tagged T] [--runs R]\n"
          "  --entries N  entries in the cache (default 1000000)\n"
          "  --tagged T   of them carrying the invalidated tag (default 10000)\n"
          "  --runs R     runs; figures are medians (default 3)\n", f);
}

int rcache__cmd_tags(int argc, char **argv) {
    static const struct option opts[] = {{"entries", required_argument, 0, 'e'},
                                         {"tagged", required_argument, 0, 't'},
                                         {"runs", required_argument, 0, 'r'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    unsigned long entries = 1000000, tagged = 10000;
    int runs = 3, o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'e': entries = strtoul(optarg, NULL, 10); break;
        case 't': tagged = strtoul(optarg, NULL, 10); break;
        case 'r': runs = atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || entries == 0 || tagged > entries || runs < 1 || runs > 51) {
        usage(stderr);
        return 2;
    }
    double tag_ms[51], pat_ms[51], busy_ms[51], del_ms[51], fill_plain[51], fill_tag[51];
    for (int r = 0; r < runs; r++) {
        rcache_t *c;
        uint64_t removed = 0;
        rcache_stats_t st;
        for (int mode = 0; mode < 4; mode++) {
            rcache_config_t cfg;
            rcache_config_init(&cfg);
            cfg.max_items = 0; /* no eviction: every entry stays */
            cfg.max_bytes = 0;
            if (rcache_open(&cfg, &c) != RCACHE_OK)
                return 1;
            double f = fill(c, entries, tagged, mode < 2, mode == 1);
            if (mode == 3) { /* anchor: the same keys deleted one by one */
                char key[32];
                double t0 = now_s();
                removed = 0;
                for (unsigned long i = 0; i < tagged; i++) {
                    int kl = snprintf(key, sizeof key, "hot:%lu", i);
                    removed += rcache_delete(c, key, (size_t)kl) == RCACHE_OK;
                }
                del_ms[r] = (now_s() - t0) * 1e3;
            } else if (mode == 2) { /* anchor: the same keys by pattern, no tags */
                fill_plain[r] = f;
                double t0 = now_s();
                rcache_invalidate(c, "hot:*", 5, &removed);
                pat_ms[r] = (now_s() - t0) * 1e3;
            } else {
                rcache_stats(c, &st);
                double t0 = now_s();
                rcache_invalidate_tag(c, "hot", 3, &removed);
                (mode == 0 ? tag_ms : busy_ms)[r] = (now_s() - t0) * 1e3;
                if (mode == 1)
                    fill_tag[r] = f;
            }
            if (removed != tagged) {
                fprintf(stderr, "rcache-bench tags: removed %llu, expected %lu\n",
                        (unsigned long long)removed, tagged);
                return 1;
            }
            rcache_close(c);
        }
    }
    qsort(tag_ms, (size_t)runs, sizeof(double), cmp_d);
    qsort(busy_ms, (size_t)runs, sizeof(double), cmp_d);
    qsort(pat_ms, (size_t)runs, sizeof(double), cmp_d);
    qsort(del_ms, (size_t)runs, sizeof(double), cmp_d);
    qsort(fill_plain, (size_t)runs, sizeof(double), cmp_d);
    qsort(fill_tag, (size_t)runs, sizeof(double), cmp_d);
    int m = runs / 2;
    printf("rcache-bench tags: %lu entries, %lu tagged \"hot\", median of %d runs\n",
           entries, tagged, runs);
    printf("  invalidate_tag, only the hot entries tagged:     %8.2f ms\n", tag_ms[m]);
    printf("  invalidate_tag, every entry also in 1 of 1000 groups: %8.2f ms\n", busy_ms[m]);
    printf("  anchor: invalidate(\"hot:*\") pattern walk:        %8.2f ms  (%.1fx the tag)\n",
           pat_ms[m], pat_ms[m] / tag_ms[m]);
    printf("  anchor: rcache_delete() of the same keys:      %8.2f ms  (the tag: %.2fx)\n",
           del_ms[m], tag_ms[m] / del_ms[m]);
    printf("  fill, every entry tagged vs untagged:   %.2f s vs %.2f s  (%.2fx)\n",
           fill_tag[m], fill_plain[m], fill_tag[m] / fill_plain[m]);
    return 0;
}
