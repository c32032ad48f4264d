/*
 * ns.h - the in-kernel nameserver: interfaces exported by name and version.
 *
 * Two sources of exports are visible through it:
 *   - the `exports` of every started module's descriptor (built-in modules
 *     and loaded extensions; spin_interface_lookup in module.c reads these
 *     and keeps working for its callers),
 *   - interfaces registered at run time with ns_export, each with an
 *     optional authorization procedure of the exporter's own.
 * ns_import looks a name up in both (run-time registrations first), checks
 * the version (same major, minor at least the one asked), then asks the
 * exporter: first the registration's authorizer, then the interface's own
 * authorize_import, both with the importer's identity.  A grant is
 * recorded so `spin ctl imports` can list who uses what; ns_forget drops a
 * module's exports and import records when it goes away.
 *
 * Control path; callers serialize (the ext layer and module start-up run
 * on one control thread).
 */
#ifndef SPIN_DOMAIN_NS_H
#define SPIN_DOMAIN_NS_H

#include <stdint.h>

#include "kernel/module/module.h"

typedef int (*ns_authorizer_t)(spin_ident_t importer, const struct spin_interface *iface,
			       void *ctx);

/* Registers iface under its name and version for exporter.  authorize (may
 * be NULL) is called on every import; nonzero denies.  SPIN_MOD_EEXIST if
 * the exporter already registered that name. */
int ns_export(spin_ident_t exporter, const struct spin_interface *iface,
	      ns_authorizer_t authorize, void *ctx);
int ns_withdraw(spin_ident_t exporter, const char *name);
/* Imports (SPIN_MOD_* in *err): ENOENT, EVERSION, EDENIED. */
const struct spin_interface *ns_import(const char *name, uint32_t version,
				       spin_ident_t importer, int *err);
/* Records an import made elsewhere (module start-up binds through
 * spin_interface_lookup; the ext layer records those grants here). */
void ns_note_import(spin_ident_t importer, const struct spin_interface *iface);
/* Drops everything who exported or imported. */
void ns_forget(spin_ident_t who);

/* Every export: run-time registrations, then started modules' descriptors
 * (built-in ones, then those passed to ns_module_seen).  fn returns nonzero
 * to stop. */
int ns_foreach_export(int (*fn)(void *ctx, spin_ident_t exporter,
				const struct spin_interface *iface), void *ctx);
/* Every recorded import. */
int ns_foreach_import(int (*fn)(void *ctx, spin_ident_t importer,
				const struct spin_interface *iface), void *ctx);
/* Modules that are not built in (extensions) whose descriptor exports the
 * nameserver lists; the ext layer keeps this up to date. */
void ns_module_seen(const struct spin_module *m);
void ns_module_gone(const struct spin_module *m);

#endif
