/*
 * admin_auth.h - bearer-token access control of the admin API
 * (admin_auth.c): where the token comes from, the generated-token file,
 * and the constant-time check of the Authorization header.
 */
#ifndef RCACHE_ADMIN_AUTH_H
#define RCACHE_ADMIN_AUTH_H

#include <stddef.h>

#include "admin_internal.h"

/* Environment variables read (in this order) when the server passes no
 * token; rcached's own option parser reads them too. */
#define RCACHE__ADMIN_TOKEN_ENV "RCACHED_ADMIN_TOKEN"
#define RCACHE__ADMIN_TOKEN_ENV2 "RCACHE_ADMIN_TOKEN"
/* Generated tokens: 32 random bytes as 64 hex digits. */
#define RCACHE__ADMIN_TOKEN_BYTES 32

/*
 * Set a->token: opts->token, else $RCACHED_ADMIN_TOKEN or $RCACHE_ADMIN_TOKEN,
 * else a random one
 * written to opts->token_file or the default path (a->port must be set);
 * the path (never the token) is printed to stderr. 0 or -1 with err.
 */
int rcache__admin_auth_init(rcache__admin_t *a, const rcache__admin_opts_t *o,
                            char *err, size_t errlen);
/* Forget the token; remove the file if we wrote one. */
void rcache__admin_auth_fini(rcache__admin_t *a);

/* Check an Authorization header value (NULL when absent): 0 allowed,
 * 401 no bearer credentials, 403 wrong token. */
int rcache__admin_auth_check(const rcache__admin_t *a, const char *header);

/* 1 when equal; time depends only on blen (the secret's length). */
int rcache__admin_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Default token file: $XDG_RUNTIME_DIR/rcached-<port>.token when set, else
 * /tmp/rcached-<uid>-<port>.token. 0, or -1 when it does not fit. */
int rcache__admin_token_default_path(int port, char *out, size_t cap);

/* Write token + "\n" to a freshly created 0600 file (O_EXCL|O_NOFOLLOW;
 * a stale regular file of ours is removed first, a symlink or another
 * user's file is refused). 0 or -1 with err. */
int rcache__admin_token_write(const char *path, const char *token,
                              char *err, size_t errlen);

/* Fill hex (2 * RCACHE__ADMIN_TOKEN_BYTES + 1 bytes) from the kernel's
 * random source. 0 or -1. */
int rcache__admin_token_generate(char *hex);

#endif /* RCACHE_ADMIN_AUTH_H */
