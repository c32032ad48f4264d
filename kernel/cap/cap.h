/*
 * cap.h - typed capabilities and their externalized references.
 *
 * A capability is an unforgeable, typed reference to a kernel resource.
 * Inside the kernel it is a typed pointer: every resource that may be handed
 * out is described by a `struct cap_type` (a name and a release procedure),
 * and every holder names the type it expects when it uses one, so a
 * procedure that wants a UDP endpoint cannot be handed a procedure entry.
 *
 * User-level programs never see kernel addresses.  Each program has a
 * capability table; what the program holds is an externalized reference
 * (cap_ref_t), a 64-bit value made of
 *
 *   bits  0..23  index of the slot in the program's table
 *   bits 24..47  generation of the slot when the reference was made
 *   bits 48..63  tag of the table (drawn at random when the table is made)
 *
 * and every use goes through cap_lookup, which checks, in this order:
 * the tag is this table's (owner: a reference made for another program is
 * refused), the index is inside the table, the slot is live, the slot's
 * generation equals the reference's (stale: a slot freed and reused since
 * refuses every older reference), and the slot's type is the one asked for.
 * A forged value passes only if it guesses the 16-bit tag, a live index and
 * its 24-bit generation at once; it then names a resource the program holds
 * anyway, so forging gains nothing beyond what the program was given.
 *
 * Generations: a slot's generation advances on every free; a slot whose
 * generation would wrap is retired (never reused), so a stale reference can
 * never become valid again.
 *
 * Ownership: cap_insert takes one hold on the object for the table; the
 * type's release procedure is called when the slot is freed (cap_remove,
 * or cap_table_free for every slot still live).  Lookups borrow.
 *
 * Cost: cap_lookup is a handful of compares and one indexed load (~2 ns);
 * insert and remove are O(1) (free list).  No locks: a table belongs to
 * the thread that serves its program (one run loop).
 */
#ifndef SPIN_CAP_H
#define SPIN_CAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t cap_ref_t;

/* Never a valid reference (tag 0 is never drawn). */
#define CAP_REF_NONE ((cap_ref_t)0)

#define CAP_INDEX_BITS 24
#define CAP_GEN_BITS 24
#define CAP_MAX_SLOTS (1u << CAP_INDEX_BITS)

/* A kind of kernel resource that can be handed out. */
struct cap_type {
	const char *name;
	/* Called once when the last table slot naming obj is freed; may be
	 * NULL when the table does not own the object. */
	void (*release)(void *obj);
};

enum cap_err {
	CAP_OK = 0,
	CAP_EFORGED,    /* not a reference of this table (wrong tag or index) */
	CAP_ESTALE,     /* the slot was freed (and maybe reused) since */
	CAP_ETYPE,      /* a live reference, but to another type of resource */
	CAP_EFULL,      /* no free slot */
	CAP_ENOMEM,
};
const char *cap_strerror(int err);

struct cap_table;

/* A table of at most max_slots slots (1 .. CAP_MAX_SLOTS), grown on demand.
 * owner is an opaque identity recorded for listings. */
struct cap_table *cap_table_new(const void *owner, uint32_t max_slots);
/* Frees every live slot (calling release) and the table. */
void cap_table_free(struct cap_table *t);

/* Makes a slot for obj of type ty; *out receives its reference. */
int cap_insert(struct cap_table *t, const struct cap_type *ty, void *obj, cap_ref_t *out);

/* The object ref names, if it is a live reference of this table to a
 * resource of type ty; otherwise NULL and *err (may be NULL) says why. */
void *cap_lookup(const struct cap_table *t, cap_ref_t ref, const struct cap_type *ty, int *err);

/* The object and type ref names, whatever its type (for close and
 * listings); same checks as cap_lookup but the type's. */
void *cap_lookup_any(const struct cap_table *t, cap_ref_t ref, const struct cap_type **ty,
		     int *err);

/* Frees the slot ref names (release is called).  Same checks as lookup. */
int cap_remove(struct cap_table *t, cap_ref_t ref, const struct cap_type *ty);

/* Live slots, and the owner given at creation. */
uint32_t cap_table_count(const struct cap_table *t);
const void *cap_table_owner(const struct cap_table *t);

/* Visits every live slot (for listings); stops when fn returns false. */
void cap_table_walk(const struct cap_table *t,
		    bool (*fn)(void *arg, cap_ref_t ref, const struct cap_type *ty, void *obj),
		    void *arg);

static inline uint32_t cap_ref_index(cap_ref_t r) { return (uint32_t)(r & (CAP_MAX_SLOTS - 1)); }
static inline uint32_t cap_ref_gen(cap_ref_t r)
{
	return (uint32_t)((r >> CAP_INDEX_BITS) & ((1u << CAP_GEN_BITS) - 1));
}
static inline uint16_t cap_ref_tag(cap_ref_t r) { return (uint16_t)(r >> 48); }

#endif
