/*
 * domain.h - SPIN's logical protection domains and spin's own linker.
 *
 * A domain is a set of symbols that code may link against.  It is made
 *   - from an object file (domain_create_object): an x86-64 relocatable ELF
 *     object (.o) is parsed, checked and placed in memory; its defined
 *     global symbols of default visibility are its exports, its undefined
 *     ones wait to be resolved;
 *   - from a module built into the kernel (domain_create_builtin): the
 *     module's global symbols, found in the kernel image by the module's
 *     prefixes (one prefix per module is the project's naming rule);
 *   - by combining two domains (domain_combine): a domain exporting both.
 * domain_resolve(source, target) binds target's undefined symbols to what
 * source exports; nothing else can satisfy them, so an extension reaches
 * exactly the symbols of the domains it was resolved against.
 * domain_link then applies the relocations and seals the image (code
 * read+execute, constants and the GOT read-only, data read+write: W^X);
 * it refuses while a strong undefined symbol is left, naming them all.
 *
 * SpinPublic (domain_spin_public) is the combination of the domains of all
 * built-in modules: what an extension is resolved against by default.
 *
 * Objects may land anywhere in the address space: extensions are built
 * with -fPIC -fno-plt, so every reference to another domain goes through
 * the object's own GOT (one 8-byte slot per referenced symbol) and only
 * references inside the object are PC-relative.  A PLT32 call to another
 * domain (code built without -fno-plt) gets a 6-byte stub jumping through
 * the GOT.  Absolute 32-bit relocations are refused unless the target
 * really fits (see docs/domains.md for the table).
 *
 * Malformed objects never crash the kernel: every offset, size, index and
 * string in the file is checked before use; the result is DOM_EFORMAT with
 * a message.  Control path only; callers serialize (the ext layer does).
 */
#ifndef SPIN_DOMAIN_H
#define SPIN_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/module/module.h"

enum domain_err {
	DOM_OK = 0,
	DOM_EFORMAT,      /* not a well-formed x86-64 relocatable object */
	DOM_EUNSUPPORTED, /* well-formed, but uses what the linker refuses */
	DOM_ENOMEM,
	DOM_EUNRESOLVED,  /* undefined symbols left (named in the message) */
	DOM_ERANGE,       /* a relocation's value does not fit its field */
	DOM_ESTATE,       /* e.g. resolving a domain already linked */
	DOM_ENOENT,
	DOM_ESIG,         /* unsigned, tampered, or signed by an untrusted key */
	DOM_EVERSION,     /* an imported interface's version does not match */
	DOM_EDENIED,      /* an authorizer refused */
	DOM_EINIT,        /* the module's init refused */
	DOM_EEXIST,
};
const char *domain_strerror(int err);

struct domain;

/* Largest object file the linker takes. */
#define DOMAIN_MAX_OBJECT (64u << 20)

/* Parses and places the object (the bytes are copied; the caller keeps
 * elf).  On failure returns an error and writes a one-line reason to err.
 * The new domain holds one reference. */
int domain_create_object(const char *name, const void *elf, size_t len, struct domain **out,
			 char *err, size_t errlen);
/* The domain of a built-in module: its global symbols in the kernel image
 * (by prefix; the kernel's own domain adds the freestanding primitives
 * memcpy, memset, memmove, memcmp, strlen, strcmp, strncmp). */
int domain_create_builtin(const struct spin_module *m, struct domain **out);
/* A domain exporting everything a and b export (a first on a name clash).
 * It holds references to both. */
int domain_combine(const char *name, struct domain *a, struct domain *b, struct domain **out);
/* Binds the undefined symbols of target (an object domain not yet linked)
 * that source exports.  Returns how many were bound now (>= 0) or a
 * negative domain_err. */
int domain_resolve(struct domain *source, struct domain *target);
/* Writes the names of target's strong undefined symbols still unbound,
 * separated by spaces, into buf; returns how many there are. */
unsigned domain_unresolved(const struct domain *d, char *buf, size_t size);
/* Applies the relocations and seals the image.  Unbound weak symbols
 * become 0.  Refuses (DOM_EUNRESOLVED, names in err) while a strong one is
 * unbound. */
int domain_link(struct domain *d, char *err, size_t errlen);

void domain_retain(struct domain *d);
/* Drops a reference; the last one frees the domain and (object domains)
 * its image.  The caller guarantees no code of the image can still run. */
void domain_release(struct domain *d);

/* An exported symbol's address, or NULL. */
void *domain_lookup(const struct domain *d, const char *name);
/* Calls fn for every export in order until it returns nonzero. */
int domain_foreach_export(const struct domain *d,
			  int (*fn)(void *ctx, const char *name, const void *addr), void *ctx);
/* Calls fn for every undefined symbol of an object domain with the address
 * it was bound to (NULL while unbound). */
int domain_foreach_import(const struct domain *d,
			  int (*fn)(void *ctx, const char *name, const void *addr), void *ctx);
const char *domain_name(const struct domain *d);
unsigned domain_nexports(const struct domain *d);
/* Does addr lie inside the object's image (code, constants, GOT, data)? */
bool domain_contains(const struct domain *d, const void *addr);
/* The image's size in bytes (0 for non-object domains). */
size_t domain_image_size(const struct domain *d);
bool domain_is_linked(const struct domain *d);

/* SpinPublic: made on first use, lives until domain_fini.  One reference
 * is the caller's (release it). */
struct domain *domain_spin_public(void);
/* Drops SpinPublic and the kernel image's symbol cache (tests, shutdown). */
void domain_fini(void);

#endif
