/*
 * version.c - rcache_version(): the library's version at run time.
 *
 * The number is written once, in include/rcache.h; this file turns it into
 * the string a program linked against a shared librcache can compare with
 * the header it was compiled with.
 */
#include "rcache.h"

const char *rcache_version(void) { return RCACHE_VERSION_STRING; }
