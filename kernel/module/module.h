/*
 * module.h - module descriptors and identities.
 *
 * A module is the unit of extension: a name, a version, the interfaces and
 * events it exports, the interfaces it imports, and init/fini procedures.
 * SPIN_MODULE(...) builds one either into the kernel (a descriptor placed in
 * the "spin_modules" link section, found at start-up) or, compiled with
 * -DSPIN_EXTENSION, as an extension object whose one entry symbol is
 * spin_extension_module (the in-kernel linker of the domains issue looks it
 * up).  The same source builds both ways.
 *
 * The identity of a module is the address of its descriptor: authorizers
 * receive it with every install and import, so "who asked" is always known
 * and cannot be forged by an extension (it can only name its own).
 */
#ifndef SPIN_MODULE_H
#define SPIN_MODULE_H

#include <stdbool.h>
#include <stdint.h>

struct spin_module;
typedef const struct spin_module *spin_ident_t;

/* The kernel itself, for bindings made by core code. */
extern const struct spin_module spin_kernel_module;
#define SPIN_KERNEL (&spin_kernel_module)

#define SPIN_VERSION(major, minor) (((uint32_t)(major) << 16) | (uint16_t)(minor))
#define SPIN_VERSION_MAJOR(v) ((v) >> 16)
#define SPIN_VERSION_MINOR(v) ((v) & 0xffff)

struct disp_event;

/* An interface: a named, versioned table of procedures and events. */
struct spin_interface {
	const char *name;
	uint32_t version;
	const void *procs;          /* a struct of function pointers, or NULL */
	struct disp_event *const *events; /* NULL-terminated, or NULL */
	/* Called when a module imports this interface; nonzero denies. */
	int (*authorize_import)(spin_ident_t importer, const struct spin_interface *iface);
	/* Called for installs on any of this interface's events (after the
	 * event's own authorizer); nonzero denies. */
	int (*authorize_install)(spin_ident_t installer, struct disp_event *ev, void *spec);
};

/* An import: by name and required version (same major, minor >= asked). */
struct spin_import {
	const char *name;
	uint32_t version;
	const struct spin_interface **bound; /* filled when resolved */
};

struct spin_module {
	const char *name;
	uint32_t version;
	const struct spin_interface *const *exports; /* NULL-terminated */
	const struct spin_import *imports;           /* name==NULL ends */
	int (*init)(const char *args);  /* 0 ok; nonzero refuses the load */
	void (*fini)(void);
	const char *doc;                /* one line, shown by spin ctl */
};

#ifdef SPIN_EXTENSION
#define SPIN_MODULE(var, ...)                                                  \
	const struct spin_module var = {__VA_ARGS__};                          \
	const struct spin_module *const spin_extension_module = &var
#else
#define SPIN_MODULE(var, ...)                                                  \
	const struct spin_module var = {__VA_ARGS__};                          \
	static const struct spin_module *const var##__reg                      \
	    __attribute__((used, section("spin_modules"))) = &var
#endif

/* Built-in modules, in link order.  Iterate with i < spin_builtin_count(). */
unsigned spin_builtin_count(void);
const struct spin_module *spin_builtin(unsigned i);
const struct spin_module *spin_builtin_find(const char *name);

/* Registry of started modules and their exports (the in-kernel nameserver
 * starts here; the domains issue grows it). */
enum spin_mod_err { SPIN_MOD_OK = 0, SPIN_MOD_ENOENT, SPIN_MOD_EVERSION,
		    SPIN_MOD_EDENIED, SPIN_MOD_EINIT, SPIN_MOD_EEXIST };
int spin_module_start(const struct spin_module *m, const char *args);
void spin_module_stop(const struct spin_module *m);
bool spin_module_started(const struct spin_module *m);
const struct spin_interface *spin_interface_lookup(const char *name, uint32_t version,
						   spin_ident_t importer, int *err);
const char *spin_ident_name(spin_ident_t id);

#endif
