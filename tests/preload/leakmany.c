/* Target program for the leak check on a heap of many blocks (the scan sorts them by address):
 * a list of 10,000 nodes kept in a global (reachable), a list of 10,000 nodes lost by its head
 * (1 definite, 9,999 indirect), and 5,000 blocks lost one by one (definite). */
#include <stdlib.h>

typedef struct node { struct node *next; char pad[24]; } node_t;

node_t *kept;
void *volatile sink;

static node_t *list(int n)
{
    node_t *head = NULL;
    for (int i = 0; i < n; i++) {
        node_t *x = calloc(1, sizeof *x);
        x->next = head;
        head = x;
    }
    return head;
}

__attribute__((noinline)) static void lose(void)
{
    sink = list(10000);
    sink = NULL;
    for (int i = 0; i < 5000; i++) {
        sink = malloc(48);
        sink = NULL;
    }
}

int main(void)
{
    kept = list(10000);
    lose();
    return 0;
}
