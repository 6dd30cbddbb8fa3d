/*
 * fuzz_admin_config.c - libFuzzer target for the admin API's config-body
 * validator (src/server/admin/admin_config.c): any bytes must give either a
 * change within the documented ranges or a 400/422 with a message, never a
 * crash, leak or out-of-range value.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc/server \
 *     tests/fuzz/fuzz_admin_config.c src/server/admin/admin_config.c -ljansson -lm \
 *     -o fuzz_admin_config
 *   ./fuzz_admin_config tests/fuzz/corpus/admin_config -max_total_time=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rcache__admin_config_change_t ch;
    rcache__admin_config_error_t err;
    int rc = rcache__admin_config_parse((const char *)data, size, &ch, &err);
    if (rc == 0) {
        if (ch.set & ~(unsigned)(RCACHE__CFG_MAX_ITEMS | RCACHE__CFG_MAX_BYTES |
                                 RCACHE__CFG_DEFAULT_TTL | RCACHE__CFG_ENABLED))
            abort();
        if ((ch.set & RCACHE__CFG_MAX_BYTES) &&
            ch.max_bytes > RCACHE__CFG_MAX_MEMORY_MB * 1048576ull)
            abort();
        if ((ch.set & RCACHE__CFG_DEFAULT_TTL) &&
            ch.default_ttl_ms > (uint64_t)(RCACHE__CFG_MAX_TTL_SECONDS * 1000.0))
            abort();
        if ((ch.set & RCACHE__CFG_ENABLED) && ch.enabled != 0 && ch.enabled != 1)
            abort();
    } else {
        if (rc != 400 && rc != 422)
            abort();
        if (rc != err.status || err.message[0] == '\0')
            abort();
        if (memchr(err.message, '\0', sizeof err.message) == NULL ||
            memchr(err.field, '\0', sizeof err.field) == NULL)
            abort();
    }
    return 0;
}
