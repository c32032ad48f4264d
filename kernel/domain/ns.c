/*
 * ns.c - the in-kernel nameserver.  See ns.h.  Small tables, linear
 * searches: the nameserver is consulted when modules start and extensions
 * load, never per packet.
 */
#include "kernel/domain/ns.h"

#include "kernel/sal/sal.h"

#define NS_MAX 128

struct ns_reg {
	spin_ident_t exporter;
	const struct spin_interface *iface;
	ns_authorizer_t authorize;
	void *ctx;
};

struct ns_imp {
	spin_ident_t importer;
	const struct spin_interface *iface;
};

static struct ns_reg regs[NS_MAX];
static unsigned nregs;
static struct ns_imp imps[NS_MAX * 4];
static unsigned nimps;
static const struct spin_module *seen[NS_MAX];
static unsigned nseen;

static bool version_ok(uint32_t have, uint32_t want)
{
	return SPIN_VERSION_MAJOR(have) == SPIN_VERSION_MAJOR(want) &&
	       SPIN_VERSION_MINOR(have) >= SPIN_VERSION_MINOR(want);
}

int ns_export(spin_ident_t exporter, const struct spin_interface *iface,
	      ns_authorizer_t authorize, void *ctx)
{
	if (!iface || !iface->name)
		return SPIN_MOD_ENOENT;
	for (unsigned i = 0; i < nregs; i++)
		if (regs[i].exporter == exporter && !strcmp(regs[i].iface->name, iface->name))
			return SPIN_MOD_EEXIST;
	if (nregs == NS_MAX)
		return SPIN_MOD_EINIT;
	regs[nregs++] = (struct ns_reg){exporter, iface, authorize, ctx};
	return SPIN_MOD_OK;
}

int ns_withdraw(spin_ident_t exporter, const char *name)
{
	for (unsigned i = 0; i < nregs; i++)
		if (regs[i].exporter == exporter && !strcmp(regs[i].iface->name, name)) {
			regs[i] = regs[--nregs];
			return SPIN_MOD_OK;
		}
	return SPIN_MOD_ENOENT;
}

void ns_note_import(spin_ident_t importer, const struct spin_interface *iface)
{
	for (unsigned i = 0; i < nimps; i++)
		if (imps[i].importer == importer && imps[i].iface == iface)
			return;
	if (nimps < NS_MAX * 4)
		imps[nimps++] = (struct ns_imp){importer, iface};
}

const struct spin_interface *ns_import(const char *name, uint32_t version,
				       spin_ident_t importer, int *err)
{
	int e = SPIN_MOD_ENOENT;
	const struct spin_interface *x = NULL;

	for (unsigned i = 0; i < nregs && !x; i++) {
		const struct ns_reg *r = &regs[i];
		if (strcmp(r->iface->name, name))
			continue;
		if (!version_ok(r->iface->version, version)) {
			e = SPIN_MOD_EVERSION;
			continue;
		}
		if ((r->authorize && r->authorize(importer, r->iface, r->ctx)) ||
		    (r->iface->authorize_import && r->iface->authorize_import(importer, r->iface))) {
			e = SPIN_MOD_EDENIED;
			continue;
		}
		x = r->iface;
	}
	if (!x) {
		int e2;
		x = spin_interface_lookup(name, version, importer, &e2);
		/* The more telling reason wins: denied or version over absent. */
		if (!x && e2 != SPIN_MOD_ENOENT)
			e = e2;
	}
	if (x)
		ns_note_import(importer, x);
	if (err)
		*err = x ? SPIN_MOD_OK : e;
	return x;
}

void ns_forget(spin_ident_t who)
{
	for (unsigned i = 0; i < nregs;)
		if (regs[i].exporter == who)
			regs[i] = regs[--nregs];
		else
			i++;
	/* Imports by who, and imports of interfaces who's descriptor exported. */
	for (unsigned i = 0; i < nimps;) {
		bool drop = imps[i].importer == who;
		for (const struct spin_interface *const *x = who ? who->exports : NULL; x && *x; x++)
			drop |= imps[i].iface == *x;
		if (drop)
			imps[i] = imps[--nimps];
		else
			i++;
	}
}

void ns_module_seen(const struct spin_module *m)
{
	for (unsigned i = 0; i < nseen; i++)
		if (seen[i] == m)
			return;
	if (nseen < NS_MAX)
		seen[nseen++] = m;
}

void ns_module_gone(const struct spin_module *m)
{
	for (unsigned i = 0; i < nseen; i++)
		if (seen[i] == m) {
			seen[i] = seen[--nseen];
			return;
		}
}

static int each_module(const struct spin_module *m,
		       int (*fn)(void *, spin_ident_t, const struct spin_interface *), void *ctx)
{
	int r = 0;
	for (const struct spin_interface *const *x = m->exports; x && *x && !r; x++)
		r = fn(ctx, m, *x);
	return r;
}

int ns_foreach_export(int (*fn)(void *ctx, spin_ident_t exporter,
				const struct spin_interface *iface), void *ctx)
{
	int r = 0;

	for (unsigned i = 0; i < nregs && !r; i++)
		r = fn(ctx, regs[i].exporter, regs[i].iface);
	for (unsigned i = 0; i < spin_builtin_count() && !r; i++)
		if (spin_module_started(spin_builtin(i)))
			r = each_module(spin_builtin(i), fn, ctx);
	for (unsigned i = 0; i < nseen && !r; i++)
		if (spin_module_started(seen[i]))
			r = each_module(seen[i], fn, ctx);
	return r;
}

int ns_foreach_import(int (*fn)(void *ctx, spin_ident_t importer,
				const struct spin_interface *iface), void *ctx)
{
	int r = 0;
	for (unsigned i = 0; i < nimps && !r; i++)
		r = fn(ctx, imps[i].importer, imps[i].iface);
	return r;
}
