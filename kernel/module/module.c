/*
 * module.c - built-in module table and the start-up registry.
 *
 * Built-in modules are found through the "spin_modules" link section, which
 * the linker bounds with __start_/__stop_ symbols.  The registry of started
 * modules is the first piece of the in-kernel nameserver: interfaces are
 * looked up by name and version among the exports of started modules, and
 * the exporter's authorize_import is asked before an import is granted.
 * Control path only (module start/stop is serialized by the caller).
 */
#include "kernel/module/module.h"

#include "kernel/sal/sal.h"

SPIN_MODULE(spin_kernel_module,
	.name = "kernel",
	.version = SPIN_VERSION(0, 1),
	.doc = "the spin kernel: dispatcher, run loops, RCU, the platform layer");

extern const struct spin_module *const __start_spin_modules[];
extern const struct spin_module *const __stop_spin_modules[];

unsigned spin_builtin_count(void)
{
	return (unsigned)(__stop_spin_modules - __start_spin_modules);
}

const struct spin_module *spin_builtin(unsigned i)
{
	return i < spin_builtin_count() ? __start_spin_modules[i] : NULL;
}

const struct spin_module *spin_builtin_find(const char *name)
{
	for (unsigned i = 0; i < spin_builtin_count(); i++)
		if (strcmp(__start_spin_modules[i]->name, name) == 0)
			return __start_spin_modules[i];
	return NULL;
}

#define MAX_STARTED 256
static const struct spin_module *started[MAX_STARTED];
static unsigned nstarted;

bool spin_module_started(const struct spin_module *m)
{
	if (m == SPIN_KERNEL)
		return true;
	for (unsigned i = 0; i < nstarted; i++)
		if (started[i] == m)
			return true;
	return false;
}

const char *spin_ident_name(spin_ident_t id) { return id && id->name ? id->name : "?"; }

static bool version_ok(uint32_t have, uint32_t want)
{
	return SPIN_VERSION_MAJOR(have) == SPIN_VERSION_MAJOR(want) &&
	       SPIN_VERSION_MINOR(have) >= SPIN_VERSION_MINOR(want);
}

const struct spin_interface *spin_interface_lookup(const char *name, uint32_t version,
						   spin_ident_t importer, int *err)
{
	int e = SPIN_MOD_ENOENT;
	for (unsigned i = 0; i <= nstarted; i++) {
		const struct spin_module *m = i < nstarted ? started[i] : SPIN_KERNEL;
		for (const struct spin_interface *const *x = m->exports; x && *x; x++) {
			if (strcmp((*x)->name, name) != 0)
				continue;
			if (!version_ok((*x)->version, version)) {
				e = SPIN_MOD_EVERSION;
				continue;
			}
			if ((*x)->authorize_import && (*x)->authorize_import(importer, *x) != 0) {
				e = SPIN_MOD_EDENIED;
				continue;
			}
			if (err)
				*err = SPIN_MOD_OK;
			return *x;
		}
	}
	if (err)
		*err = e;
	return NULL;
}

int spin_module_start(const struct spin_module *m, const char *args)
{
	if (spin_module_started(m))
		return SPIN_MOD_EEXIST;
	if (nstarted == MAX_STARTED)
		return SPIN_MOD_EINIT;
	for (const struct spin_import *im = m->imports; im && im->name; im++) {
		int err;
		const struct spin_interface *x = spin_interface_lookup(im->name, im->version, m, &err);
		if (!x) {
			sal_log(SAL_LOG_ERR, "module %s: import %s %u.%u: %s", m->name, im->name,
				SPIN_VERSION_MAJOR(im->version), SPIN_VERSION_MINOR(im->version),
				err == SPIN_MOD_EVERSION ? "version mismatch"
				: err == SPIN_MOD_EDENIED ? "denied by the exporter"
							  : "not exported by any started module");
			return err;
		}
		if (im->bound)
			*im->bound = x;
	}
	started[nstarted++] = m;
	if (m->init && m->init(args) != 0) {
		nstarted--;
		sal_log(SAL_LOG_ERR, "module %s: init refused", m->name);
		return SPIN_MOD_EINIT;
	}
	return SPIN_MOD_OK;
}

void spin_module_stop(const struct spin_module *m)
{
	for (unsigned i = 0; i < nstarted; i++) {
		if (started[i] != m)
			continue;
		if (m->fini)
			m->fini();
		started[i] = started[--nstarted];
		return;
	}
}
