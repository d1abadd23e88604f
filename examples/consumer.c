/* consumer.c - the smallest program using an installed rcgc: builds a cycle
 * and lets the collector free it. Used by tools/check-install.sh. */
#include <rcgc.h>
#include <stdio.h>

typedef struct pair { rcgc_object_t ob; rcgc_object_t *other; } pair_t;

static int pair_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    RCGC_VISIT(((pair_t *)self)->other, visit, arg);
    return 0;
}
static int pair_clear(rcgc_object_t *self) {
    RCGC_CLEAR(((pair_t *)self)->other);
    return 0;
}
static const rcgc_type_t pair_type = {
    .name = "pair", .basic_size = sizeof(pair_t), .flags = RCGC_TYPE_GC,
    .traverse = pair_traverse, .clear = pair_clear,
};

int main(void) {
    if (rcgc_init() != 0) {
        fprintf(stderr, "rcgc_init: %s\n", rcgc_last_error_message());
        return 1;
    }
    pair_t *a = (pair_t *)rcgc_object_new(&pair_type);
    pair_t *b = (pair_t *)rcgc_object_new(&pair_type);
    a->other = rcgc_newref(&b->ob);
    b->other = rcgc_newref(&a->ob);
    rcgc_decref(&a->ob);
    rcgc_decref(&b->ob);
    intptr_t found = rcgc_gc_collect(2);
    printf("%s build: live objects %zu, collect() -> %ld\n", rcgc_flavour(), rcgc_object_live_count(), (long)found);
    rcgc_shutdown();
    return 0;
}
