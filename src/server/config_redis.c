/*
 * config_redis.c - the two option values with Redis's own syntax:
 * client-output-buffer-limit ("<class> <hard> <soft> <seconds>" groups)
 * and notify-keyspace-events (flag letters), parsed and formatted the way
 * Redis 7.0 does (config.c calls these; pure functions, no globals, so
 * config.c stays unit-testable and fuzzable with them).
 */
#include "config.h"
#include "notify.h"

#include "rcache.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static int fail(char *why, size_t whylen, const char *msg) {
    if (why && whylen)
        snprintf(why, whylen, "%s", msg);
    return -1;
}

/* Split text at spaces into at most max tokens (copies into buf). */
static size_t split(const char *text, char *buf, size_t cap, char **tok, size_t max) {
    size_t n = 0;
    snprintf(buf, cap, "%s", text);
    for (char *p = buf; *p && n <= max;) {
        while (*p == ' ' || *p == '\t')
            *p++ = '\0';
        if (!*p)
            break;
        if (n == max)
            return max + 1;
        tok[n++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
    }
    return n;
}

int rcache__cobl_parse(const char *text, rcache__cobl_t cl[RCACHE__COBL_CLASSES], char *why,
                       size_t whylen) {
    char buf[512], *tok[13];
    rcache__cobl_t next[RCACHE__COBL_CLASSES];
    if (strlen(text) >= sizeof buf)
        return fail(why, whylen, "too long");
    size_t n = split(text, buf, sizeof buf, tok, 12);
    memcpy(next, cl, sizeof next);
    if (n == 1) { /* rcached's single size: the normal class's hard limit */
        if (rcache_parse_size(tok[0], &next[RCACHE__COBL_NORMAL].hard_bytes) != RCACHE_OK)
            return fail(why, whylen, "expected a size such as 64mb, or "
                                     "\"<class> <hard> <soft> <seconds> ...\"");
        memcpy(cl, next, sizeof next);
        return 0;
    }
    if (n == 0 || n > 12 || n % 4 != 0)
        return fail(why, whylen, "Wrong number of arguments in buffer limit configuration.");
    for (size_t i = 0; i < n; i += 4) {
        int k;
        if (!strcasecmp(tok[i], "normal"))
            k = RCACHE__COBL_NORMAL;
        else if (!strcasecmp(tok[i], "replica") || !strcasecmp(tok[i], "slave"))
            k = RCACHE__COBL_REPLICA;
        else if (!strcasecmp(tok[i], "pubsub"))
            k = RCACHE__COBL_PUBSUB;
        else
            return fail(why, whylen, "Invalid client class specified in buffer limit "
                                     "configuration.");
        rcache__cobl_t v;
        if (rcache_parse_size(tok[i + 1], &v.hard_bytes) != RCACHE_OK ||
            rcache_parse_size(tok[i + 2], &v.soft_bytes) != RCACHE_OK ||
            rcache__parse_u64(tok[i + 3], strlen(tok[i + 3]), &v.soft_s) != 0)
            return fail(why, whylen, "Error in hard, soft or soft_seconds setting in buffer "
                                     "limit configuration.");
        next[k] = v;
    }
    memcpy(cl, next, sizeof next);
    return 0;
}

void rcache__cobl_format(const rcache__cobl_t cl[RCACHE__COBL_CLASSES], char *out, size_t cap) {
    static const char *const NAMES[RCACHE__COBL_CLASSES] = {"normal", "slave", "pubsub"};
    size_t o = 0;
    out[0] = '\0';
    for (int k = 0; k < RCACHE__COBL_CLASSES && o < cap; k++) {
        int w = snprintf(out + o, cap - o, "%s%s %llu %llu %llu", k ? " " : "", NAMES[k],
                         (unsigned long long)cl[k].hard_bytes,
                         (unsigned long long)cl[k].soft_bytes,
                         (unsigned long long)cl[k].soft_s);
        if (w < 0)
            return;
        o += (size_t)w;
    }
}

int rcache__notify_flags_parse(const char *text) {
    int flags = 0;
    for (const char *p = text; *p; p++) {
        switch (*p) {
        case 'A': flags |= RCACHE__NOTIFY_ALL; break;
        case 'g': flags |= RCACHE__NOTIFY_GENERIC; break;
        case '$': flags |= RCACHE__NOTIFY_STRING; break;
        case 'l': flags |= RCACHE__NOTIFY_LIST; break;
        case 's': flags |= RCACHE__NOTIFY_SET; break;
        case 'h': flags |= RCACHE__NOTIFY_HASH; break;
        case 'z': flags |= RCACHE__NOTIFY_ZSET; break;
        case 'x': flags |= RCACHE__NOTIFY_EXPIRED; break;
        case 'e': flags |= RCACHE__NOTIFY_EVICTED; break;
        case 'K': flags |= RCACHE__NOTIFY_KEYSPACE; break;
        case 'E': flags |= RCACHE__NOTIFY_KEYEVENT; break;
        case 't': flags |= RCACHE__NOTIFY_STREAM; break;
        case 'm': flags |= RCACHE__NOTIFY_KEY_MISS; break;
        case 'd': flags |= RCACHE__NOTIFY_MODULE; break;
        case 'n': flags |= RCACHE__NOTIFY_NEW; break;
        default: return -1;
        }
    }
    return flags;
}

void rcache__notify_flags_format(int flags, char *out, size_t cap) {
    static const struct { int bit; char ch; } ORDER[] = {
        {RCACHE__NOTIFY_GENERIC, 'g'}, {RCACHE__NOTIFY_STRING, '$'},
        {RCACHE__NOTIFY_LIST, 'l'},    {RCACHE__NOTIFY_SET, 's'},
        {RCACHE__NOTIFY_HASH, 'h'},    {RCACHE__NOTIFY_ZSET, 'z'},
        {RCACHE__NOTIFY_EXPIRED, 'x'}, {RCACHE__NOTIFY_EVICTED, 'e'},
        {RCACHE__NOTIFY_STREAM, 't'},  {RCACHE__NOTIFY_MODULE, 'd'},
        {RCACHE__NOTIFY_NEW, 'n'}};
    char s[24];
    size_t o = 0;
    if ((flags & RCACHE__NOTIFY_ALL) == RCACHE__NOTIFY_ALL) {
        s[o++] = 'A';
        if (flags & RCACHE__NOTIFY_NEW) /* A leaves n out; Redis 7.0 prints only A */
            (void)0;
    } else {
        for (size_t i = 0; i < sizeof ORDER / sizeof ORDER[0]; i++)
            if (flags & ORDER[i].bit)
                s[o++] = ORDER[i].ch;
    }
    if (flags & RCACHE__NOTIFY_KEYSPACE)
        s[o++] = 'K';
    if (flags & RCACHE__NOTIFY_KEYEVENT)
        s[o++] = 'E';
    if (flags & RCACHE__NOTIFY_KEY_MISS)
        s[o++] = 'm';
    s[o] = '\0';
    snprintf(out, cap, "%s", s);
}
