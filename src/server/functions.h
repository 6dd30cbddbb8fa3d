/*
 * functions.h - Redis 7 functions (functions.c): the library registry and
 * its Lua state, driven by FUNCTION and FCALL (commands_function.c), and
 * the FUNCTION DUMP payload codec (function_dump.c).
 *
 * Thread-safety: the registry and its Lua state are used only by the
 * holder of the exclusive gate (gate.h), like the EVAL engine, except
 * rcache__functions_running() (any thread; FUNCTION STATS must answer
 * while a function runs) and rcache__fdump_* (pure).
 */
#ifndef RCACHE_SERVER_FUNCTIONS_H
#define RCACHE_SERVER_FUNCTIONS_H

#include "command.h"

/* Function flags (redis.register_function's flags), in Redis's order. */
#define RCACHE__FN_NO_WRITES       0x01u
#define RCACHE__FN_ALLOW_OOM       0x02u
#define RCACHE__FN_ALLOW_STALE     0x04u
#define RCACHE__FN_NO_CLUSTER      0x08u
#define RCACHE__FN_ALLOW_CROSS_SLOT 0x10u
#define RCACHE__FN_NFLAGS 5
/* The name of flag bit i (0..RCACHE__FN_NFLAGS-1). */
const char *rcache__fn_flag_name(int i);

typedef struct rcache__fn {
    char *name;
    char *desc;      /* NULL: none */
    unsigned flags;  /* RCACHE__FN_* */
} rcache__fn_t;

typedef struct rcache__lib {
    char *name;
    char *code;      /* as loaded, shebang included */
    size_t code_len;
    rcache__fn_t *fns;
    size_t nfns, capfns;
} rcache__lib_t;

/* The loaded libraries (valid until the next change; gate held). */
const rcache__lib_t *rcache__functions_libs(size_t *n);

/* FUNCTION LOAD: 0 and the library name in *name_out (owned by the
 * registry), or -1 after replying the error to c. */
int rcache__functions_load(rcache__client_t *c, const char *code, size_t len,
                           int replace, const char **name_out);
/* FUNCTION DELETE: 0, or -1 if there is no such library. */
int rcache__functions_delete(const char *name, size_t len);
/* FUNCTION FLUSH: every library (and the Lua state) goes. */
void rcache__functions_flush(void);
/* FUNCTION RESTORE with decoded library codes. policy: 'F'lush, 'A'ppend,
 * 'R'eplace. 0 (all loaded), or -1 after replying the error to c (nothing
 * changed). */
int rcache__functions_restore(rcache__client_t *c, char **codes, const size_t *lens,
                              size_t n, int policy);
/* FCALL / FCALL_RO: run function name with keys and args; replies. */
void rcache__functions_call(rcache__client_t *c, const rcache__arg_t *name,
                            const rcache__arg_t *keys, size_t nkeys,
                            const rcache__arg_t *args, size_t nargs, int ro_cmd);
/* FUNCTION STATS' running_script: if a function runs, write its name (cap
 * bytes, NUL-terminated) and its run time so far; 1 if one runs. */
int rcache__functions_running(char *name, size_t cap, uint64_t *ms);
/* Libraries (fns 0) or functions (fns 1) loaded now (any thread). */
size_t rcache__functions_count(int fns);
/* A copy of the loaded libraries' codes, as of the last change (for
 * snapshots): *n codes, (*codes)[i] of (*lens)[i] bytes; the caller frees
 * them with rcache__functions_codes_free(). 0, or -1 when out of memory
 * (now or when the libraries last changed). Any thread. */
int rcache__functions_codes(char ***codes, size_t **lens, size_t *n);
void rcache__functions_codes_free(char **codes, size_t *lens, size_t n);
/* Free everything at shutdown (after the workers stopped). */
void rcache__functions_shutdown(void);

/* ---- FUNCTION DUMP payload (function_dump.c), Redis 7.0's format: per
 * library the RDB opcode FUNCTION2 (245) and the code as an RDB string
 * (LZF-compressed above 20 bytes when that saves space, as Redis), then
 * the RDB version (2 bytes LE) and CRC-64 (8 bytes LE) of all before. */
/* Encode n codes into a malloc'd payload (*out, *out_len). 0 or -1 (no
 * memory). */
int rcache__fdump_encode(char *const *codes, const size_t *lens, size_t n,
                         unsigned char **out, size_t *out_len);
/* Decode a payload (bounded: never reads past len, no string longer than
 * the payload allows or 512 MiB). 0 with malloc'd codes, lens and n (the
 * caller frees each code and both arrays), or -1 with err set to Redis's
 * error text (static). */
int rcache__fdump_decode(const unsigned char *p, size_t len, char ***codes,
                         size_t **lens, size_t *n, const char **err);

#endif /* RCACHE_SERVER_FUNCTIONS_H */
