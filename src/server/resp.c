/*
 * resp.c - RESP2 request parser and reply encoders for rcached.
 *
 * What it does: turns the bytes a client sent into argument vectors the way
 * Redis 7's networking.c does (processMultibulkBuffer for "*N\r\n$len\r\n..."
 * requests, processInlineBuffer + sdssplitargs for "GET k\r\n" lines), with
 * Redis's exact error texts, and formats the ":n", "$len" and "*n" reply
 * headers.
 *
 * Why it is built this way:
 *  - Pure and incremental. The connection owns the I/O and the query buffer;
 *    each call sees the unconsumed bytes, which always start at the current
 *    command. The parser remembers only offsets from that start (pos, the
 *    offsets of the completed arguments, and `scan`, how much of the current
 *    line was already searched), so the caller may move or grow its buffer
 *    between calls and a slow client feeding a long line byte by byte costs
 *    linear time, not quadratic.
 *  - Chunk independence. Every decision depends only on bytes that must be
 *    present for it (a line terminator is looked for only within the line
 *    limit), so a command cut at any byte boundary parses exactly like the
 *    whole. Where Redis's own outcome depends on how the bytes arrived (a
 *    100 KiB inline line read at once is accepted, read in pieces it is
 *    refused) we take the chunk-independent, stricter answer: a line whose
 *    terminator is not within the limit is refused.
 *  - Bounded memory. Nothing is allocated for announced-but-unreceived data:
 *    the offset arrays grow (doubling) only as arguments complete, bulk
 *    payloads are never copied (argv points into the caller's buffer), and a
 *    bulk length above the limit is refused as soon as its header is read.
 *  - Steady state without malloc: the offset arrays, the inline unescape
 *    buffer and the caller's argv are reused from command to command.
 *
 * Redis details kept on purpose: a count line ends at the first '\r' and the
 * byte after it is skipped unchecked, as are the two bytes after a bulk
 * payload; "*0" and "*-N" are empty commands; "$-1" is an invalid bulk
 * length in a request. Deviation: NUL is an ordinary byte everywhere (in
 * Redis strchr() stops at it, stalling the line until the 64 KiB limit); in
 * the "expected '$', got 'X'" text NUL, CR and LF show as a space (Redis
 * maps CR/LF to spaces in error replies).
 */
#include "resp.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Parser states (p->state). */
enum {
    ST_START = 0,   /* no byte of the command examined yet */
    ST_MB_COUNT,    /* reading "*<count>\r\n" */
    ST_BULK_HDR,    /* reading "$<len>\r\n" */
    ST_BULK_DATA,   /* waiting for <len> bytes + 2 */
    ST_INLINE,      /* waiting for the inline line's '\n' */
    ST_ERROR        /* a protocol error was reported; sticky */
};

/* What one parsing step decided. */
enum { STEP_GO, STEP_MORE, STEP_DONE, STEP_FAIL };

/* Outcome of looking for a line terminator. */
enum { LINE_FOUND, LINE_MORE, LINE_TOO_BIG };

#define RESP_INIT_ARGS 16    /* offset slots allocated by init */
#define RESP_KEEP_ARGS 1024  /* larger offset arrays are shrunk after use */
#define RESP_ARGV_MIN 8      /* smallest caller argv the parser allocates */

static const char ERR_MBULK_LEN[] = "Protocol error: invalid multibulk length";
static const char ERR_BULK_LEN[] = "Protocol error: invalid bulk length";
static const char ERR_MBULK_BIG[] =
    "Protocol error: too big mbulk count string";
static const char ERR_BULK_BIG[] = "Protocol error: too big bulk count string";
static const char ERR_INLINE_BIG[] = "Protocol error: too big inline request";
static const char ERR_QUOTES[] =
    "Protocol error: unbalanced quotes in request";
static const char ERR_OOM[] = "out of memory";

/*
 * "Protocol error: expected '$', got 'X'" for every byte X, built at compile
 * time so p->error stays a static string like the others.
 */
#define EXP_CH(c) ((c) == 0 || (c) == '\r' || (c) == '\n' ? ' ' : (char)(c))
#define EXP_ROW(c)                                                          \
    { 'P', 'r', 'o', 't', 'o', 'c', 'o', 'l', ' ', 'e', 'r', 'r', 'o', 'r', \
      ':', ' ', 'e', 'x', 'p', 'e', 'c', 't', 'e', 'd', ' ', '\'', '$',     \
      '\'', ',', ' ', 'g', 'o', 't', ' ', '\'', EXP_CH(c), '\'', '\0' }
#define EXP_R4(b) EXP_ROW(b), EXP_ROW((b) + 1), EXP_ROW((b) + 2), EXP_ROW((b) + 3)
#define EXP_R16(b) EXP_R4(b), EXP_R4((b) + 4), EXP_R4((b) + 8), EXP_R4((b) + 12)
#define EXP_R64(b) \
    EXP_R16(b), EXP_R16((b) + 16), EXP_R16((b) + 32), EXP_R16((b) + 48)
static const char expected_dollar[256][38] = {
    EXP_R64(0), EXP_R64(64), EXP_R64(128), EXP_R64(192)
};

void rcache__resp_limits_default(rcache__resp_limits_t *lim)
{
    lim->max_args = (size_t)1024 * 1024;
    lim->max_bulk_len = (size_t)512 * 1024 * 1024;
    lim->max_inline_len = (size_t)64 * 1024;
}

/* Forget the current command (keeps the buffers). */
static void reset_command(rcache__resp_parser_t *p)
{
    p->state = ST_START;
    p->inline_mode = 0;
    p->pos = 0;
    p->scan = 0;
    p->nargs = 0;
    p->bulk_len = -1;
    p->argc = 0;
}

int rcache__resp_parser_init(rcache__resp_parser_t *p,
                             const rcache__resp_limits_t *lim)
{
    memset(p, 0, sizeof(*p));
    if (lim)
        p->lim = *lim;
    else
        rcache__resp_limits_default(&p->lim);
    p->arg_off = malloc(RESP_INIT_ARGS * sizeof(size_t));
    p->arg_len = malloc(RESP_INIT_ARGS * sizeof(size_t));
    if (!p->arg_off || !p->arg_len) {
        rcache__resp_parser_free(p);
        return -1;
    }
    p->cap = RESP_INIT_ARGS;
    reset_command(p);
    return 0;
}

void rcache__resp_parser_free(rcache__resp_parser_t *p)
{
    free(p->arg_off);
    free(p->arg_len);
    free(p->inline_buf);
    p->arg_off = NULL;
    p->arg_len = NULL;
    p->inline_buf = NULL;
    p->cap = 0;
    p->inline_cap = 0;
}

static int fail(rcache__resp_parser_t *p, const char *msg)
{
    p->error = msg;
    p->state = ST_ERROR;
    return STEP_FAIL;
}

/* Resize both offset arrays to n slots. Returns 0, or -1 (unchanged). */
static int resize_args(rcache__resp_parser_t *p, size_t n)
{
    size_t *off, *len;

    if (n > SIZE_MAX / sizeof(size_t))
        return -1;
    off = realloc(p->arg_off, n * sizeof(size_t));
    if (!off)
        return -1;
    p->arg_off = off;
    len = realloc(p->arg_len, n * sizeof(size_t));
    if (!len) {
        if (n < p->cap)
            p->cap = n; /* arg_off already shrank: both hold n */
        return -1;      /* growing: arg_off is merely larger than cap */
    }
    p->arg_len = len;
    p->cap = n;
    return 0;
}

/* Record a completed argument; the arrays grow only with completed ones. */
static int push_arg(rcache__resp_parser_t *p, size_t off, size_t len)
{
    if (p->argc == p->cap) {
        size_t n = p->cap ? p->cap * 2 : RESP_INIT_ARGS;
        if (n < p->cap || resize_args(p, n) != 0)
            return -1;
    }
    p->arg_off[p->argc] = off;
    p->arg_len[p->argc] = len;
    p->argc++;
    return 0;
}

/*
 * Redis's string2ll(): optional '-', no '+', no leading zeros (except "0"),
 * no spaces, fewer than 21 bytes, no overflow. Returns 1 and sets *out, or 0.
 */
static int parse_ll(const char *s, size_t n, long long *out)
{
    unsigned long long v;
    size_t i = 0;
    int neg = 0;

    if (n == 0 || n >= 21)
        return 0;
    if (n == 1 && s[0] == '0') {
        *out = 0;
        return 1;
    }
    if (s[0] == '-') {
        neg = 1;
        if (++i == n)
            return 0;
    }
    if (s[i] < '1' || s[i] > '9')
        return 0;
    v = (unsigned long long)(s[i++] - '0');
    for (; i < n; i++) {
        unsigned d = (unsigned)((unsigned char)s[i] - '0');
        if (d > 9 || v > ULLONG_MAX / 10 || v * 10 > ULLONG_MAX - d)
            return 0;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return 0;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN
                                                      : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX)
            return 0;
        *out = (long long)v;
    }
    return 1;
}

/*
 * Find the first `term` byte of the line starting at buf[start]. Only the
 * line's first max+1 bytes are searched: Redis refuses a line once more than
 * max bytes are buffered without a terminator, and searching a fixed window
 * makes the answer the same however the bytes were chunked. p->scan keeps
 * how much of the line was already searched. On LINE_FOUND *at is the
 * terminator's index in buf.
 */
static int find_term(rcache__resp_parser_t *p, const char *buf, size_t len,
                     size_t start, char term, size_t max, size_t *at)
{
    size_t avail = len - start;
    size_t window = avail > max ? max + 1 : avail;

    if (p->scan < window) {
        const char *hit = memchr(buf + start + p->scan, term, window - p->scan);
        if (hit) {
            *at = (size_t)(hit - buf);
            p->scan = *at - start;
            return LINE_FOUND;
        }
        p->scan = window;
    }
    return avail > max ? LINE_TOO_BIG : LINE_MORE;
}

/*
 * A "*count" or "$len" line at p->pos: ends at the first '\r', and (like
 * Redis) the byte after it must be present but is not checked. On STEP_GO
 * *cr is the '\r' index.
 */
static int count_line(rcache__resp_parser_t *p, const char *buf, size_t len,
                      const char *too_big, size_t *cr)
{
    int r = find_term(p, buf, len, p->pos, '\r', p->lim.max_inline_len, cr);

    if (r == LINE_TOO_BIG)
        return fail(p, too_big);
    if (r == LINE_MORE || len - *cr < 2)
        return STEP_MORE;
    return STEP_GO;
}

static int step_start(rcache__resp_parser_t *p, const char *buf, size_t len)
{
    if (len == 0)
        return STEP_MORE;
    p->inline_mode = buf[0] != '*';
    p->state = p->inline_mode ? ST_INLINE : ST_MB_COUNT;
    return STEP_GO;
}

static int step_mb_count(rcache__resp_parser_t *p, const char *buf,
                         size_t len)
{
    size_t cr;
    long long n;
    int r = count_line(p, buf, len, ERR_MBULK_BIG, &cr);

    if (r != STEP_GO)
        return r;
    if (!parse_ll(buf + 1, cr - 1, &n) ||
        (n > 0 && (unsigned long long)n > p->lim.max_args))
        return fail(p, ERR_MBULK_LEN);
    p->pos = cr + 2;
    p->scan = 0;
    if (n <= 0)
        return STEP_DONE; /* "*0" / "*-1": an empty command */
    p->nargs = n;
    p->state = ST_BULK_HDR;
    return STEP_GO;
}

static int step_bulk_hdr(rcache__resp_parser_t *p, const char *buf,
                         size_t len)
{
    size_t cr;
    long long n;
    int r = count_line(p, buf, len, ERR_BULK_BIG, &cr);

    if (r != STEP_GO)
        return r;
    if (buf[p->pos] != '$')
        return fail(p, expected_dollar[(unsigned char)buf[p->pos]]);
    if (!parse_ll(buf + p->pos + 1, cr - p->pos - 1, &n) || n < 0 ||
        (unsigned long long)n > p->lim.max_bulk_len)
        return fail(p, ERR_BULK_LEN);
    p->bulk_len = n;
    p->pos = cr + 2;
    p->scan = 0;
    p->state = ST_BULK_DATA;
    return STEP_GO;
}

static int step_bulk_data(rcache__resp_parser_t *p, size_t len)
{
    size_t need = (size_t)p->bulk_len;
    size_t avail = len - p->pos;

    if (avail < 2 || avail - 2 < need)
        return STEP_MORE;
    if (push_arg(p, p->pos, need) != 0)
        return fail(p, ERR_OOM);
    p->pos += need + 2; /* the trailing two bytes are skipped, as Redis */
    p->bulk_len = -1;
    if (p->argc == (size_t)p->nargs)
        return STEP_DONE;
    p->state = ST_BULK_HDR;
    return STEP_GO;
}

/* isspace() in the C locale (what sdssplitargs uses to skip blanks). */
static int is_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
           c == '\r';
}

static int hex_val(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static char unescape(char c)
{
    switch (c) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'a': return '\a';
    default: return c;
    }
}

/*
 * Inside "double quotes" at s[*i]: consume one source unit, append its byte
 * to out[*o]. Returns 1 when the closing quote was consumed, 0 to go on,
 * -1 for a closing quote not followed by a blank or the end.
 */
static int dquote_unit(const char *s, size_t n, size_t *i, char *out,
                       size_t *o)
{
    size_t k = *i;

    if (s[k] == '\\' && k + 3 < n && s[k + 1] == 'x' &&
        hex_val((unsigned char)s[k + 2]) >= 0 &&
        hex_val((unsigned char)s[k + 3]) >= 0) {
        out[(*o)++] = (char)(hex_val((unsigned char)s[k + 2]) * 16 +
                             hex_val((unsigned char)s[k + 3]));
        *i = k + 4;
    } else if (s[k] == '\\' && k + 1 < n) {
        out[(*o)++] = unescape(s[k + 1]);
        *i = k + 2;
    } else if (s[k] == '"') {
        if (k + 1 < n && !is_blank((unsigned char)s[k + 1]))
            return -1;
        *i = k + 1;
        return 1;
    } else {
        out[(*o)++] = s[k];
        *i = k + 1;
    }
    return 0;
}

/* Same for 'single quotes', where only \' is an escape. */
static int squote_unit(const char *s, size_t n, size_t *i, char *out,
                       size_t *o)
{
    size_t k = *i;

    if (s[k] == '\\' && k + 1 < n && s[k + 1] == '\'') {
        out[(*o)++] = '\'';
        *i = k + 2;
    } else if (s[k] == '\'') {
        if (k + 1 < n && !is_blank((unsigned char)s[k + 1]))
            return -1;
        *i = k + 1;
        return 1;
    } else {
        out[(*o)++] = s[k];
        *i = k + 1;
    }
    return 0;
}

/*
 * One sdssplitargs token starting at s[*i] (a non-blank byte), unescaped
 * into out; *olen gets its length. A quote may open mid-token (a"b c" is
 * the one argument `ab c`). Returns 0, or -1 for unbalanced quotes.
 */
static int split_token(const char *s, size_t n, size_t *i, char *out,
                       size_t *olen)
{
    size_t o = 0;
    int quote = 0; /* 0, '"' or '\'' */

    while (*i < n) {
        int r;
        if (quote == '"') {
            r = dquote_unit(s, n, i, out, &o);
        } else if (quote == '\'') {
            r = squote_unit(s, n, i, out, &o);
        } else {
            char c = s[*i];
            if (c == ' ' || c == '\r' || c == '\t' || c == '\n')
                break; /* \v and \f end no unquoted token, as in Redis */
            if (c == '"' || c == '\'')
                quote = (unsigned char)c;
            else
                out[o++] = c;
            (*i)++;
            continue;
        }
        if (r < 0)
            return -1;
        if (r > 0) {
            quote = 0;
            break;
        }
    }
    if (quote)
        return -1; /* the line ended inside quotes */
    *olen = o;
    return 0;
}

/* Make room for n unescaped bytes in p->inline_buf. */
static int reserve_inline(rcache__resp_parser_t *p, size_t n)
{
    char *b;

    if (n <= p->inline_cap)
        return 0;
    if (n < 64)
        n = 64;
    b = realloc(p->inline_buf, n);
    if (!b)
        return -1;
    p->inline_buf = b;
    p->inline_cap = n;
    return 0;
}

/* Split the line s[0..n) like sdssplitargs into p->inline_buf. */
static int split_inline(rcache__resp_parser_t *p, const char *s, size_t n)
{
    size_t i = 0, w = 0;

    if (reserve_inline(p, n) != 0)
        return fail(p, ERR_OOM);
    for (;;) {
        size_t tlen;
        while (i < n && is_blank((unsigned char)s[i]))
            i++;
        if (i == n)
            return STEP_DONE;
        if (split_token(s, n, &i, p->inline_buf + w, &tlen) != 0)
            return fail(p, ERR_QUOTES);
        if (push_arg(p, w, tlen) != 0)
            return fail(p, ERR_OOM);
        w += tlen;
    }
}

static int step_inline(rcache__resp_parser_t *p, const char *buf, size_t len)
{
    size_t nl, end;
    int r = find_term(p, buf, len, 0, '\n', p->lim.max_inline_len, &nl);

    if (r == LINE_TOO_BIG)
        return fail(p, ERR_INLINE_BIG);
    if (r == LINE_MORE)
        return STEP_MORE;
    end = nl;
    if (end > 0 && buf[end - 1] == '\r')
        end--;
    p->pos = nl + 1;
    return split_inline(p, buf, end);
}

/* Make the caller's argv hold at least n entries. */
static int reserve_argv(rcache__resp_arg_t **argv, size_t *argv_cap, size_t n)
{
    rcache__resp_arg_t *a;
    size_t cap = *argv_cap;

    if (n <= cap)
        return 0;
    cap = cap > SIZE_MAX / 4 ? n : cap * 2;
    if (cap < n)
        cap = n;
    if (cap < RESP_ARGV_MIN)
        cap = RESP_ARGV_MIN;
    if (cap > SIZE_MAX / sizeof(*a))
        return -1;
    a = realloc(*argv, cap * sizeof(*a));
    if (!a)
        return -1;
    *argv = a;
    *argv_cap = cap;
    return 0;
}

/* A command is complete: hand out argv, reset for the next command. */
static int finish(rcache__resp_parser_t *p, const char *buf,
                  rcache__resp_arg_t **argv, size_t *argv_cap, size_t *argc,
                  size_t *consumed)
{
    const char *base = p->inline_mode ? p->inline_buf : buf;
    size_t i;

    if (reserve_argv(argv, argv_cap, p->argc) != 0) {
        fail(p, ERR_OOM);
        return RCACHE_RESP_ERROR;
    }
    for (i = 0; i < p->argc; i++) {
        (*argv)[i].ptr = base + p->arg_off[i];
        (*argv)[i].len = p->arg_len[i];
    }
    *argc = p->argc;
    *consumed = p->pos;
    if (p->cap > RESP_KEEP_ARGS)
        (void)resize_args(p, RESP_KEEP_ARGS); /* after a huge command */
    reset_command(p);
    return RCACHE_RESP_OK;
}

size_t rcache__resp_need(const rcache__resp_parser_t *p)
{
    if (p->state != ST_BULK_DATA || p->bulk_len < 0)
        return 0;
    return p->pos + (size_t)p->bulk_len + 2;
}

/* How far into buf the saved progress reaches (the caller must pass at
 * least that much again). */
static size_t progress(const rcache__resp_parser_t *p)
{
    if (p->state == ST_MB_COUNT || p->state == ST_BULK_HDR ||
        p->state == ST_INLINE)
        return p->pos + p->scan;
    return p->pos;
}

/*
 * Fast path: the digits of a well-formed count or length line whose prefix
 * byte is at buf[i - 1] ("0", or 1 to 18 digits without a leading zero,
 * then '\r' and one more byte, within the line limit). Returns the '\r'
 * index, or 0 when the general steps must decide (anything else, errors
 * included).
 */
static size_t fast_digits(const char *buf, size_t len, size_t i, size_t max_line,
                          long long *out)
{
    size_t start = i;
    unsigned long long v = 0;

    if (i >= len || buf[i] < '0' || buf[i] > '9')
        return 0;
    if (buf[i] == '0') {
        i++;
    } else {
        while (i < len && i - start < 18 && buf[i] >= '0' && buf[i] <= '9')
            v = v * 10 + (unsigned)(buf[i++] - '0');
    }
    if (i + 1 >= len || buf[i] != '\r' || i - (start - 1) > max_line)
        return 0;
    *out = (long long)v;
    return i;
}

/*
 * Fast path for the usual request: a whole multibulk command already in
 * buf, every line well formed. It takes the arguments the general steps
 * would take, without their per-line state and memchr; on anything else
 * it leaves p as it found it and returns 0, and the general steps run (so
 * errors, partial commands and their texts are theirs alone).
 */
static int fast_command(rcache__resp_parser_t *p, const char *buf, size_t len)
{
    long long n, blen;
    size_t max_line = p->lim.max_inline_len;
    size_t cr = fast_digits(buf, len, 1, max_line, &n);
    size_t pos;

    if (!cr || n == 0 || (unsigned long long)n > p->lim.max_args)
        return 0;
    pos = cr + 2;
    for (long long k = 0; k < n; k++) {
        if (pos >= len || buf[pos] != '$')
            break;
        cr = fast_digits(buf, len, pos + 1, max_line, &blen);
        if (!cr || (unsigned long long)blen > p->lim.max_bulk_len)
            break;
        pos = cr + 2;
        if (len - pos < 2 || len - pos - 2 < (size_t)blen ||
            push_arg(p, pos, (size_t)blen) != 0)
            break;
        pos += (size_t)blen + 2;
    }
    if (p->argc != (size_t)n) {
        p->argc = 0;
        return 0;
    }
    p->pos = pos;
    return 1;
}

int rcache__resp_parse(rcache__resp_parser_t *p, const char *buf, size_t len,
                       rcache__resp_arg_t **argv, size_t *argv_cap,
                       size_t *argc, size_t *consumed)
{
    int r = STEP_GO;

    *argc = 0;
    *consumed = 0;
    if (p->state == ST_START && len > 0 && buf[0] == '*' && fast_command(p, buf, len))
        return finish(p, buf, argv, argv_cap, argc, consumed);
    if (p->state != ST_ERROR && len < progress(p))
        return RCACHE_RESP_NEED_MORE; /* caller broke the contract: wait */
    while (r == STEP_GO) {
        switch (p->state) {
        case ST_START: r = step_start(p, buf, len); break;
        case ST_MB_COUNT: r = step_mb_count(p, buf, len); break;
        case ST_BULK_HDR: r = step_bulk_hdr(p, buf, len); break;
        case ST_BULK_DATA: r = step_bulk_data(p, len); break;
        case ST_INLINE: r = step_inline(p, buf, len); break;
        default: r = STEP_FAIL; break;
        }
    }
    if (r == STEP_DONE)
        return finish(p, buf, argv, argv_cap, argc, consumed);
    return r == STEP_MORE ? RCACHE_RESP_NEED_MORE : RCACHE_RESP_ERROR;
}

/* ---- reply encoders ---------------------------------------------------- */

static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Decimal digits of v into out; returns how many (1..20). */
static size_t fmt_u64(char *out, unsigned long long v)
{
    char tmp[20];
    size_t n = sizeof(tmp);

    while (v >= 100) {
        unsigned d = (unsigned)(v % 100) * 2;
        v /= 100;
        tmp[--n] = digit_pairs[d + 1];
        tmp[--n] = digit_pairs[d];
    }
    if (v >= 10) {
        unsigned d = (unsigned)v * 2;
        tmp[--n] = digit_pairs[d + 1];
        tmp[--n] = digit_pairs[d];
    } else {
        tmp[--n] = (char)('0' + v);
    }
    memcpy(out, tmp + n, sizeof(tmp) - n);
    return sizeof(tmp) - n;
}

/* "<prefix><v>\r\n" for a signed value. */
static size_t fmt_signed(char *out, char prefix, long long v)
{
    size_t n = 0;
    unsigned long long u = (unsigned long long)v;

    out[n++] = prefix;
    if (v < 0) {
        out[n++] = '-';
        u = 0ULL - u;
    }
    n += fmt_u64(out + n, u);
    out[n++] = '\r';
    out[n++] = '\n';
    return n;
}

size_t rcache__resp_fmt_int(char *out, long long v)
{
    return fmt_signed(out, ':', v);
}

size_t rcache__resp_fmt_bulk_hdr(char *out, size_t len)
{
    size_t n = 0;

    out[n++] = '$';
    n += fmt_u64(out + n, (unsigned long long)len);
    out[n++] = '\r';
    out[n++] = '\n';
    return n;
}

size_t rcache__resp_fmt_array_hdr(char *out, long long n)
{
    return fmt_signed(out, '*', n);
}
