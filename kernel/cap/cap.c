/*
 * cap.c - capability tables and externalized references.  See cap.h.
 */
#include "kernel/cap/cap.h"

#include "kernel/sal/sal.h"

#define CAP_GEN_MASK ((1u << CAP_GEN_BITS) - 1)
#define CAP_FREE_END UINT32_MAX

/* A slot is live when ty != NULL.  A free slot links the free list through
 * next_free; a retired slot (generation exhausted) is on no list. */
struct cap_slot {
	const struct cap_type *ty;
	void *obj;
	uint32_t gen;
	uint32_t next_free;
};

struct cap_table {
	uint16_t tag;
	uint32_t max, size, live;
	uint32_t free_head;
	const void *owner;
	struct cap_slot *slot;
};

static const char *const cap_errs[] = {
	[CAP_OK] = "ok",
	[CAP_EFORGED] = "not a reference of this program",
	[CAP_ESTALE] = "stale reference",
	[CAP_ETYPE] = "reference to another type of resource",
	[CAP_EFULL] = "capability table full",
	[CAP_ENOMEM] = "out of memory",
};

const char *cap_strerror(int err)
{
	if (err < 0 || (size_t)err >= sizeof cap_errs / sizeof cap_errs[0])
		return "unknown error";
	return cap_errs[err];
}

struct cap_table *cap_table_new(const void *owner, uint32_t max_slots)
{
	struct cap_table *t;

	if (max_slots == 0 || max_slots > CAP_MAX_SLOTS)
		return NULL;
	t = sal_calloc(1, sizeof *t);
	if (!t)
		return NULL;
	do
		sal_random_bytes(&t->tag, sizeof t->tag);
	while (t->tag == 0);
	t->max = max_slots;
	t->owner = owner;
	t->free_head = CAP_FREE_END;
	return t;
}

static void slot_release(struct cap_slot *s)
{
	const struct cap_type *ty = s->ty;
	void *obj = s->obj;

	s->ty = NULL;
	s->obj = NULL;
	if (ty->release)
		ty->release(obj);
}

void cap_table_free(struct cap_table *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; i < t->size; i++)
		if (t->slot[i].ty)
			slot_release(&t->slot[i]);
	sal_free(t->slot);
	sal_free(t);
}

static cap_ref_t make_ref(const struct cap_table *t, uint32_t idx)
{
	return ((cap_ref_t)t->tag << 48) | ((cap_ref_t)t->slot[idx].gen << CAP_INDEX_BITS) | idx;
}

static int grow(struct cap_table *t)
{
	uint32_t n = t->size ? t->size * 2 : 16;
	struct cap_slot *s;

	if (t->size == t->max)
		return CAP_EFULL;
	if (n > t->max)
		n = t->max;
	s = sal_realloc(t->slot, (size_t)n * sizeof *s);
	if (!s)
		return CAP_ENOMEM;
	/* New slots start at generation 1, so a reference with generation 0
	 * (a zeroed value) is never valid. */
	for (uint32_t i = n; i-- > t->size;) {
		s[i] = (struct cap_slot){.gen = 1, .next_free = t->free_head};
		t->free_head = i;
	}
	t->slot = s;
	t->size = n;
	return CAP_OK;
}

int cap_insert(struct cap_table *t, const struct cap_type *ty, void *obj, cap_ref_t *out)
{
	uint32_t idx;
	int rc;

	if (!ty)
		return CAP_ETYPE;
	if (t->free_head == CAP_FREE_END && (rc = grow(t)) != CAP_OK)
		return rc;
	idx = t->free_head;
	t->free_head = t->slot[idx].next_free;
	t->slot[idx].ty = ty;
	t->slot[idx].obj = obj;
	t->live++;
	*out = make_ref(t, idx);
	return CAP_OK;
}

/* The slot ref names if it is live and current, else NULL with *err set. */
static struct cap_slot *check(const struct cap_table *t, cap_ref_t ref, int *err)
{
	uint32_t idx = cap_ref_index(ref);
	struct cap_slot *s;

	if (cap_ref_tag(ref) != t->tag || idx >= t->size) {
		*err = CAP_EFORGED;
		return NULL;
	}
	s = &t->slot[idx];
	if (s->ty == NULL || s->gen != cap_ref_gen(ref)) {
		/* A generation the slot has not reached yet, or the current one
		 * of a free slot, was never issued. */
		bool never = cap_ref_gen(ref) > s->gen ||
			     (s->ty == NULL && cap_ref_gen(ref) == s->gen);
		*err = never ? CAP_EFORGED : CAP_ESTALE;
		return NULL;
	}
	return s;
}

void *cap_lookup(const struct cap_table *t, cap_ref_t ref, const struct cap_type *ty, int *err)
{
	int e = CAP_OK;
	struct cap_slot *s = check(t, ref, &e);

	if (s && s->ty != ty) {
		e = CAP_ETYPE;
		s = NULL;
	}
	if (err)
		*err = e;
	return s ? s->obj : NULL;
}

void *cap_lookup_any(const struct cap_table *t, cap_ref_t ref, const struct cap_type **ty,
		     int *err)
{
	int e = CAP_OK;
	struct cap_slot *s = check(t, ref, &e);

	if (err)
		*err = e;
	if (ty)
		*ty = s ? s->ty : NULL;
	return s ? s->obj : NULL;
}

int cap_remove(struct cap_table *t, cap_ref_t ref, const struct cap_type *ty)
{
	int e = CAP_OK;
	struct cap_slot *s = check(t, ref, &e);

	if (!s)
		return e;
	if (s->ty != ty)
		return CAP_ETYPE;
	t->live--;
	slot_release(s);
	if (s->gen == CAP_GEN_MASK)
		return CAP_OK;          /* retired: on no list, never reused */
	s->gen++;
	s->next_free = t->free_head;
	t->free_head = (uint32_t)(s - t->slot);
	return CAP_OK;
}

uint32_t cap_table_count(const struct cap_table *t) { return t->live; }
const void *cap_table_owner(const struct cap_table *t) { return t->owner; }

void cap_table_walk(const struct cap_table *t,
		    bool (*fn)(void *arg, cap_ref_t ref, const struct cap_type *ty, void *obj),
		    void *arg)
{
	for (uint32_t i = 0; i < t->size; i++)
		if (t->slot[i].ty && !fn(arg, make_ref(t, i), t->slot[i].ty, t->slot[i].obj))
			return;
}
