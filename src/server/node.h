/*
 * node.h - rcached as a node of a shared Redis/Valkey second tier
 * (node.c). Every function works without a tier too (plain L1 calls), so
 * command code calls them unconditionally where noted.
 */
#ifndef RCACHE_SERVER_NODE_H
#define RCACHE_SERVER_NODE_H

#include "command.h"
#include "rcache_tier.h"

/* Open the tier when cfg.l2 is set: 0, or -1 (logged). */
int rcache__node_open(rcache__server_t *s);
void rcache__node_close(rcache__server_t *s);
/* GET: L1, then L2 when a tier is attached. */
int rcache__node_get_ref(rcache__client_t *c, const rcache__arg_t *key,
                         rcache_ref_t **ref);
/* Plain SET (or RCACHE.SET: tags, ntags) through the tier (c->srv->tier
 * must be set); ttl_ms RCACHE_TTL_DEFAULT = the cache's default TTL. */
int rcache__node_set(rcache__client_t *c, const rcache__arg_t *key,
                     const rcache__arg_t *val, int64_t ttl_ms,
                     const rcache_tag_t *tags, size_t ntags);
/* After a write on L1 alone: write key's L1 value, TTL and tags to L2 (or
 * delete it there when L1 has none). No-op without a tier. */
void rcache__node_publish(rcache__client_t *c, const rcache__arg_t *key);
/* After a writing command ran on L1 (dispatcher): publish its keys to L2
 * (rcache__node_publish) unless the command went through the tier itself
 * (SET family, MSET, DEL, UNLINK, FLUSH*, RCACHE.INVALIDATE). No-op
 * without a tier. */
void rcache__node_after_write(rcache__client_t *c, const rcache__cmd_t *cmd,
                              size_t argc, const rcache__arg_t *argv);
/* DEL/UNLINK of one key: RCACHE_OK if it existed (in L1 or L2). */
int rcache__node_delete(rcache__client_t *c, const rcache__arg_t *key);
/* RCACHE.INVALIDATE: the keys of the client's database matching the
 * pattern (as the client names them); removed = keys removed (the larger
 * of L1's and L2's counts with a tier). */
int rcache__node_invalidate(rcache__client_t *c, const rcache__arg_t *pat,
                            uint64_t *removed);
/* The same for the admin API (no client): a key, a pattern, everything
 * (FLUSHALL, POST /api/cache/clear: with a tier, every key under the
 * prefix in the L2 too, so the other nodes drop theirs). */
int rcache__node_delete_key(rcache__server_t *s, const void *key, size_t len);
/* pat is matched against stored names (db_key.h): database db's (its
 * key class), or every database's when db < 0. */
int rcache__node_invalidate_pattern(rcache__server_t *s, int db, const char *pat,
                                    size_t len, uint64_t *removed);
int rcache__node_clear(rcache__server_t *s, uint64_t *removed);
/* RCACHE.TAG.INVALIDATE and the admin API's {"tag": ...}: with a tier,
 * rcache_tier_invalidate_tag() (L1, L2 and every node's L1); removed = the
 * larger of L1's and L2's counts. The rcache_invalidate_tag() codes, plus
 * RCACHE_TIER_EUNAVAIL. */
int rcache__node_invalidate_tag(rcache__server_t *s, const void *tag,
                                size_t len, uint64_t *removed);
/* Tier figures: 0, or -1 without a tier. */
int rcache__node_stats(const rcache__server_t *s, rcache_tier_stats_t *out);
/* rcache_tier_status() of the node's tier: 0, or -1 without one. */
int rcache__node_status(const rcache__server_t *s, rcache_tier_status_t *out);
/* INFO's "tier" section body ("field:value\r\n" lines); bytes written. */
size_t rcache__node_info(const rcache__server_t *s, char *buf, size_t cap);

#endif
