/*
 * test_tier_tags.c - tags across the tier (tags.c), two or three nodes
 * sharing one redis-server started by the test:
 *  - a tagged write on A records the key's tags and the tag sets in L2 (the
 *    value stays a plain string); a read-through on B restores the tags in
 *    B's L1 (B can then invalidate them locally);
 *  - rcache_tier_invalidate_tag() on A removes the tagged keys from A's L1
 *    at once, from L2, and from B's and C's L1 through the bus; untagged
 *    and other-tag keys survive, and the dropped keys leave their other
 *    tags' sets;
 *  - overwrites (untagged, other tags), deletes and pattern invalidation
 *    keep the L2 records exact; a stale tag-set member (its key rewritten
 *    outside the tier) only leaves the set;
 *  - rcache_tier_memoize() results carry their tags to L2;
 *  - tag sets live at least as long as their members (TTL);
 *  - many members: several SSCAN pages;
 *  - the race of a tag invalidation with the node's own read-through
 *    (scripted with the before_install hook): the value read before the
 *    L2 drop must not be installed in L1 after it;
 *  - two nodes writing one key with different tags: the records always
 *    match the value that won.
 * Every wait polls with a 30 s deadline; nothing asserts a duration.
 */
#include <pthread.h>

#include "tiertest.h"

TT_REDIS_GROUP_FIXTURE

static void open_n(tt_node_t *n, int count, const rcache_tier_opts_t *base) {
    rcache_tier_opts_t o;
    if (base)
        o = *base;
    else
        rcache_tier_opts_init(&o);
    o.ping_deadline_ms = 120000; /* no spurious L1 clears on a loaded CI */
    for (int i = 0; i < count; i++)
        tt_node_open(&n[i], R.url, &o);
    for (int i = 0; i < count; i++)
        assert_true(tt_wait(tt_node_connected, &n[i]));
}

static void close_n(tt_node_t *n, int count) {
    for (int i = 0; i < count; i++)
        tt_node_close(&n[i]);
    freeReplyObject(tt_cmd(&R, "FLUSHALL"));
}

static rcache_tag_t tag(const char *s) {
    rcache_tag_t t = {s, strlen(s)};
    return t;
}

static int set_tags(tt_node_t *n, const char *key, const char *val,
                    int64_t ttl_ms, const char *t1, const char *t2) {
    rcache_tag_t tags[2];
    size_t nt = 0;
    if (t1)
        tags[nt++] = tag(t1);
    if (t2)
        tags[nt++] = tag(t2);
    return rcache_tier_set_tagged(n->t, key, strlen(key), val, strlen(val),
                                  ttl_ms, nt ? tags : NULL, nt);
}

/* SISMEMBER on a 0xff-prefixed record: "\xff" what "rc:" name. */
static long long is_member(const char *what, const char *name,
                           const char *member) {
    char k[256];
    redisReply *r;
    long long v;
    snprintf(k, sizeof k, "\xff%src:%s", what, name);
    r = tt_cmd(&R, "SISMEMBER %b %s", k, strlen(k), member);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    v = r->integer;
    freeReplyObject(r);
    return v;
}

static long long record_card(const char *what, const char *name) {
    char k[256];
    redisReply *r;
    long long v;
    snprintf(k, sizeof k, "\xff%src:%s", what, name);
    r = tt_cmd(&R, "SCARD %b", k, strlen(k));
    assert_non_null(r);
    v = r->integer;
    freeReplyObject(r);
    return v;
}

static long long record_pttl(const char *what, const char *name) {
    char k[256];
    redisReply *r;
    long long v;
    snprintf(k, sizeof k, "\xff%src:%s", what, name);
    r = tt_cmd(&R, "PTTL %b", k, strlen(k));
    assert_non_null(r);
    v = r->integer;
    freeReplyObject(r);
    return v;
}

static int l2_has(const char *key) {
    redisReply *r = tt_cmd(&R, "EXISTS rc:%s", key);
    int v;
    assert_non_null(r);
    v = (int)r->integer;
    freeReplyObject(r);
    return v;
}

/* The entry's tags in a node's L1, as "a,b" in stored order ("" none,
 * "-" absent). */
static void l1_tags(tt_node_t *n, const char *key, char *out, size_t cap) {
    rcache_tag_list_t *l = NULL;
    size_t o = 0;
    out[0] = 0;
    if (rcache_get_tags(n->c, key, strlen(key), &l) != RCACHE_OK) {
        snprintf(out, cap, "-");
        return;
    }
    for (size_t i = 0; i < l->count; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? "," : "",
                              (const char *)l->tags[i].data);
    rcache_tag_list_free(l);
}

static int has_tag_set(tt_node_t *n, const char *key, const char *a,
                       const char *b) {
    char got[128], want1[64], want2[64];
    l1_tags(n, key, got, sizeof got);
    snprintf(want1, sizeof want1, "%s,%s", a, b);
    snprintf(want2, sizeof want2, "%s,%s", b, a);
    return strcmp(got, want1) == 0 || strcmp(got, want2) == 0;
}

typedef struct gone {
    tt_node_t *n;
    const char *keys[4];
} gone_t;

static int l1_all_gone(void *arg) {
    gone_t *g = arg;
    for (int i = 0; i < 4 && g->keys[i]; i++)
        if (!tt_l1_is(g->n, g->keys[i], NULL))
            return 0;
    return 1;
}

static void test_invalidate_tag_across_nodes(void **state) {
    tt_node_t n[3];
    uint64_t r1 = 99, r2 = 99;
    char t[128];
    redisReply *r;
    (void)state;
    open_n(n, 3, NULL);
    assert_int_equal(set_tags(&n[0], "img:1", "a", 60000, "image:42", NULL), RCACHE_OK);
    assert_int_equal(set_tags(&n[0], "img:2", "b", 60000, "image:42", "user:7"), RCACHE_OK);
    assert_int_equal(set_tags(&n[0], "page:7", "c", 60000, "user:7", NULL), RCACHE_OK);
    assert_int_equal(rcache_tier_set(n[0].t, "plain", 5, "d", 1, 60000), RCACHE_OK);
    /* L2: the value is a plain string; records beside it. */
    r = tt_cmd(&R, "GET rc:img:2");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "b");
    freeReplyObject(r);
    assert_int_equal(is_member("tag:", "image:42", "img:1"), 1);
    assert_int_equal(is_member("tag:", "image:42", "img:2"), 1);
    assert_int_equal(is_member("tag:", "user:7", "img:2"), 1);
    assert_int_equal(is_member("ktags:", "img:2", "user:7"), 1);
    assert_int_equal(record_card("ktags:", "plain"), 0);
    /* B and C read through (after A's writes reached their buses): the
     * tags come along into their L1. */
    tt_wait_inval(&n[1], 4);
    tt_wait_inval(&n[2], 4);
    for (int i = 1; i < 3; i++) {
        assert_true(tt_get_is(&n[i], "img:1", "a"));
        assert_true(tt_get_is(&n[i], "img:2", "b"));
        assert_true(tt_get_is(&n[i], "page:7", "c"));
        assert_true(tt_get_is(&n[i], "plain", "d"));
        assert_true(tt_l1_is(&n[i], "img:2", "b"));
        assert_true(has_tag_set(&n[i], "img:2", "image:42", "user:7"));
        l1_tags(&n[i], "img:1", t, sizeof t);
        assert_string_equal(t, "image:42");
        l1_tags(&n[i], "plain", t, sizeof t);
        assert_string_equal(t, "");
    }
    /* A invalidates image:42: its own L1 at once, L2, then B's and C's. */
    assert_int_equal(rcache_tier_invalidate_tag(n[0].t, "image:42", 8, &r1, &r2),
                     RCACHE_OK);
    assert_int_equal(r1, 2);
    assert_int_equal(r2, 2);
    assert_true(tt_l1_is(&n[0], "img:1", NULL));
    assert_true(tt_l1_is(&n[0], "img:2", NULL));
    assert_int_equal(l2_has("img:1") + l2_has("img:2"), 0);
    for (int i = 1; i < 3; i++) {
        gone_t g = {&n[i], {"img:1", "img:2", NULL, NULL}};
        assert_true(tt_wait(l1_all_gone, &g));
        /* untagged and other-tag keys survive, in L1 and in L2 */
        assert_true(tt_l1_is(&n[i], "page:7", "c"));
        assert_true(tt_l1_is(&n[i], "plain", "d"));
    }
    assert_int_equal(l2_has("page:7") + l2_has("plain"), 2);
    /* the records went with the keys: img:2 left user:7's set too */
    assert_int_equal(record_card("tag:", "image:42"), 0);
    assert_int_equal(is_member("tag:", "user:7", "img:2"), 0);
    assert_int_equal(is_member("tag:", "user:7", "page:7"), 1);
    assert_int_equal(record_card("ktags:", "img:2"), 0);
    /* A second call finds nothing. */
    assert_int_equal(rcache_tier_invalidate_tag(n[2].t, "image:42", 8, &r1, &r2),
                     RCACHE_OK);
    assert_int_equal(r1 + r2, 0);
    /* Bad tags. */
    assert_int_equal(rcache_tier_invalidate_tag(n[0].t, "", 0, NULL, NULL), RCACHE_EINVAL);
    assert_int_equal(rcache_tier_invalidate_tag(n[0].t, NULL, 3, NULL, NULL), RCACHE_EINVAL);
    assert_int_equal(rcache_tier_invalidate_tag(NULL, "x", 1, NULL, NULL), RCACHE_EINVAL);
    {
        static char big[RCACHE_MAX_TAG_LEN + 1];
        rcache_tag_t bt = {big, sizeof big};
        memset(big, 'x', sizeof big);
        assert_int_equal(rcache_tier_invalidate_tag(n[0].t, big, sizeof big, NULL, NULL),
                         RCACHE_ETOOBIG);
        assert_int_equal(rcache_tier_set_tagged(n[0].t, "k", 1, "v", 1, 0, &bt, 1),
                         RCACHE_ETOOBIG);
        assert_int_equal(rcache_tier_set_tagged(n[0].t, "k", 1, "v", 1, 0, NULL, 1),
                         RCACHE_EINVAL);
        assert_int_equal(l2_has("k"), 0);
    }
    close_n(n, 3);
}

/* B read a tagged key through; B's own (library) tag invalidation finds
 * it, so the tags really are in B's index. */
static void test_read_through_local_tag_invalidation(void **state) {
    tt_node_t n[2];
    uint64_t removed = 0;
    (void)state;
    open_n(n, 2, NULL);
    assert_int_equal(set_tags(&n[0], "r1", "v", 0, "t1", NULL), RCACHE_OK);
    tt_wait_inval(&n[1], 1);
    assert_true(tt_get_is(&n[1], "r1", "v"));
    assert_true(tt_l1_is(&n[1], "r1", "v"));
    assert_int_equal(rcache_invalidate_tag(n[1].c, "t1", 2, &removed), RCACHE_OK);
    assert_int_equal(removed, 1);
    assert_true(tt_l1_is(&n[1], "r1", NULL));
    assert_int_equal(l2_has("r1"), 1); /* a local call: L2 untouched */
    close_n(n, 2);
}

static void test_records_follow_overwrites_and_deletes(void **state) {
    tt_node_t n[2];
    uint64_t r1 = 0, r2 = 0;
    char t[128];
    (void)state;
    open_n(n, 2, NULL);
    /* overwrite with another tag: leaves t1's set, joins t2's */
    assert_int_equal(set_tags(&n[0], "k", "1", 60000, "t1", NULL), RCACHE_OK);
    assert_int_equal(set_tags(&n[0], "k", "2", 60000, "t2", NULL), RCACHE_OK);
    assert_int_equal(is_member("tag:", "t1", "k"), 0);
    assert_int_equal(is_member("tag:", "t2", "k"), 1);
    assert_int_equal(is_member("ktags:", "k", "t2"), 1);
    assert_int_equal(record_card("ktags:", "k"), 1);
    l1_tags(&n[0], "k", t, sizeof t);
    assert_string_equal(t, "t2");
    /* untagged overwrite: no records left; invalidating t2 spares it */
    assert_int_equal(rcache_tier_set(n[0].t, "k", 1, "3", 1, 60000), RCACHE_OK);
    assert_int_equal(record_card("tag:", "t2"), 0);
    assert_int_equal(record_card("ktags:", "k"), 0);
    assert_int_equal(rcache_tier_invalidate_tag(n[1].t, "t2", 2, &r1, &r2), RCACHE_OK);
    assert_int_equal(r2, 0);
    assert_int_equal(l2_has("k"), 1);
    assert_true(tt_l1_is(&n[0], "k", "3"));
    /* delete drops the records */
    assert_int_equal(set_tags(&n[0], "d", "x", 0, "t3", "t4"), RCACHE_OK);
    assert_int_equal(rcache_tier_delete(n[1].t, "d", 1), RCACHE_OK);
    assert_int_equal(record_card("tag:", "t3") + record_card("tag:", "t4") +
                         record_card("ktags:", "d"), 0);
    /* pattern invalidation drops them too */
    assert_int_equal(set_tags(&n[0], "p:1", "x", 0, "t5", NULL), RCACHE_OK);
    assert_int_equal(set_tags(&n[0], "p:2", "x", 0, "t5", NULL), RCACHE_OK);
    assert_int_equal(set_tags(&n[0], "q:1", "x", 0, "t5", NULL), RCACHE_OK);
    assert_int_equal(rcache_tier_invalidate(n[1].t, "p:*", 3, NULL, &r2), RCACHE_OK);
    assert_int_equal(r2, 2);
    assert_int_equal(record_card("tag:", "t5"), 1);
    assert_int_equal(is_member("tag:", "t5", "q:1"), 1);
    assert_int_equal(record_card("ktags:", "p:1"), 0);
    /* a stale member (its key rewritten by a plain client, records gone)
     * only leaves the set: the value it now holds is not the tagged one */
    freeReplyObject(tt_cmd(&R, "SADD %b %s", "\xfftag:rc:t6", strlen("\xfftag:rc:t6"), "s"));
    freeReplyObject(tt_cmd(&R, "SET rc:s plain"));
    assert_int_equal(rcache_tier_invalidate_tag(n[0].t, "t6", 2, &r1, &r2), RCACHE_OK);
    assert_int_equal(r2, 0);
    assert_int_equal(l2_has("s"), 1);
    assert_int_equal(record_card("tag:", "t6"), 0);
    close_n(n, 2);
}

/* rcache_tier_memoize(): the result's tags go to L2 with it. */
static int tagged_compute(const void *key, size_t klen, rcache_memo_result_t *out,
                          void *ctx) {
    static const rcache_tag_t tags[1] = {{"memo-tag", 8}};
    (void)key;
    (void)klen;
    (void)ctx;
    out->val = "computed";
    out->val_len = 8;
    out->tags = tags;
    out->ntags = 1;
    return RCACHE_OK;
}

static void test_memoize_result_tags(void **state) {
    tt_node_t n[2];
    rcache_ref_t *ref = NULL;
    uint64_t r1 = 0, r2 = 0;
    char t[64];
    (void)state;
    open_n(n, 2, NULL);
    assert_int_equal(rcache_tier_memoize(n[0].t, "m", 1, tagged_compute, NULL, NULL,
                                         &ref, NULL),
                     RCACHE_OK);
    rcache_release(ref);
    assert_int_equal(is_member("tag:", "memo-tag", "m"), 1);
    assert_int_equal(is_member("ktags:", "m", "memo-tag"), 1);
    l1_tags(&n[0], "m", t, sizeof t);
    assert_string_equal(t, "memo-tag");
    tt_wait_inval(&n[1], 1);
    assert_true(tt_get_is(&n[1], "m", "computed"));
    l1_tags(&n[1], "m", t, sizeof t);
    assert_string_equal(t, "memo-tag");
    assert_int_equal(rcache_tier_invalidate_tag(n[1].t, "memo-tag", 8, &r1, &r2),
                     RCACHE_OK);
    assert_int_equal(r2, 1);
    {
        gone_t g = {&n[0], {"m", NULL, NULL, NULL}};
        assert_true(tt_wait(l1_all_gone, &g));
    }
    close_n(n, 2);
}

/* A tag set outlives each member; records share their key's TTL. */
static void test_record_ttls(void **state) {
    tt_node_t n[1];
    long long p;
    (void)state;
    open_n(n, 1, NULL);
    assert_int_equal(set_tags(n, "short", "v", 100000, "tt", NULL), RCACHE_OK);
    p = record_pttl("tag:", "tt");
    assert_true(p > 0 && p <= 100000);
    p = record_pttl("ktags:", "short");
    assert_true(p > 0 && p <= 100000);
    assert_int_equal(set_tags(n, "long", "v", 900000, "tt", NULL), RCACHE_OK);
    p = record_pttl("tag:", "tt");
    assert_true(p > 100000 && p <= 900000);
    /* a shorter member does not shorten the set */
    assert_int_equal(set_tags(n, "short2", "v", 1000, "tt", NULL), RCACHE_OK);
    p = record_pttl("tag:", "tt");
    assert_true(p > 100000);
    /* a member without expiry makes it persistent */
    assert_int_equal(set_tags(n, "forever", "v", 0, "tt", NULL), RCACHE_OK);
    assert_int_equal(record_pttl("tag:", "tt"), -1);
    assert_int_equal(record_pttl("ktags:", "forever"), -1);
    assert_int_equal(set_tags(n, "short3", "v", 5000, "tt", NULL), RCACHE_OK);
    assert_int_equal(record_pttl("tag:", "tt"), -1);
    close_n(n, 1);
}

/* More members than one SSCAN page (COUNT 1000). */
static void test_many_members(void **state) {
    enum { N = 2500 };
    tt_node_t n[2];
    uint64_t r1 = 0, r2 = 0;
    rcache_tag_t tg = tag("bulk");
    char k[32];
    (void)state;
    open_n(n, 2, NULL);
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof k, "b:%05d", i);
        assert_int_equal(rcache_tier_set_tagged(n[0].t, k, strlen(k), "x", 1, 0, &tg, 1),
                         RCACHE_OK);
    }
    assert_int_equal(set_tags(&n[0], "other", "y", 0, "nobulk", NULL), RCACHE_OK);
    tt_wait_inval(&n[1], N + 1);
    for (int i = 0; i < N; i += 97) {
        snprintf(k, sizeof k, "b:%05d", i);
        assert_true(tt_get_is(&n[1], k, "x"));
    }
    assert_true(tt_get_is(&n[1], "other", "y"));
    assert_int_equal(rcache_tier_invalidate_tag(n[1].t, "bulk", 4, &r1, &r2), RCACHE_OK);
    assert_int_equal(r2, N);
    assert_int_equal(r1, (N + 96) / 97);
    assert_int_equal(record_card("tag:", "bulk"), 0);
    for (int i = 0; i < N; i += 97) {
        gone_t g = {&n[0], {NULL, NULL, NULL, NULL}};
        snprintf(k, sizeof k, "b:%05d", i);
        g.keys[0] = k;
        assert_true(tt_wait(l1_all_gone, &g));
        assert_int_equal(l2_has(k), 0);
    }
    assert_true(tt_l1_is(&n[1], "other", "y"));
    assert_int_equal(l2_has("other"), 1);
    close_n(n, 2);
}

/* The race: node B reads key "rk" (tagged) from L2; before B installs
 * it, B itself invalidates the tag (L1, L2). NOLOOP: no bus message comes
 * back for B's own UNLINK, so without the tier's sweep the value read
 * before the drop would sit in B's L1 after it. */
typedef struct race {
    int armed;
    tt_node_t *node;
    int rc;
    uint64_t l2;
} race_t;

static void race_hook(const void *key, size_t len, void *ctx) {
    race_t *r = ctx;
    if (!r->armed || len != 2 || memcmp(key, "rk", 2) != 0)
        return;
    r->armed = 0;
    r->rc = rcache_tier_invalidate_tag(r->node->t, "rt", 2, NULL, &r->l2);
}

static void test_race_invalidate_during_read(void **state) {
    tt_node_t a, b;
    race_t r = {0};
    rcache_tier_opts_t o;
    rcache_tier_stats_t s;
    void *v = NULL;
    size_t len = 0;
    (void)state;
    open_n(&a, 1, NULL);
    rcache_tier_opts_init(&o);
    o.before_install = race_hook;
    o.hook_ctx = &r;
    open_n(&b, 1, &o);
    r.node = &b;
    assert_int_equal(set_tags(&a, "rk", "old", 0, "rt", NULL), RCACHE_OK);
    tt_wait_inval(&b, 1);
    r.armed = 1;
    /* the caller gets what L2 held when it read */
    assert_int_equal(rcache_tier_get_alloc(b.t, "rk", 2, &v, &len), RCACHE_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(v, "old", 3);
    free(v);
    assert_int_equal(r.armed, 0);
    assert_int_equal(r.rc, RCACHE_OK);
    assert_int_equal(r.l2, 1);
    /* ...but L1 must not keep it: L2 no longer has it */
    assert_true(tt_l1_is(&b, "rk", NULL));
    assert_int_equal(l2_has("rk"), 0);
    rcache_tier_stats(b.t, &s);
    assert_true(s.installs_dropped >= 1);
    assert_true(tt_get_is(&b, "rk", NULL));
    tt_node_close(&a);
    tt_node_close(&b);
    freeReplyObject(tt_cmd(&R, "FLUSHALL"));
}

/* Two nodes write one key with different tags at the same moment, round
 * after round; between rounds (no write in flight) the key's records must
 * match the value that won (its writer's tag). Values of 128 KiB: Redis
 * reads a client's pipeline in 16 KiB pieces and runs other clients'
 * commands in between, so the other node's SET and script can land
 * between a node's SET and its tag script (the window the script's "value
 * still mine" check closes). */
enum { BIG = 128 * 1024, ROUNDS = 300 };

typedef struct writer {
    tt_node_t *n;
    char *val;
    const char *tag;
    pthread_barrier_t *bar;
    int failed;
} writer_t;

static void *write_loop(void *arg) {
    writer_t *w = arg;
    rcache_tag_t tg = tag(w->tag);
    for (int i = 0; i < ROUNDS; i++) {
        pthread_barrier_wait(w->bar); /* start together */
        if (rcache_tier_set_tagged(w->n->t, "w", 1, w->val, BIG, 0, &tg, 1) != RCACHE_OK)
            w->failed = 1;
        pthread_barrier_wait(w->bar); /* both done: the test checks */
        pthread_barrier_wait(w->bar); /* checked */
    }
    return NULL;
}

/* 1 when the records match the value L2 holds now. */
static int records_match(void) {
    redisReply *r = tt_cmd(&R, "GETRANGE rc:w 0 0");
    int a, ok;
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    a = r->str[0] == 'a';
    freeReplyObject(r);
    ok = is_member("ktags:", "w", a ? "ta" : "tb") == 1 &&
         record_card("ktags:", "w") == 1 &&
         is_member("tag:", a ? "ta" : "tb", "w") == 1 &&
         record_card("tag:", a ? "tb" : "ta") == 0;
    return ok;
}

static void test_concurrent_writers_records_match(void **state) {
    tt_node_t n[2];
    writer_t w[2];
    pthread_t th[2];
    pthread_barrier_t bar;
    int mismatches = 0;
    (void)state;
    open_n(n, 2, NULL);
    assert_int_equal(pthread_barrier_init(&bar, NULL, 3), 0);
    w[0] = (writer_t){&n[0], malloc(BIG), "ta", &bar, 0};
    w[1] = (writer_t){&n[1], malloc(BIG), "tb", &bar, 0};
    assert_non_null(w[0].val);
    assert_non_null(w[1].val);
    memset(w[0].val, 'a', BIG);
    memset(w[1].val, 'b', BIG);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, write_loop, &w[i]), 0);
    for (int i = 0; i < ROUNDS; i++) {
        pthread_barrier_wait(&bar);
        pthread_barrier_wait(&bar);
        mismatches += !records_match();
        pthread_barrier_wait(&bar);
    }
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(w[0].failed + w[1].failed, 0);
    assert_int_equal(mismatches, 0);
    pthread_barrier_destroy(&bar);
    free(w[0].val);
    free(w[1].val);
    close_n(n, 2);
}

int main(void) {
    TT_SKIP_WITHOUT_REDIS();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalidate_tag_across_nodes),
        cmocka_unit_test(test_read_through_local_tag_invalidation),
        cmocka_unit_test(test_records_follow_overwrites_and_deletes),
        cmocka_unit_test(test_memoize_result_tags),
        cmocka_unit_test(test_record_ttls),
        cmocka_unit_test(test_many_members),
        cmocka_unit_test(test_race_invalidate_during_read),
        cmocka_unit_test(test_concurrent_writers_records_match),
    };
    return cmocka_run_group_tests(tests, tt_group_setup, tt_group_teardown);
}
