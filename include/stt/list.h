/* An intrusive circular doubly-linked list (h2o linklist.h, libuv uv__queue): the node lives in
 * the element, so linking costs no allocation and unlinking is O(1) from the element alone.
 *
 * A list head is an stt_list_t whose prev/next point at itself when empty; an unlinked node
 * points at itself too (stt_list_linked tells the two states apart). Not thread-safe. */
#ifndef STT_LIST_H
#define STT_LIST_H

#include <stddef.h>

typedef struct stt_list {
    struct stt_list *prev, *next;
} stt_list_t;

/* The element that holds `ptr`, a pointer to its `member`. */
#define stt_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static inline void stt_list_init(stt_list_t *h)
{
    h->prev = h->next = h;
}

static inline int stt_list_empty(const stt_list_t *h)
{
    return h->next == h;
}

/* 1 while the node is in a list (it must have been stt_list_init'ed or linked once). */
static inline int stt_list_linked(const stt_list_t *n)
{
    return n->next != n;
}

static inline void stt_list_insert_tail(stt_list_t *h, stt_list_t *n)
{
    n->prev = h->prev;
    n->next = h;
    h->prev->next = n;
    h->prev = n;
}

static inline void stt_list_insert_head(stt_list_t *h, stt_list_t *n)
{
    stt_list_insert_tail(h->next, n);
}

/* Unlinks n (a no-op for an unlinked node) and leaves it unlinked. */
static inline void stt_list_remove(stt_list_t *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

/* Moves every node of `from` to `to` (which must be empty) in O(1); `from` is left empty. */
static inline void stt_list_move_all(stt_list_t *from, stt_list_t *to)
{
    stt_list_init(to);
    if (stt_list_empty(from))
        return;
    to->next = from->next;
    to->prev = from->prev;
    to->next->prev = to;
    to->prev->next = to;
    stt_list_init(from);
}

/* Iterates the nodes of h; `pos` may not be removed inside the loop (use _safe for that). */
#define stt_list_foreach(pos, h) for ((pos) = (h)->next; (pos) != (h); (pos) = (pos)->next)
#define stt_list_foreach_safe(pos, nx, h)                                                        \
    for ((pos) = (h)->next, (nx) = (pos)->next; (pos) != (h); (pos) = (nx), (nx) = (pos)->next)

#endif /* STT_LIST_H */
