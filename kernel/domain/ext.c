/*
 * ext.c - loading and unloading extensions.  See ext.h.
 */
#include "kernel/domain/ext.h"

#include "kernel/dispatch/dispatch.h"
#include "kernel/domain/ns.h"
#include "kernel/rcu/rcu.h"
#include "kernel/sal/sal.h"
#include "kernel/sal/sal_loader.h"

#define EXT_MAX 64
#define EXT_MAX_HOOKS 8

struct ext {
	char label[256];
	char *args;
	struct domain *dom;
	const struct spin_module *m;
	struct ext *deps[8];      /* extension domains it was resolved against */
	unsigned ndeps;
	unsigned users;           /* extensions resolved against this one */
};

static uint8_t keys[EXT_MAX_KEYS][SAL_LDR_PUBKEY_LEN];
static unsigned nkeys;
static struct ext *exts[EXT_MAX];
static unsigned nexts;
static ext_reclaim_fn hooks[EXT_MAX_HOOKS];
static unsigned nhooks;
static unsigned last_swept;

static void errs(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void errs(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (!err || !n)
		return;
	va_start(ap, fmt);
	sal_vsnprintf(err, n, fmt, ap);
	va_end(ap);
}

/* --- keys and signatures -------------------------------------------------- */
static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly want bytes of hex, whitespace around allowed.  0 on success. */
static int parse_hex(const char *s, size_t len, uint8_t *out, size_t want)
{
	size_t got = 0, i = 0;

	while (i < len && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
		i++;
	while (i + 1 < len && got < want) {
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[got++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	while (i < len && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
		i++;
	return got == want && i == len ? 0 : -1;
}

int ext_trust_key(const uint8_t pk[32])
{
	for (unsigned i = 0; i < nkeys; i++)
		if (!memcmp(keys[i], pk, SAL_LDR_PUBKEY_LEN))
			return 0;
	if (nkeys == EXT_MAX_KEYS)
		return -1;
	memcpy(keys[nkeys++], pk, SAL_LDR_PUBKEY_LEN);
	return 0;
}

int ext_trust_file(const char *path, char *err, size_t n)
{
	void *buf;
	size_t len;
	uint8_t pk[SAL_LDR_PUBKEY_LEN];
	int rc;

	if (sal_ldr_read_file(path, &buf, &len, 4096)) {
		errs(err, n, "cannot read key file %s", path);
		return -1;
	}
	rc = parse_hex(buf, len, pk, sizeof pk);
	sal_free(buf);
	if (rc) {
		errs(err, n, "%s: not an ed25519 public key (64 hex digits)", path);
		return -1;
	}
	if (ext_trust_key(pk)) {
		errs(err, n, "%s: too many trusted keys (%u)", path, EXT_MAX_KEYS);
		return -1;
	}
	return 0;
}

void ext_trust_clear(void) { nkeys = 0; }
unsigned ext_trust_count(void) { return nkeys; }

static int check_signature(const void *obj, size_t len, const void *sig, size_t siglen,
			   char *err, size_t n)
{
	uint8_t s[SAL_LDR_SIG_LEN];

	if (!sig) {
		errs(err, n, "unsigned object (no .sig file)");
		return DOM_ESIG;
	}
	if (parse_hex(sig, siglen, s, sizeof s)) {
		errs(err, n, "malformed signature file (want 128 hex digits)");
		return DOM_ESIG;
	}
	if (!nkeys) {
		errs(err, n, "no trusted keys (config: trust KEYFILE)");
		return DOM_ESIG;
	}
	for (unsigned i = 0; i < nkeys; i++)
		if (sal_ldr_verify(s, obj, len, keys[i]))
			return DOM_OK;
	errs(err, n, "signature does not verify under any trusted key (tampered or foreign)");
	return DOM_ESIG;
}

/* --- lookup ------------------------------------------------------------------ */
struct ext *ext_find(const char *name)
{
	for (unsigned i = 0; i < nexts; i++)
		if (!strcmp(exts[i]->m->name, name))
			return exts[i];
	return NULL;
}

unsigned ext_count(void) { return nexts; }
struct ext *ext_at(unsigned i) { return i < nexts ? exts[i] : NULL; }
const char *ext_name(const struct ext *e) { return e->m->name; }
const char *ext_label(const struct ext *e) { return e->label; }
const char *ext_args(const struct ext *e) { return e->args ? e->args : ""; }
const struct spin_module *ext_module(const struct ext *e) { return e->m; }
struct domain *ext_domain(const struct ext *e) { return e->dom; }
bool ext_contains(const struct ext *e, const void *addr) { return domain_contains(e->dom, addr); }
unsigned ext_last_swept(void) { return last_swept; }

int ext_reclaim_hook(ext_reclaim_fn fn)
{
	for (unsigned i = 0; i < nhooks; i++)
		if (hooks[i] == fn)
			return 0;
	if (nhooks == EXT_MAX_HOOKS)
		return -1;
	hooks[nhooks++] = fn;
	return 0;
}

static struct ext *ext_of_domain(const struct domain *d)
{
	for (unsigned i = 0; i < nexts; i++)
		if (exts[i]->dom == d)
			return exts[i];
	return NULL;
}

/* --- unload ------------------------------------------------------------------ */
static bool owned(const struct ext *e, const struct disp_binding *b)
{
	if (b->installer == e->m || domain_contains(e->dom, (const void *)b->fn) ||
	    domain_contains(e->dom, b->closure))
		return true;
	for (uint32_t i = 0; i < b->npg && i < DISP_MAX_PGUARDS; i++)
		if (domain_contains(e->dom, (const void *)b->pg[i].fn) ||
		    domain_contains(e->dom, b->pg[i].closure))
			return true;
	return false;
}

/* One transaction removes every binding of x, on every event. */
static void sweep(const struct ext *x)
{
	struct disp_txn *t = disp_txn_begin();
	struct disp_binding_info *info = NULL;
	unsigned cap = 0, swept = 0;

	if (!t) {
		sal_log(SAL_LOG_ERR, "extension %s: no memory for the unload transaction", x->m->name);
		return;
	}
	for (unsigned i = 0; i < disp_event_count(); i++) {
		struct disp_event *ev = disp_event_at(i);
		int nb = disp_list(ev, info, cap);

		if (nb > (int)cap) {
			sal_free(info);
			cap = (unsigned)nb * 2;
			info = sal_calloc(cap, sizeof *info);
			if (!info) {
				cap = 0;
				continue;
			}
			nb = disp_list(ev, info, cap);
		}
		for (int k = 0; k < nb && k < (int)cap; k++) {
			struct disp_binding *b = (struct disp_binding *)info[k].binding;
			if (owned(x, b) && disp_txn_remove(t, b) == DISP_OK)
				swept++;
		}
	}
	sal_free(info);
	if (disp_txn_commit(t) != DISP_OK)
		sal_log(SAL_LOG_ERR, "extension %s: unload transaction failed", x->m->name);
	last_swept = swept;
}

/* Waits until no reader can still be running code of the image. */
static void grace_period(void)
{
	bool online = rcu_thread_is_online();

	if (online)
		rcu_thread_offline();
	rcu_synchronize();
	if (online)
		rcu_thread_online();
}

/* --- load -------------------------------------------------------------------- */
static const char *mod_err(int e)
{
	return e == SPIN_MOD_EVERSION  ? "version mismatch"
	       : e == SPIN_MOD_EDENIED ? "denied by the exporter"
				       : "not exported by any started module";
}

static int mod_to_dom(int e)
{
	return e == SPIN_MOD_EVERSION ? DOM_EVERSION : e == SPIN_MOD_EDENIED ? DOM_EDENIED
								  : DOM_ENOENT;
}

/* Checks the imports before start-up so the refusal can name the import. */
static int check_imports(const struct spin_module *m, char *err, size_t n)
{
	for (const struct spin_import *im = m->imports; im && im->name; im++) {
		int e;
		const struct spin_interface *x = ns_import(im->name, im->version, m, &e);
		if (!x) {
			errs(err, n, "%s: import %s %u.%u: %s", m->name, im->name,
			     SPIN_VERSION_MAJOR(im->version), SPIN_VERSION_MINOR(im->version),
			     mod_err(e));
			return mod_to_dom(e);
		}
	}
	return DOM_OK;
}

int ext_load_mem(const char *label, const void *obj, size_t len, const void *sig, size_t siglen,
		 const char *args, const struct ext_opts *o, struct ext **out, char *err, size_t n)
{
	static const struct ext_opts none;
	struct ext *e = NULL;
	struct domain *d = NULL, *pub = NULL;
	const struct spin_module *const *entry;
	char why[384];
	int rc;

	if (out)
		*out = NULL;
	if (!o)
		o = &none;
	if (!o->unsigned_ok && (rc = check_signature(obj, len, sig, siglen, err, n)))
		return rc;
	if (nexts == EXT_MAX) {
		errs(err, n, "too many extensions (%u)", EXT_MAX);
		return DOM_ENOMEM;
	}
	if (o->nagainst > 8) {
		errs(err, n, "too many domains to resolve against");
		return DOM_ENOMEM;
	}
	e = sal_calloc(1, sizeof *e);
	if (!e)
		return DOM_ENOMEM;
	sal_snprintf(e->label, sizeof e->label, "%s", label ? label : "?");
	why[0] = 0;
	rc = domain_create_object(e->label, obj, len, &d, why, sizeof why);
	if (rc) {
		errs(err, n, "%s: %s", e->label, why);
		goto fail;
	}
	if (o->nagainst) {
		for (unsigned i = 0; i < o->nagainst; i++) {
			struct ext *dep = ext_of_domain(o->against[i]);
			(void)domain_resolve(o->against[i], d);
			if (dep)
				e->deps[e->ndeps++] = dep;
		}
	} else {
		pub = domain_spin_public();
		if (!pub) {
			rc = DOM_ENOMEM;
			goto fail;
		}
		(void)domain_resolve(pub, d);
	}
	rc = domain_link(d, why, sizeof why);
	if (rc) {
		errs(err, n, "%s: %s", e->label, why);
		goto fail;
	}
	entry = domain_lookup(d, "spin_extension_module");
	if (!entry || !domain_contains(d, entry) || !domain_contains(d, *entry) ||
	    !domain_contains(d, (*entry)->name)) {
		errs(err, n, "%s: no spin_extension_module (build with SPIN_MODULE and -DSPIN_EXTENSION)",
		     e->label);
		rc = DOM_ENOENT;
		goto fail;
	}
	e->m = *entry;
	if (ext_find(e->m->name)) {
		errs(err, n, "%s: an extension named %s is loaded", e->label, e->m->name);
		rc = DOM_EEXIST;
		goto fail;
	}
	if ((rc = check_imports(e->m, why, sizeof why))) {
		errs(err, n, "%s: %s", e->label, why);
		goto fail;
	}
	e->dom = d;
	e->args = args && *args ? sal_strdup(args) : NULL;
	exts[nexts++] = e;
	ns_module_seen(e->m);
	rc = spin_module_start(e->m, e->args);
	if (rc) {
		nexts--;
		ns_module_gone(e->m);
		errs(err, n, "%s: module %s refused to start (%s)", e->label, e->m->name,
		     rc == SPIN_MOD_EINIT ? "init refused" : mod_err(rc));
		rc = rc == SPIN_MOD_EINIT ? DOM_EINIT : mod_to_dom(rc);
		/* init refused, but it may have installed bindings first:
		 * they go exactly as at unload, before the image does. */
		sweep(e);
		grace_period();
		e->dom = NULL;
		goto fail;
	}
	for (unsigned i = 0; i < e->ndeps; i++)
		e->deps[i]->users++;
	domain_release(pub);
	sal_log(SAL_LOG_INFO, "extension %s loaded from %s (%zu bytes mapped, %u exports)",
		e->m->name, e->label, domain_image_size(d), domain_nexports(d));
	if (out)
		*out = e;
	return DOM_OK;
fail:
	if (e->m)
		ns_forget(e->m);        /* reads the descriptor: before the image goes */
	domain_release(pub);
	domain_release(d);
	sal_free(e->args);
	sal_free(e);
	return rc;
}

int ext_load(const char *path, const char *args, const struct ext_opts *o, struct ext **out,
	     char *err, size_t n)
{
	void *obj = NULL, *sig = NULL;
	size_t len = 0, siglen = 0;
	char sigpath[300];
	int rc;

	if (sal_ldr_read_file(path, &obj, &len, DOMAIN_MAX_OBJECT)) {
		errs(err, n, "%s: cannot read the object", path);
		return DOM_ENOENT;
	}
	sal_snprintf(sigpath, sizeof sigpath, "%s.sig", path);
	if (sal_ldr_read_file(sigpath, &sig, &siglen, 4096))
		sig = NULL;
	rc = ext_load_mem(path, obj, len, sig, siglen, args, o, out, err, n);
	sal_free(obj);
	sal_free(sig);
	return rc;
}

int ext_unload(struct ext *e, char *err, size_t n)
{
	unsigned i;

	for (i = 0; i < nexts && exts[i] != e; i++)
		;
	if (i == nexts) {
		errs(err, n, "not loaded");
		return DOM_ENOENT;
	}
	if (e->users) {
		errs(err, n, "%s: %u extension%s resolved against it (unload those first)",
		     e->m->name, e->users, e->users == 1 ? " is" : "s are");
		return DOM_ESTATE;
	}
	spin_module_stop(e->m);
	sweep(e);
	for (unsigned k = 0; k < nhooks; k++)
		hooks[k](e);
	grace_period();
	ns_forget(e->m);
	ns_module_gone(e->m);
	for (unsigned k = 0; k < e->ndeps; k++)
		e->deps[k]->users--;
	/* Load order is kept for listings. */
	for (nexts--; i < nexts; i++)
		exts[i] = exts[i + 1];
	sal_log(SAL_LOG_INFO, "extension %s unloaded (%u bindings removed)", e->m->name,
		last_swept);
	domain_release(e->dom);
	sal_free(e->args);
	sal_free(e);
	return DOM_OK;
}

void ext_unload_all(void)
{
	while (nexts) {
		/* Newest first; one nobody else is resolved against exists,
		 * because resolution only goes to older extensions. */
		struct ext *e = NULL;
		for (unsigned i = nexts; i-- > 0;)
			if (!exts[i]->users) {
				e = exts[i];
				break;
			}
		if (!e || ext_unload(e, NULL, 0))
			break;
	}
}
