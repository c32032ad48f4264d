/*
 * disp_internal.h - what dispatch.c and demux.c share; not for other
 * modules.
 */
#ifndef SPIN_DISP_INTERNAL_H
#define SPIN_DISP_INTERNAL_H

#include "kernel/dispatch/dispatch.h"

/* Bump allocator for a table and its demux: everything one table owns is
 * freed at once when the table is retired. */
struct disp_arena;
struct disp_arena *disp_arena_new(void);
void *disp_arena_alloc(struct disp_arena *a, size_t size, size_t align);
void disp_arena_free(struct disp_arena *a);
/* Moves src's memory into dst and frees src. */
void disp_arena_adopt(struct disp_arena *dst, struct disp_arena *src);

/* Table flags. */
enum { DISP_T_HDR = 1u << 0 };  /* the demux reads header fields */

/* Compiles the declarative guards of t->b[0..t->nb) into t's demux:
 * sets t->root_leaf (no walk needed) or t->demux, and t->flags.  Memory
 * comes from the arena.  Returns DISP_OK, DISP_EINVAL (more than 64
 * distinct fields) or DISP_ENOMEM (allocation, or the tree outgrew its
 * budget). */
int disp_demux_build(struct disp_table *t, struct disp_arena *a);

/* Successful compilations per tier (0 full tree, 1 common fields only,
 * 2 one linear leaf); tests check that each tier is exercised. */
extern _Atomic unsigned long disp_demux_tiers[3];
/* The work budget of one compilation attempt (tests lower it). */
extern size_t disp_demux_budget;

/* Reads a field for the reference evaluator and the demux. */
bool disp_field_read(const struct disp_field *f, const void *hdr, size_t len,
		     const void *arg, uint64_t *v);

/* The interval [lo, hi] a term accepts, on the masked value. */
void disp_term_interval(const struct disp_term *t, uint64_t *lo, uint64_t *hi);

/* Checks a term's shape (width, match, prefix length). */
bool disp_term_valid(const struct disp_term *t);

#endif
