/*
 * db_key.c - the key prefix of SELECT's numbered databases (db_key.h):
 * reading the database out of a stored key and writing a database's
 * prefix. Pure functions, shared by the dispatcher (db.c), the commands
 * that cross databases and the admin API.
 */
#include "db_key.h"

int rcache__db_of_key(const void *key, size_t len, const char **user, size_t *user_len) {
    const unsigned char *k = key;
    if (len >= RCACHE__DB_PREFIX_LEN && k[0] == 0x00 && k[1] == 0xFF &&
        k[2] > 0 && k[2] < RCACHE__DB_COUNT) {
        *user = (const char *)key + RCACHE__DB_PREFIX_LEN;
        *user_len = len - RCACHE__DB_PREFIX_LEN;
        return k[2];
    }
    *user = key;
    *user_len = len;
    return 0;
}

uint32_t rcache__db_class(const void *key, size_t len, void *ctx) {
    const char *user;
    size_t user_len;
    (void)ctx;
    return (uint32_t)rcache__db_of_key(key, len, &user, &user_len);
}

void rcache__db_prefix(int db, char out[RCACHE__DB_PREFIX_LEN]) {
    out[0] = 0x00;
    out[1] = (char)0xFF;
    out[2] = (char)db;
}
