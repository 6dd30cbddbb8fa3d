/*
 * bits.h - what the bitmap command files share (commands_bits.c,
 * commands_bitfield.c): the parsing of a bit offset argument.
 *
 * Thread-safety: any thread (reads the live proto-max-bulk-len).
 */
#ifndef RCACHE_SERVER_BITS_H
#define RCACHE_SERVER_BITS_H

#include "command.h"

#include <stdint.h>

/* Redis's getBitOffsetFromArgument(): a bit offset whose byte is below
 * proto-max-bulk-len. With hash_bits > 0 a "#N" offset means N fields of
 * hash_bits bits (BITFIELD; the product wraps as in Redis). Returns 1 with
 * *out set, or 0 after replying
 * "-ERR bit offset is not an integer or out of range". */
int rcache__bit_offset(rcache__client_t *c, const rcache__arg_t *a, int hash_bits,
                       uint64_t *out);

#endif /* RCACHE_SERVER_BITS_H */
