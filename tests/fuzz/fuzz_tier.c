/*
 * fuzz_tier.c - libFuzzer target for the tier's two parsers of untrusted
 * text (src/tier/): the L2 URL parser (rcache_tier_parse_url), the
 * classifier of messages on the invalidation connection
 * (rcache__tier_bus_classify) and the reader of a key's tag record
 * (rcache__tier_tags_from_reply), the last two fed with whatever hiredis's
 * RESP reader makes of the input.
 *
 * Input: byte 0 even = a URL (the rest), odd = RESP bytes (the rest).
 * Checked: the URL parser returns OK or EINVAL only; on OK every string
 * field is NUL-terminated inside its array, the port is 1..65535 and the
 * db >= 0; on EINVAL the result is all zero. The classifier returns 0, 1
 * or 2, and for an invalidation the key list is an array whose elements
 * it may read. The tag reader returns at most RCACHE_MAX_TAGS tags, each
 * 1..RCACHE_MAX_TAG_LEN bytes pointing into a string element of the reply.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tier_internal.h"

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond))                                                          \
            abort();                                                          \
    } while (0)

static void url(const uint8_t *d, size_t n) {
    rcache_tier_url_t u;
    int rc = rcache_tier_parse_url((const char *)d, n, &u);
    CHECK(rc == RCACHE_OK || rc == RCACHE_EINVAL);
    if (rc == RCACHE_OK) {
        CHECK(memchr(u.host, 0, sizeof u.host));
        CHECK(memchr(u.path, 0, sizeof u.path));
        CHECK(memchr(u.user, 0, sizeof u.user));
        CHECK(memchr(u.pass, 0, sizeof u.pass));
        CHECK(u.port >= 1 && u.port <= 65535 && u.db >= 0);
        CHECK(u.is_unix ? u.path[0] != 0 : u.host[0] != 0);
        {   /* written back without the password, it parses the same */
            char text[1200];
            rcache_tier_url_t back;
            size_t len = rcache_tier_format_url(&u, text, sizeof text);
            CHECK(len < sizeof text && strlen(text) == len);
            if (rcache_tier_parse_url(text, len, &back) == RCACHE_OK) {
                memcpy(back.pass, u.pass, sizeof u.pass);
                CHECK(memcmp(&back, &u, sizeof u) == 0);
            } else {
                /* only a host with brackets of its own, written raw */
                CHECK(!u.is_unix && strpbrk(u.host, "[]"));
            }
        }
    } else {
        static const rcache_tier_url_t zero;
        CHECK(memcmp(&u, &zero, sizeof u) == 0);
    }
}

/* hiredis 0.14's reader allocates an array of the announced size at once
 * (no maxelements before hiredis 1.0): inputs announcing a count or length
 * of 7+ digits are skipped, so libFuzzer's memory limit is not what trips.
 * The server on the other end is Redis, which the tier trusts. */
static int huge_count(const uint8_t *d, size_t n) {
    for (size_t i = 0; i < n; i++) {
        size_t j = i + 1, digits = 0;
        if (d[i] != '*' && d[i] != '$')
            continue;
        if (j < n && d[j] == '-')
            j++;
        while (j < n && d[j] >= '0' && d[j] <= '9')
            j++, digits++;
        if (digits >= 7)
            return 1;
    }
    return 0;
}

static void resp(const uint8_t *d, size_t n) {
    redisReader *r;
    void *reply;
    if (huge_count(d, n))
        return;
    r = redisReaderCreate();
    CHECK(r);
    redisReaderFeed(r, (const char *)d, n);
    for (int i = 0; i < 64; i++) {
        const redisReply *keys;
        int kind;
        if (redisReaderGetReply(r, &reply) != REDIS_OK || !reply)
            break;
        {
            rcache_tag_t tags[RCACHE_MAX_TAGS];
            const redisReply *rr = reply;
            size_t nt = rcache__tier_tags_from_reply(rr, tags);
            CHECK(nt <= RCACHE_MAX_TAGS);
            CHECK(nt == 0 || rr->type == REDIS_REPLY_ARRAY);
            for (size_t k = 0; k < nt; k++) {
                int inside = 0;
                CHECK(tags[k].len >= 1 && tags[k].len <= RCACHE_MAX_TAG_LEN);
                for (size_t e = 0; e < rr->elements && !inside; e++)
                    inside = rr->element[e] && rr->element[e]->str == tags[k].data &&
                             rr->element[e]->len == tags[k].len;
                CHECK(inside);
            }
        }
        kind = rcache__tier_bus_classify(reply, &keys);
        CHECK(kind >= 0 && kind <= 2);
        if (keys) {
            CHECK(kind == 1 && keys->type == REDIS_REPLY_ARRAY);
            for (size_t k = 0; k < keys->elements; k++)
                if (keys->element[k] && keys->element[k]->type == REDIS_REPLY_STRING)
                    CHECK(keys->element[k]->len < (1u << 30));
        }
        freeReplyObject(reply);
    }
    redisReaderFree(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    if (n == 0)
        return 0;
    if (d[0] & 1)
        resp(d + 1, n - 1);
    else
        url(d + 1, n - 1);
    return 0;
}
