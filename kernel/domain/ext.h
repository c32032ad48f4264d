/*
 * ext.h - extensions: signed object files linked into their own domain,
 * started as modules, and unloaded without a window.
 *
 * Load (ext_load / ext_load_mem), all or nothing:
 *   1. the object's detached signature (OBJECT.sig: 128 hex digits, an
 *      ed25519 signature of the whole file) must verify under one of the
 *      trusted public keys (ext_trust_*); objects are safe by assertion,
 *      as SPIN treated its C code, and the assertion is the build's key;
 *   2. the object becomes a domain (domain_create_object) resolved only
 *      against the given domains (default: SpinPublic); a symbol none of
 *      them exports refuses the load, naming every such symbol;
 *   3. the entry symbol spin_extension_module (from SPIN_MODULE built with
 *      -DSPIN_EXTENSION) names the module; its imports go through the
 *      nameserver (version: same major, minor at least; the exporter's
 *      authorizer asked with the extension's identity);
 *   4. the module's init runs with ARGS; nonzero refuses the load (e.g. an
 *      install an event's authorizer denied).
 * The extension's identity is its module descriptor: every binding it
 * makes carries it, which is how unload finds them.
 *
 * Unload (ext_unload): refused while another extension was resolved
 * against this one's domain.  Otherwise the module's fini runs, then one
 * dispatcher transaction removes every binding still installed that the
 * extension made or whose handler, guard or closure lies in its image (an
 * atomic swap: each event sees all of them or none), the reclaim hooks run
 * (e.g. graph nodes it registered), the caller waits for an RCU grace
 * period (going offline for it if it is a reader, so it must hold no RCU
 * reference across the call), and the image is unmapped.  When ext_unload
 * returns, no handler of the extension runs or will run.
 *
 * Control path; one control thread at a time.
 */
#ifndef SPIN_DOMAIN_EXT_H
#define SPIN_DOMAIN_EXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/domain/domain.h"
#include "kernel/module/module.h"

struct ext;

/* Trusted keys (32-byte ed25519 public keys). */
#define EXT_MAX_KEYS 16
int ext_trust_key(const uint8_t pk[32]);
/* A key file: 64 hex digits (spaces and a final newline allowed). */
int ext_trust_file(const char *path, char *err, size_t errlen);
void ext_trust_clear(void);
unsigned ext_trust_count(void);

struct ext_opts {
	struct domain *const *against;  /* resolve only against these ... */
	unsigned nagainst;              /* ... or, when 0, SpinPublic */
	bool unsigned_ok;               /* tests of the linker alone; never the appliance */
};

/* Reads PATH and PATH.sig.  name of the extension = its module's name. */
int ext_load(const char *path, const char *args, const struct ext_opts *o, struct ext **out,
	     char *err, size_t errlen);
/* The same from memory (sig: the .sig file's bytes, or NULL). */
int ext_load_mem(const char *label, const void *obj, size_t len, const void *sig, size_t siglen,
		 const char *args, const struct ext_opts *o, struct ext **out, char *err,
		 size_t errlen);
int ext_unload(struct ext *e, char *err, size_t errlen);
/* Unloads every extension, newest first (shutdown, tests). */
void ext_unload_all(void);

struct ext *ext_find(const char *name);
unsigned ext_count(void);
struct ext *ext_at(unsigned i);         /* load order */
const char *ext_name(const struct ext *e);
const char *ext_label(const struct ext *e);   /* the path it came from */
const char *ext_args(const struct ext *e);
const struct spin_module *ext_module(const struct ext *e);
struct domain *ext_domain(const struct ext *e);
bool ext_contains(const struct ext *e, const void *addr);
/* Bindings removed by the last unload's sweep (tests, listings). */
unsigned ext_last_swept(void);

/* Hooks run by unload after the sweep, before the grace period: forget
 * whatever the extension left registered outside the dispatcher. */
typedef void (*ext_reclaim_fn)(const struct ext *e);
int ext_reclaim_hook(ext_reclaim_fn fn);

#endif
