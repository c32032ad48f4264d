/*
 * ctl_domain.c - `spin ctl load|unload|domains|exports|imports` and the
 * config's `trust` and `load` lines.  The work is kernel/domain's (ext.h,
 * domain.h, ns.h); this file parses words and formats replies.
 *
 *   load OBJECT [ARGS]  verify OBJECT.sig, link against SpinPublic, start
 *   unload NAME         fini, sweep its bindings (one transaction), unmap
 *   domains             SpinPublic, the started built-in modules' domains
 *                       and the extensions' domains
 *   exports [NAME]      interfaces by exporter (NAME: a domain's symbols)
 *   imports [NAME]      granted imports (NAME: an extension's symbols and
 *                       where they were bound)
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/spin/appliance.h"
#include "kernel/domain/domain.h"
#include "kernel/domain/ext.h"
#include "kernel/domain/ns.h"
#include "kernel/module/module.h"
#include "netgraph/graph.h"

/* Graph nodes an extension registered live in its image: unregister them
 * before the image goes (the kernel cannot know about netgraph). */
static void reclaim_nodes(const struct ext *e)
{
	for (unsigned i = ng_node_count(); i-- > 0;) {
		const struct ng_node *n = ng_node_at(i);
		if (n && (n->module == ext_module(e) || ext_contains(e, n)))
			ng_node_unregister(n);
	}
}

static int do_load(struct ctl_buf *o, const char *path, const char *args)
{
	char err[512];
	struct ext *e;

	(void)ext_reclaim_hook(reclaim_nodes);
	if (ext_load(path, args, NULL, &e, err, sizeof err)) {
		ctl_printf(o, "load refused: %s\n", err);
		return 1;
	}
	ctl_printf(o, "loaded %s from %s (%zu bytes, %u exports)\n", ext_name(e), path,
	   domain_image_size(ext_domain(e)), domain_nexports(ext_domain(e)));
	return 0;
}

static int print_sym(void *ctx, const char *name, const void *addr)
{
	ctl_printf(ctx, "  %s%s\n", name, addr ? "" : " (unbound)");
	return 0;
}

static int print_export(void *ctx, spin_ident_t who, const struct spin_interface *x)
{
	ctl_printf(ctx, "%s %u.%u exporter %s%s\n", x->name, SPIN_VERSION_MAJOR(x->version),
	   SPIN_VERSION_MINOR(x->version), spin_ident_name(who),
	   x->authorize_import ? " authorizer" : "");
	return 0;
}

static int print_import(void *ctx, spin_ident_t who, const struct spin_interface *x)
{
	ctl_printf(ctx, "%s imports %s %u.%u\n", spin_ident_name(who), x->name,
	   SPIN_VERSION_MAJOR(x->version), SPIN_VERSION_MINOR(x->version));
	return 0;
}

static void join(char *buf, size_t size, int argc, char **argv, int from)
{
	size_t len = 0;

	buf[0] = 0;
	for (int i = from; i < argc && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s", i > from ? " " : "", argv[i]);
}

bool app_ctl_is_domain(const char *cmd)
{
	return !strcmp(cmd, "load") || !strcmp(cmd, "unload") || !strcmp(cmd, "domains") ||
	       !strcmp(cmd, "exports") || !strcmp(cmd, "imports");
}

int app_ctl_domain(char **out, int argc, char **argv)
{
	struct ctl_buf o = {0};
	int rc = 0;

	if (!strcmp(argv[0], "load")) {
		char args[512];
		if (argc < 2) {
			ctl_printf(&o, "usage: load OBJECT [ARGS]\n");
			rc = 1;
		} else {
			join(args, sizeof args, argc, argv, 2);
			rc = do_load(&o, argv[1], args);
		}
	} else if (!strcmp(argv[0], "unload")) {
		struct ext *e = argc == 2 ? ext_find(argv[1]) : NULL;
		char err[256];
		if (!e) {
			ctl_printf(&o, argc == 2 ? "no extension named %s\n" : "usage: unload NAME\n",
			   argc == 2 ? argv[1] : "");
			rc = 1;
		} else if (ext_unload(e, err, sizeof err)) {
			ctl_printf(&o, "unload refused: %s\n", err);
			rc = 1;
		} else {
			ctl_printf(&o, "unloaded %s (%u bindings removed)\n", argv[1], ext_last_swept());
		}
	} else if (!strcmp(argv[0], "domains")) {
		struct domain *pub = domain_spin_public();
		if (pub) {
			ctl_printf(&o, "SpinPublic builtin exports %u\n", domain_nexports(pub));
			domain_release(pub);
		}
		/* The started built-in modules, each a domain made from a
		 * module already in the kernel (Domain.CreateFromModule). */
		for (unsigned i = 0; i < spin_builtin_count(); i++) {
			const struct spin_module *m = spin_builtin(i);
			struct domain *d;

			if (!spin_module_started(m) || domain_create_builtin(m, &d) != DOM_OK)
				continue;
			ctl_printf(&o, "%s builtin exports %u\n", m->name, domain_nexports(d));
			domain_release(d);
		}
		for (unsigned i = 0; i < ext_count(); i++) {
			const struct ext *e = ext_at(i);
			ctl_printf(&o, "%s object %s bytes %zu exports %u args '%s'\n", ext_name(e),
			   ext_label(e), domain_image_size(ext_domain(e)),
			   domain_nexports(ext_domain(e)), ext_args(e));
		}
	} else if (!strcmp(argv[0], "exports")) {
		if (argc == 2) {
			struct ext *e = ext_find(argv[1]);
			if (!e) {
				ctl_printf(&o, "no extension named %s\n", argv[1]);
				rc = 1;
			} else {
				ctl_printf(&o, "%s exports:\n", argv[1]);
				domain_foreach_export(ext_domain(e), print_sym, &o);
			}
		} else {
			ns_foreach_export(print_export, &o);
		}
	} else if (!strcmp(argv[0], "imports")) {
		if (argc == 2) {
			struct ext *e = ext_find(argv[1]);
			if (!e) {
				ctl_printf(&o, "no extension named %s\n", argv[1]);
				rc = 1;
			} else {
				ctl_printf(&o, "%s symbols:\n", argv[1]);
				domain_foreach_import(ext_domain(e), print_sym, &o);
			}
		} else {
			for (unsigned i = 0; i < spin_builtin_count(); i++) {
				const struct spin_module *m = spin_builtin(i);
				if (!spin_module_started(m))
					continue;
				for (const struct spin_import *im = m->imports; im && im->name; im++)
					ctl_printf(&o, "%s imports %s %u.%u\n", m->name, im->name,
					   SPIN_VERSION_MAJOR(im->version),
					   SPIN_VERSION_MINOR(im->version));
			}
			ns_foreach_import(print_import, &o);
		}
	}
	*out = o.s ? o.s : strdup("");
	return rc;
}

int app_domain_start(const struct spin_config *c, char *err, size_t n)
{
	for (unsigned i = 0; i < c->n_domlines; i++) {
		char buf[1024], e[512], *argv[64];
		int argc = 0;
		struct ext *x;

		snprintf(buf, sizeof buf, "%s", c->domlines[i].text);
		for (char *s = strtok(buf, " "); s && argc < 64; s = strtok(NULL, " "))
			argv[argc++] = s;
		if (argc < 2)
			continue;
		if (!strcmp(argv[0], "trust")) {
			if (ext_trust_file(argv[1], e, sizeof e)) {
				snprintf(err, n, "%s:%d: %s", c->path, c->domlines[i].line, e);
				return -1;
			}
			continue;
		}
		char args[512];
		join(args, sizeof args, argc, argv, 2);
		(void)ext_reclaim_hook(reclaim_nodes);
		if (ext_load(argv[1], args, NULL, &x, e, sizeof e)) {
			snprintf(err, n, "%s:%d: load refused: %s", c->path, c->domlines[i].line, e);
			return -1;
		}
	}
	return 0;
}

void app_domain_stop(void)
{
	ext_unload_all();
	ext_trust_clear();
	domain_fini();
}
