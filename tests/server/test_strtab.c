/*
 * test_strtab.c - the string-keyed table shared by Pub/Sub and tracking
 * (src/server/strtab.c): binary-safe names (embedded NULs, one name a
 * prefix of another, the empty name), every node found after the table
 * doubles many times, unlinking keeps the others findable and the count
 * right, and the plain-list variant finds the same way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strtab.h"

#define N 5000

typedef struct {
    rcache__strtab_node_t h;
    int id;
    char name[24];
} item_t;

/* Name i: "n" + decimal + a NUL + a byte, so names differ after a NUL and
 * "n1" is a prefix of "n10". Item N-1 is the empty name. */
static size_t name_of(int i, char *buf) {
    if (i == N - 1)
        return 0;
    int n = snprintf(buf, 16, "n%d", i);
    buf[n] = '\0';
    buf[n + 1] = (char)(i & 0xff);
    return (size_t)n + 2;
}

static item_t *find(rcache__strtab_t *t, int i) {
    char buf[24];
    size_t len = name_of(i, buf);
    return (item_t *)*rcache__strtab_slot(t, buf, len);
}

static void test_grow_find_unlink(void **state) {
    (void)state;
    rcache__strtab_t t;
    item_t *items = calloc(N, sizeof *items);
    assert_non_null(items);
    assert_int_equal(rcache__strtab_init(&t, 4), 0);
    for (int i = 0; i < N; i++) {
        items[i].id = i;
        items[i].h.len = name_of(i, items[i].name);
        items[i].h.name = items[i].name;
        rcache__strtab_node_t **slot = rcache__strtab_slot(&t, items[i].name, items[i].h.len);
        assert_null(*slot);
        rcache__strtab_link(&t, slot, &items[i].h);
    }
    assert_int_equal(t.count, N);
    assert_true(t.mask + 1 >= N / 2); /* it grew */
    for (int i = 0; i < N; i++)
        assert_ptr_equal(find(&t, i), &items[i]);
    for (int i = 0; i < N; i += 2) {
        char buf[24];
        size_t len = name_of(i, buf);
        rcache__strtab_node_t *n = rcache__strtab_unlink(&t, rcache__strtab_slot(&t, buf, len));
        assert_ptr_equal(n, &items[i].h);
    }
    assert_int_equal(t.count, N / 2);
    for (int i = 0; i < N; i++)
        assert_ptr_equal(find(&t, i), i % 2 ? &items[i] : NULL);
    rcache__strtab_fini(&t);
    assert_null(t.buckets);
    free(items);
}

static void test_list_slot(void **state) {
    (void)state;
    item_t a = {.h = {.name = "ab", .len = 2}}, b = {.h = {.name = "a\0b", .len = 3}};
    rcache__strtab_node_t *head = NULL;
    rcache__strtab_node_t **end = rcache__strtab_list_slot(&head, "ab", 2);
    *end = &a.h;
    end = rcache__strtab_list_slot(&head, "a\0b", 3);
    assert_null(*end);
    *end = &b.h;
    assert_ptr_equal(*rcache__strtab_list_slot(&head, "ab", 2), &a.h);
    assert_ptr_equal(*rcache__strtab_list_slot(&head, "a\0b", 3), &b.h);
    assert_null(*rcache__strtab_list_slot(&head, "a", 1));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grow_find_unlink),
        cmocka_unit_test(test_list_slot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
