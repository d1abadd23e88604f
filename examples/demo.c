/* demo.c - what rcgc does, in one run (`make demo`):
 *  1. reference counting frees objects the moment their count reaches zero;
 *  2. a cycle that counting cannot free is found and freed by the collector;
 *  3. a weak reference's callback fires when its referent is collected;
 *  4. a finalizer resurrects its object (PEP 442), and runs only once;
 *  5. per-generation statistics. */
#include <rcgc.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct node {
    rcgc_object_t ob;
    const char *label;
    struct node *left, *right;
    rcgc_object_t *weaklist;
} node_t;

static int node_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    node_t *n = (node_t *)self;
    RCGC_VISIT(n->left, visit, arg);
    RCGC_VISIT(n->right, visit, arg);
    return 0;
}

static int node_clear(rcgc_object_t *self) {
    node_t *n = (node_t *)self;
    RCGC_CLEAR(n->left);
    RCGC_CLEAR(n->right);
    return 0;
}

/* traverse + clear is all a type needs: the library's default dealloc does the rest. */
static const rcgc_type_t node_type = {
    .name = "node", .basic_size = sizeof(node_t),
    .flags = RCGC_TYPE_GC | RCGC_TYPE_WEAKREFABLE, .weaklist_offset = offsetof(node_t, weaklist),
    .traverse = node_traverse, .clear = node_clear,
};

static node_t *rescued; /* where the phoenix's finalizer puts itself */
static int phoenix_finalize(rcgc_object_t *self) {
    printf("   finalizer of %s runs: it stores itself in a global (resurrection)\n", ((node_t *)self)->label);
    rescued = (node_t *)rcgc_newref(self);
    return 0;
}
static const rcgc_type_t phoenix_type = {
    .name = "phoenix", .basic_size = sizeof(node_t), .flags = RCGC_TYPE_GC,
    .traverse = node_traverse, .clear = node_clear, .finalize = phoenix_finalize,
};

static node_t *new_node(const rcgc_type_t *type, const char *label) {
    node_t *n = (node_t *)rcgc_object_new(type);
    if (!n) {
        fprintf(stderr, "out of memory: %s\n", rcgc_last_error_message());
        exit(1);
    }
    n->label = label;
    return n;
}

static int on_collected(rcgc_object_t *wr, rcgc_object_t *ctx, void *data) {
    printf("   weakref callback: \"%s\" is gone (weakref now reads %s)\n", (const char *)data,
           rcgc_weakref_peek(wr) ? "alive" : "NULL");
    return 0;
}

static void print_live(const char *when) { printf("   live objects %s: %zu\n", when, rcgc_object_live_count()); }

int main(void) {
    if (rcgc_init() != 0) {
        fprintf(stderr, "rcgc_init failed: %s\n", rcgc_last_error_message());
        return 1;
    }
    printf("rcgc %d.%d.%d, %s build, object header %zu bytes\n\n", RCGC_VERSION_MAJOR, RCGC_VERSION_MINOR,
           RCGC_VERSION_PATCH, rcgc_flavour(), sizeof(rcgc_object_t));
    rcgc_gc_disable(); /* collect only when asked, so the demo is deterministic */

    printf("1. reference counting: a tree of 7 nodes\n");
    print_live("before");
    node_t *root = new_node(&node_type, "root");
    root->left = new_node(&node_type, "l");
    root->right = new_node(&node_type, "r");
    root->left->left = new_node(&node_type, "ll");
    root->left->right = new_node(&node_type, "lr");
    root->right->left = new_node(&node_type, "rl");
    root->right->right = new_node(&node_type, "rr");
    print_live("with the tree");
    rcgc_decref(&root->ob);
    print_live("after dropping the root (freed at once)");

    printf("\n2. a cycle: a <-> b, then both external references dropped\n");
    node_t *a = new_node(&node_type, "a"), *b = new_node(&node_type, "b");
    a->right = (node_t *)rcgc_newref(&b->ob);
    b->right = (node_t *)rcgc_newref(&a->ob);
    printf("3. a weak reference to a, with a callback\n");
    rcgc_object_t *wr = rcgc_weakref_new(&a->ob, on_collected, NULL, "a");
    rcgc_decref(&a->ob);
    rcgc_decref(&b->ob);
    print_live("after the drops (a, b and the weakref: counting alone cannot free a cycle)");
    intptr_t n = rcgc_gc_collect(2);
    if (n < 0) {
        printf("   collect: %s (the %s build's collector is not there yet)\n", rcgc_last_error_message(), rcgc_flavour());
    } else {
        printf("   collect() found %ld unreachable objects\n", (long)n);
        print_live("after the collection");
    }
    rcgc_decref(wr);

    printf("\n4. a finalizer that resurrects its object\n");
    node_t *p = new_node(&phoenix_type, "phoenix");
    p->right = (node_t *)rcgc_newref(&p->ob); /* a self-cycle */
    rcgc_decref(&p->ob);
    n = rcgc_gc_collect(2);
    if (n >= 0) {
        printf("   collect() -> %ld: the phoenix survived, finalized=%d\n", (long)n, rcgc_gc_is_finalized(&rescued->ob));
        rcgc_decref(&rescued->ob);
        n = rcgc_gc_collect(2);
        printf("   dropped again: collect() -> %ld, and the finalizer did not run a second time\n", (long)n);
    }

    printf("\n5. generation statistics\n");
    rcgc_gc_collect(0);
    rcgc_gc_collect(1);
    rcgc_gc_gen_stats_t st[RCGC_GC_NUM_GENERATIONS];
    rcgc_gc_get_stats(st);
    for (int g = 0; g < RCGC_GC_NUM_GENERATIONS; g++)
        printf("   generation %d: %ld collections, %ld collected, %ld uncollectable, %.6f s\n", g,
               (long)st[g].collections, (long)st[g].collected, (long)st[g].uncollectable, st[g].duration);
    print_live("at the end");
    rcgc_shutdown();
    return 0;
}
