/*
 * domain.c - domains: create (from an object or a built-in module),
 * resolve, combine, SpinPublic.  See domain.h; the linker is linker.c.
 *
 * Built-in domains.  The kernel image's symbol table (sal_ldr_self_image,
 * parsed once, sorted by name) holds every global symbol of every built-in
 * module; a module's domain is the run of symbols carrying one of its
 * prefixes.  The load bias comes from one symbol whose address we know
 * (domain_create_builtin itself).  Prefixes: a module named X owns X_ in
 * any letter case (udp_send, UDP_PacketArrived_event); the kernel and
 * netgraph modules, which span several subsystems, list theirs below.
 */
#include "kernel/domain/domain.h"

#include "kernel/domain/domain_priv.h"
#include "kernel/sal/sal.h"
#include "kernel/sal/sal_loader.h"

enum dom_kind { DK_OBJECT = 1, DK_BUILTIN, DK_COMBINED };

struct domain {
	char name[48];
	enum dom_kind kind;
	unsigned refs;
	struct ldr_obj *obj;                  /* DK_OBJECT */
	const struct ldr_isym *isyms;         /* DK_BUILTIN: sorted, in the image cache */
	unsigned nisyms;
	const struct domain_prim *prims;      /* DK_BUILTIN kernel: primitives */
	unsigned nprims;
	struct domain *a, *b;                 /* DK_COMBINED */
};

const char *domain_strerror(int err)
{
	static const char *const s[] = {
	    [DOM_OK] = "ok",
	    [DOM_EFORMAT] = "malformed object",
	    [DOM_EUNSUPPORTED] = "unsupported object feature",
	    [DOM_ENOMEM] = "out of memory",
	    [DOM_EUNRESOLVED] = "unresolved symbols",
	    [DOM_ERANGE] = "relocation out of range",
	    [DOM_ESTATE] = "wrong state",
	    [DOM_ENOENT] = "not found",
	    [DOM_ESIG] = "signature refused",
	    [DOM_EVERSION] = "interface version mismatch",
	    [DOM_EDENIED] = "denied by an authorizer",
	    [DOM_EINIT] = "module init refused",
	    [DOM_EEXIST] = "already loaded",
	};
	return err >= 0 && err < (int)(sizeof s / sizeof s[0]) && s[err] ? s[err] : "error";
}

static struct domain *dom_new(const char *name, enum dom_kind k)
{
	struct domain *d = sal_calloc(1, sizeof *d);

	if (!d)
		return NULL;
	sal_snprintf(d->name, sizeof d->name, "%s", name ? name : "?");
	d->kind = k;
	d->refs = 1;
	return d;
}

void domain_retain(struct domain *d) { d->refs++; }

void domain_release(struct domain *d)
{
	if (!d || --d->refs)
		return;
	if (d->kind == DK_OBJECT)
		ldr_free(d->obj);
	if (d->kind == DK_BUILTIN)
		sal_free((void *)d->isyms);
	if (d->kind == DK_COMBINED) {
		domain_release(d->a);
		domain_release(d->b);
	}
	sal_free(d);
}

const char *domain_name(const struct domain *d) { return d->name; }
bool domain_contains(const struct domain *d, const void *addr)
{
	return d->kind == DK_OBJECT && ldr_contains(d->obj, addr);
}
size_t domain_image_size(const struct domain *d)
{
	return d->kind == DK_OBJECT ? ldr_image_size(d->obj) : 0;
}
bool domain_is_linked(const struct domain *d)
{
	return d->kind != DK_OBJECT || ldr_linked(d->obj);
}

int domain_create_object(const char *name, const void *elf, size_t len, struct domain **out,
			 char *err, size_t errlen)
{
	struct domain *d = dom_new(name, DK_OBJECT);
	int rc;

	*out = NULL;
	if (!d)
		return DOM_ENOMEM;
	rc = ldr_create(elf, len, &d->obj, err, errlen);
	if (rc) {
		sal_free(d);
		return rc;
	}
	*out = d;
	return DOM_OK;
}

/* --- built-in domains ------------------------------------------------------ */
struct domain_prim {
	const char *name;
	const void *addr;
};

/* What every C object may call without naming a module: the freestanding
 * primitives sal.h declares (the compiler also emits calls to them). */
static const struct domain_prim kernel_prims[] = {
	{"memcmp", (const void *)memcmp},   {"memcpy", (const void *)memcpy},
	{"memmove", (const void *)memmove}, {"memset", (const void *)memset},
	{"strcmp", (const void *)strcmp},   {"strlen", (const void *)strlen},
	{"strncmp", (const void *)strncmp},
};

static const char *const kernel_prefixes[] = {
	"disp_", "rcu_", "exec_", "sal_", "spin_", "strand_", "Strand_", "kthread_",
	"vm_", "VM_", "Phys_", "cap_", NULL};
static const char *const netgraph_prefixes[] = {"ng_", "pkt_", "Link_", NULL};

static struct {
	bool tried;
	struct ldr_isym *syms;
	unsigned n;
} image;

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static bool has_prefix(const char *s, const char *p, bool fold)
{
	for (; *p; s++, p++)
		if (fold ? lower(*s) != lower(*p) : *s != *p)
			return false;
	return true;
}

static void image_load(void)
{
	const void *buf;
	size_t len;
	const struct ldr_isym *self = NULL;

	if (image.tried)
		return;
	image.tried = true;
	if (sal_ldr_self_image(&buf, &len) || ldr_image_symbols(buf, len, &image.syms, &image.n)) {
		sal_log(SAL_LOG_ERR, "domain: no symbol table in the kernel image; built-in domains "
				     "export only the primitives");
		return;
	}
	for (unsigned i = 0; i < image.n; i++)
		if (!strcmp(image.syms[i].name, "domain_create_builtin"))
			self = &image.syms[i];
	if (!self) {
		sal_free(image.syms);
		image.syms = NULL;
		image.n = 0;
		return;
	}
	uint64_t bias = (uint64_t)(uintptr_t)domain_create_builtin - self->value;
	for (unsigned i = 0; i < image.n; i++)
		image.syms[i].value += bias;
}

/* Symbols of the image owned by m, copied into a sorted array. */
static int builtin_syms(const struct spin_module *m, struct ldr_isym **out, unsigned *nout)
{
	const char *const *pre = NULL;
	char own[40];
	const char *own_list[2] = {own, NULL};
	bool fold = false;
	unsigned n = 0;
	struct ldr_isym *v;

	if (m == SPIN_KERNEL) {
		pre = kernel_prefixes;
	} else if (m->name && !strcmp(m->name, "netgraph")) {
		pre = netgraph_prefixes;
	} else {
		sal_snprintf(own, sizeof own, "%s_", m->name ? m->name : "?");
		pre = own_list;
		fold = true;
	}
	image_load();
	v = sal_calloc(image.n ? image.n : 1, sizeof *v);
	if (!v)
		return DOM_ENOMEM;
	for (unsigned i = 0; i < image.n; i++)
		for (const char *const *p = pre; *p; p++)
			if (has_prefix(image.syms[i].name, *p, fold)) {
				v[n++] = image.syms[i];
				break;
			}
	*out = v;
	*nout = n;
	return DOM_OK;
}

int domain_create_builtin(const struct spin_module *m, struct domain **out)
{
	struct domain *d;
	struct ldr_isym *v;
	unsigned n;
	int rc;

	*out = NULL;
	if (!m)
		return DOM_ENOENT;
	d = dom_new(m->name, DK_BUILTIN);
	if (!d)
		return DOM_ENOMEM;
	if ((rc = builtin_syms(m, &v, &n))) {
		sal_free(d);
		return rc;
	}
	d->isyms = v;
	d->nisyms = n;
	if (m == SPIN_KERNEL) {
		d->prims = kernel_prims;
		d->nprims = sizeof kernel_prims / sizeof kernel_prims[0];
	}
	*out = d;
	return DOM_OK;
}

int domain_combine(const char *name, struct domain *a, struct domain *b, struct domain **out)
{
	struct domain *d;

	*out = NULL;
	if (!a || !b)
		return DOM_ENOENT;
	d = dom_new(name, DK_COMBINED);
	if (!d)
		return DOM_ENOMEM;
	domain_retain(a);
	domain_retain(b);
	d->a = a;
	d->b = b;
	*out = d;
	return DOM_OK;
}

/* --- lookup ------------------------------------------------------------------ */
void *domain_lookup(const struct domain *d, const char *name)
{
	unsigned n;

	switch (d->kind) {
	case DK_OBJECT: {
		const struct ldr_sym *s = ldr_syms(d->obj, &n);
		for (unsigned i = 1; i < n; i++)
			if (s[i].exported && !strcmp(s[i].name, name))
				return (void *)s[i].addr;
		return NULL;
	}
	case DK_BUILTIN: {
		unsigned lo = 0, hi = d->nisyms;
		while (lo < hi) {
			unsigned mid = lo + (hi - lo) / 2;
			int c = strcmp(d->isyms[mid].name, name);
			if (c == 0)
				return (void *)(uintptr_t)d->isyms[mid].value;
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (unsigned i = 0; i < d->nprims; i++)
			if (!strcmp(d->prims[i].name, name))
				return (void *)d->prims[i].addr;
		return NULL;
	}
	case DK_COMBINED: {
		void *p = domain_lookup(d->a, name);
		return p ? p : domain_lookup(d->b, name);
	}
	}
	return NULL;
}

int domain_foreach_export(const struct domain *d,
			  int (*fn)(void *ctx, const char *name, const void *addr), void *ctx)
{
	unsigned n;
	int r = 0;

	switch (d->kind) {
	case DK_OBJECT: {
		const struct ldr_sym *s = ldr_syms(d->obj, &n);
		for (unsigned i = 1; i < n && !r; i++)
			if (s[i].exported)
				r = fn(ctx, s[i].name, (const void *)s[i].addr);
		return r;
	}
	case DK_BUILTIN:
		for (unsigned i = 0; i < d->nisyms && !r; i++)
			r = fn(ctx, d->isyms[i].name, (const void *)(uintptr_t)d->isyms[i].value);
		for (unsigned i = 0; i < d->nprims && !r; i++)
			r = fn(ctx, d->prims[i].name, d->prims[i].addr);
		return r;
	case DK_COMBINED:
		r = domain_foreach_export(d->a, fn, ctx);
		return r ? r : domain_foreach_export(d->b, fn, ctx);
	}
	return 0;
}

static int count_one(void *ctx, const char *name, const void *addr)
{
	(void)name;
	(void)addr;
	(*(unsigned *)ctx)++;
	return 0;
}

unsigned domain_nexports(const struct domain *d)
{
	unsigned n = 0;
	domain_foreach_export(d, count_one, &n);
	return n;
}

int domain_foreach_import(const struct domain *d,
			  int (*fn)(void *ctx, const char *name, const void *addr), void *ctx)
{
	unsigned n;
	int r = 0;

	if (d->kind != DK_OBJECT)
		return 0;
	const struct ldr_sym *s = ldr_syms(d->obj, &n);
	for (unsigned i = 1; i < n && !r; i++)
		if (s[i].undef)
			r = fn(ctx, s[i].name, s[i].bound ? (const void *)s[i].addr : NULL);
	return r;
}

/* --- resolve and link ------------------------------------------------------- */
int domain_resolve(struct domain *source, struct domain *target)
{
	unsigned n;
	int bound = 0;

	if (!source || !target || target->kind != DK_OBJECT)
		return -DOM_ENOENT;
	if (ldr_linked(target->obj))
		return -DOM_ESTATE;
	struct ldr_sym *s = ldr_syms(target->obj, &n);
	for (unsigned i = 1; i < n; i++) {
		if (!s[i].undef || s[i].bound)
			continue;
		void *p = domain_lookup(source, s[i].name);
		if (!p)
			continue;
		s[i].addr = (uintptr_t)p;
		s[i].bound = true;
		bound++;
	}
	return bound;
}

unsigned domain_unresolved(const struct domain *d, char *buf, size_t size)
{
	unsigned n, cnt = 0;
	size_t len = 0;

	if (size)
		buf[0] = 0;
	if (d->kind != DK_OBJECT)
		return 0;
	const struct ldr_sym *s = ldr_syms(d->obj, &n);
	for (unsigned i = 1; i < n; i++) {
		if (!s[i].undef || s[i].bound || s[i].bind == 2 /* weak */)
			continue;
		cnt++;
		if (len < size) {
			int w = sal_snprintf(buf + len, size - len, "%s%s", len ? " " : "", s[i].name);
			if (w > 0)
				len += (size_t)w;
		}
	}
	return cnt;
}

int domain_link(struct domain *d, char *err, size_t errlen)
{
	char names[512];
	unsigned left;

	if (d->kind != DK_OBJECT)
		return DOM_OK;
	if (ldr_linked(d->obj))
		return DOM_ESTATE;
	left = domain_unresolved(d, names, sizeof names);
	if (left) {
		if (err && errlen)
			sal_snprintf(err, errlen, "%u unresolved symbol%s: %s", left,
				     left == 1 ? "" : "s", names);
		return DOM_EUNRESOLVED;
	}
	return ldr_link(d->obj, err, errlen);
}

/* --- SpinPublic ---------------------------------------------------------------- */
static struct domain *spin_public;

struct domain *domain_spin_public(void)
{
	struct domain *acc = NULL;

	if (spin_public) {
		domain_retain(spin_public);
		return spin_public;
	}
	if (domain_create_builtin(SPIN_KERNEL, &acc))
		return NULL;
	for (unsigned i = 0; i < spin_builtin_count(); i++) {
		const struct spin_module *m = spin_builtin(i);
		struct domain *d, *c;

		if (m == SPIN_KERNEL || domain_create_builtin(m, &d))
			continue;
		if (domain_combine("SpinPublic", acc, d, &c) == DOM_OK) {
			domain_release(acc);
			acc = c;
		}
		domain_release(d);
	}
	spin_public = acc;
	domain_retain(spin_public);
	return spin_public;
}

void domain_fini(void)
{
	domain_release(spin_public);
	spin_public = NULL;
	sal_free(image.syms);
	image.syms = NULL;
	image.n = 0;
	image.tried = false;
}
