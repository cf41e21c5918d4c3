/* msgset.h — sets of UIDs or sequence numbers as sorted, disjoint, non-adjacent ranges.
 * Parses and formats IMAP sequence-set text ("1:3,5,7:*") and does set algebra in linear time. */
#ifndef IMAPSCRIPT_MSGSET_H
#define IMAPSCRIPT_MSGSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One range lo..hi inclusive, 1 <= lo <= hi <= UINT32_MAX. */
struct msgset_range { uint32_t lo, hi; };

/* Invariant: r[i].lo <= r[i].hi and r[i].hi + 1 < r[i+1].lo (sorted, disjoint, not adjacent),
 * so two equal sets have identical arrays. The set owns r (malloc'd); n ranges, cap allocated. */
struct msgset { struct msgset_range *r; size_t n, cap; };

/* Longest text one range can take: "4294967295:4294967295". */
#define MSGSET_RANGE_MAX_TEXT 21

void msgset_init(struct msgset *s);               /* empty, allocates nothing */
void msgset_free(struct msgset *s);               /* frees r; s is then empty and reusable */
void msgset_clear(struct msgset *s);              /* empties s, keeps the allocation */

/* Adds lo..hi (swapped if lo > hi). O(1) amortised when ranges arrive in ascending order,
 * correct (merging) in any order, but an insertion before the end moves the ranges after it:
 * to load many unordered ranges, parse text (sorted once) or union sorted sets instead.
 * Returns 0, -EINVAL if lo or hi is 0, -ENOMEM. */
int msgset_add(struct msgset *s, uint32_t lo, uint32_t hi);

/* Removes lo..hi (swapped if lo > hi) from s; members outside the set are ignored. A range split
 * in two may need one more slot. Returns 0, -EINVAL if lo or hi is 0, -ENOMEM. */
int msgset_remove(struct msgset *s, uint32_t lo, uint32_t hi);

/* Replaces s with the set parsed from text[0..len): comma-separated "n", "n:m", "*", "n:*", "*:n";
 * reversed ranges ("4:2") and any order or overlap are accepted (O(n log n) worst case). star is the value of '*' (largest UID or sequence number
 * in the mailbox); star == 0 makes '*' an error. No spaces allowed. Returns 0, -EINVAL (with a
 * message naming the byte offset in err) or -ENOMEM; on error s is left empty. */
int msgset_parse(struct msgset *s, const char *text, size_t len, uint32_t star,
                 char *err, size_t errlen);

/* Returns malloc'd NUL-terminated text "1:3,5" ("" for the empty set), NULL if out of memory.
 * The caller frees it. */
char *msgset_format(const struct msgset *s);

/* Splitting for line-length limits. Writes into buf the ranges starting at index *pos that fit
 * in budget bytes, comma-separated, NUL-terminated (buf must hold budget + 1 bytes), advances
 * *pos past them and returns the number of bytes written (without the NUL). Each piece is a valid
 * non-empty set text; successive calls starting from *pos = 0 until *pos == s->n cover the set
 * exactly. Returns 0 when *pos == s->n (done) or when budget < MSGSET_RANGE_MAX_TEXT and the next
 * range does not fit (then *pos is unchanged: use a budget >= MSGSET_RANGE_MAX_TEXT).
 *   size_t pos = 0; char buf[1001];
 *   while (pos < s->n) { size_t len = msgset_format_piece(s, &pos, buf, 1000); send(buf, len); } */
size_t msgset_format_piece(const struct msgset *s, size_t *pos, char *buf, size_t budget);

/* out = a op b. out must be a set distinct from a and b (it is cleared first). Linear in the
 * number of ranges. Return 0 or -ENOMEM (out is then empty). */
int msgset_union(struct msgset *out, const struct msgset *a, const struct msgset *b);
int msgset_intersect(struct msgset *out, const struct msgset *a, const struct msgset *b);
int msgset_difference(struct msgset *out, const struct msgset *a, const struct msgset *b);

/* dst = src (dst cleared first; dst != src). Returns 0 or -ENOMEM. */
int msgset_copy(struct msgset *dst, const struct msgset *src);

uint64_t msgset_count(const struct msgset *s);                 /* number of members */
bool msgset_contains(const struct msgset *s, uint32_t v);      /* O(log n) */
bool msgset_equal(const struct msgset *a, const struct msgset *b);
/* Smallest and largest member; 0 for the empty set. */
uint32_t msgset_min(const struct msgset *s);
uint32_t msgset_max(const struct msgset *s);
/* The n-th smallest member (n from 1: a message sequence number among UIDs), 0 when the set has
 * fewer members. Linear in the number of ranges. */
uint32_t msgset_nth(const struct msgset *s, uint64_t n);

/* Ascending iteration over the members:
 *   struct msgset_iter it; uint32_t uid;
 *   msgset_iter_init(&it, s); while (msgset_iter_next(&it, &uid)) ...
 * The set must not change during the iteration. */
struct msgset_iter { const struct msgset *s; size_t i; uint64_t next; };
void msgset_iter_init(struct msgset_iter *it, const struct msgset *s);
bool msgset_iter_next(struct msgset_iter *it, uint32_t *out);

#endif
