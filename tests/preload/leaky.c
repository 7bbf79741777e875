/* Target program for the leak check, with known ground truth (compared with Valgrind memcheck):
 *   definite: 3 blocks of 100 B lost outright; the root of a lost tree (64 B)
 *   indirect: the lost tree's 4 children (32 B each); one of a lost 2-cycle (48 B)
 *   reachable: a global list of 5 x 200 B, and a static pointer to a 1000 B block
 * Prints "truth definite_bytes definite_blocks indirect_bytes indirect_blocks reachable_bytes
 * reachable_blocks" for the blocks it made itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node { struct node *next; char pad[192]; };
struct tree { void *child[4]; char pad[32]; };
struct cyc { struct cyc *other; char pad[40]; };

struct node *volatile list;
void *volatile keep;    /* external and volatile: the compiler may not drop the allocation */
static void *volatile sink;

__attribute__((noinline)) void lose_plain(void)
{
    for (int i = 0; i < 3; i++) { sink = malloc(100); memset(sink, 0, 100); }
    sink = NULL;
}

__attribute__((noinline)) void lose_tree(void)
{
    struct tree *t = malloc(sizeof *t);
    for (int i = 0; i < 4; i++) { t->child[i] = malloc(32); memset(t->child[i], 0, 32); }
    sink = t;
    sink = NULL;
}

__attribute__((noinline)) void lose_cycle(void)
{
    struct cyc *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    memset(a, 0, sizeof *a); memset(b, 0, sizeof *b);
    a->other = b;
    b->other = a;
    sink = a;
    sink = NULL;
}

__attribute__((noinline)) void keep_some(void)
{
    for (int i = 0; i < 5; i++) {
        struct node *n = malloc(sizeof *n);
        memset(n, 0, sizeof *n);
        n->next = list;
        list = n;
    }
    keep = malloc(1000);
    memset(keep, 0, 1000);
}

int main(void)
{
    lose_plain();
    lose_tree();
    lose_cycle();
    keep_some();
    printf("truth %d %d %d %d %d %d\n", 3 * 100 + 64 + 48, 5, 4 * 32 + 48, 5,
           5 * (int)sizeof(struct node) + 1000, 6);
    return 0;
}
