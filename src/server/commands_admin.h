/*
 * commands_admin.h - the operator commands' hooks (commands_admin.c) that
 * the client loop (client.c), CLIENT (commands_conn.c) and INFO
 * (commands_server.c) call. Thread-safety: the client ones on c's worker
 * thread only; the INFO ones from any thread.
 */
#ifndef RCACHE_SERVER_COMMANDS_ADMIN_H
#define RCACHE_SERVER_COMMANDS_ADMIN_H

#include "command.h"

struct evbuffer;

/* CLIENT REPLY: before a command, point c's output at a scratch buffer if
 * its reply is to be dropped (returned; NULL: reply as usual); after it,
 * restore with rcache__reply_unmute(c, returned). */
struct evbuffer *rcache__reply_mute(rcache__client_t *c);
void rcache__reply_unmute(rcache__client_t *c, struct evbuffer *scratch);
/* CLIENT PAUSE: 1 if c's command argv must wait (client.c holds c and
 * retries). */
int rcache__pause_blocks(rcache__client_t *c, size_t argc, const rcache__arg_t *argv);
/* CLIENT REPLY|PAUSE|UNPAUSE|NO-EVICT: 1 if argv[1] was one of them
 * (replied), 0 otherwise (nothing done). */
int rcache__client_admin(rcache__client_t *c, size_t argc, const rcache__arg_t *argv);
/* MEMORY STATS (Redis's field names; what rcached can tell). */
void rcache__memory_stats(rcache__client_t *c);
/* INFO: the cpu section's fields, and extra server / clients fields. */
void rcache__info_cpu(struct evbuffer *b);
void rcache__info_server_extra(rcache__server_t *s, struct evbuffer *b);
void rcache__info_clients_extra(rcache__server_t *s, struct evbuffer *b);

#endif /* RCACHE_SERVER_COMMANDS_ADMIN_H */
