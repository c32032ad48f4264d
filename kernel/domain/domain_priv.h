/*
 * domain_priv.h - what domain.c and linker.c share.  Not for other modules.
 */
#ifndef SPIN_DOMAIN_PRIV_H
#define SPIN_DOMAIN_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One symbol of an object: defined in it, or undefined and maybe bound. */
struct ldr_sym {
	const char *name;       /* in the object's own copy of its strtab */
	uintptr_t addr;         /* defined: where it is; bound: its target */
	uint32_t got;           /* GOT slot + 1, or 0 */
	uint32_t plt;           /* PLT stub + 1, or 0 */
	uint16_t shndx;         /* defining section (0: absolute or undefined) */
	uint8_t bind, type;
	bool defined;           /* in a placed section, or absolute */
	bool undef;             /* SHN_UNDEF with a name: to be resolved */
	bool bound;
	bool exported;          /* defined, global or weak, default visibility */
	bool got_sym;           /* _GLOBAL_OFFSET_TABLE_: the object's GOT */
	bool unplaced;          /* defined in a section the linker did not place */
};

struct ldr_obj;

/* linker.c: parse + place (the image is RW until ldr_link). */
int ldr_create(const void *elf, size_t len, struct ldr_obj **out, char *err, size_t errlen);
int ldr_link(struct ldr_obj *o, char *err, size_t errlen);
void ldr_free(struct ldr_obj *o);
struct ldr_sym *ldr_syms(struct ldr_obj *o, unsigned *n);
bool ldr_linked(const struct ldr_obj *o);
bool ldr_contains(const struct ldr_obj *o, const void *addr);
size_t ldr_image_size(const struct ldr_obj *o);

/* linker.c: the global symbols of an ELF executable or shared object in
 * memory (the kernel image), sorted by name.  Names point into buf. */
struct ldr_isym {
	const char *name;
	uint64_t value;
};
int ldr_image_symbols(const void *buf, size_t len, struct ldr_isym **out, unsigned *n);

/* Sorting without libc: an in-place heap sort (n log n, no recursion). */
void ldr_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));

#endif
