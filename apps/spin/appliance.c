/*
 * appliance.c - bring-up, reload, control and teardown of one appliance.
 * See appliance.h; the config format is docs/config.md.
 */
#include "apps/spin/appliance.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "apps/echo/echo.h"
#include "apps/spin/ctl_server.h"
#include "apps/syscall/sysc.h"
#include "apps/tcpsvc/tcpsvc.h"
#include "drivers/afpacket/drv_afpacket.h"
#include "drivers/drv.h"
#include "drivers/pcap/drv_pcap.h"
#include "drivers/replay/drv_replay.h"
#include "drivers/tap/drv_tap.h"
#include "kernel/dispatch/dispatch.h"
#include "kernel/exec/exec.h"
#include "kernel/module/module.h"
#include "kernel/sal/sal.h"
#include "netgraph/fault/fault.h"
#include "netgraph/graph.h"
#include "netgraph/iface.h"
#include "netgraph/pkt.h"
#include "protocols/arp/arp.h"
#include "protocols/inet/inet.h"
#include "protocols/ip/ip.h"
#include "protocols/tcp/tcp.h"

/* A fault node made from a config line (one per direction). */
struct app_fault {
	struct fault_node *node;
	char ifname[CFG_NAMESIZ];
	enum fault_point at;
	char *spec;
};

/* A running TCP service (apps/tcpsvc), one per `service tcp-*` line. */
struct app_tcpsvc {
	enum cfg_service_kind kind;
	uint16_t port;
	struct tcpsvc *svc;
	const struct tcpsvc_ops *ops;
};

struct appliance {
	struct spin_config *cfg;
	unsigned flags;
	struct exec_loop *loop;
	struct pkt_pool *pool;
	struct ng_iface *ifs[NG_IF_MAX];    /* same order as cfg->ifaces */
	unsigned nifs;
	struct disp_binding **svc;          /* one per UDP service, installed */
	unsigned nsvc;
	struct app_tcpsvc *tsvc;            /* the TCP services, running */
	unsigned ntsvc;
	struct app_fault faults[FAULT_MAX_NODES];
	unsigned nfaults;
	const struct spin_module *started[64];
	unsigned nstarted;
	struct ctl_server *ctl;
	int sig_fd;
	struct exec_poller sig_poller;
	struct sysc_server *sysc;           /* `syscall PATH`, or NULL */
	char ctl_path[108];
	uint64_t start_ns, reloads, reload_refused;
	sigset_t oldmask;
	bool stopping;
};

static void errf(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
}

const struct spin_config *app_config(const struct appliance *a) { return a->cfg; }

/* --- modules ---------------------------------------------------------------- */
/* The protocols in dependency order; any other built-in module follows. */
static const char *const module_order[] = {"netgraph", "inet", "ether", "arp", "ip",
					   "icmp", "udp", "tcp", "fault", "echo", "tcpecho",
					   "discard", "chargen", "tcpfetch", "iperf3"};

static bool start_one(struct appliance *a, const struct spin_module *m)
{
	if (!m || spin_module_started(m))
		return true;
	if (spin_module_start(m, NULL) != SPIN_MOD_OK)
		return false;
	if (a->nstarted < NG_ARRAY_LEN(a->started))
		a->started[a->nstarted++] = m;
	return true;
}

static int start_modules(struct appliance *a, char *err, size_t n)
{
	for (size_t i = 0; i < NG_ARRAY_LEN(module_order); i++) {
		const struct spin_module *m = spin_builtin_find(module_order[i]);

		if (!start_one(a, m)) {
			errf(err, n, "%s:0: module %s failed to start", a->cfg->path, m->name);
			return -1;
		}
	}
	for (unsigned i = 0; i < spin_builtin_count(); i++) {
		const struct spin_module *m = spin_builtin(i);

		if (m != SPIN_KERNEL && !start_one(a, m))
			sal_log(SAL_LOG_WARN, "module %s did not start (left out)", m->name);
	}
	return 0;
}

static void stop_modules(struct appliance *a)
{
	while (a->nstarted)
		spin_module_stop(a->started[--a->nstarted]);
}

/* --- interfaces --------------------------------------------------------------- */
static int open_iface(struct appliance *a, const struct cfg_iface *c, char *err, size_t n)
{
	struct ng_iface *ifp = NULL;
	int rc;

	switch (c->driver) {
	case CFG_DRV_AFPACKET: {
		struct drv_afp_config d = {.ifname = c->dev, .name = c->name,
					   .mode = c->capture ? DRV_AFP_CAPTURE : DRV_AFP_LATENCY,
					   .promisc = c->promisc || c->has_mac,
					   .no_quiet = c->no_quiet, .sw_csum = c->sw_csum,
					   .tso = c->tso, .gso = c->gso};
		rc = drv_afp_open(&d, a->pool, a->loop, &ifp);
		break;
	}
	case CFG_DRV_TAP: {
		struct drv_tap_config d = {.ifname = c->dev, .name = c->name, .mtu = c->mtu,
					   .sw_csum = c->sw_csum, .tso = c->tso, .gso = c->gso};
		memcpy(d.mac, c->mac, 6);
		rc = drv_tap_open(&d, a->pool, a->loop, &ifp);
		break;
	}
	case CFG_DRV_PCAP: {
		struct drv_pcap_config d = {.name = c->name, .in_path = c->in, .out_path = c->out,
					    .live_ifname = c->live, .promisc = c->promisc};
		memcpy(d.mac, c->mac, 6);
		rc = drv_pcap_open(&d, a->pool, a->loop, &ifp);
		break;
	}
	case CFG_DRV_REPLAY: {
		struct drv_replay_config d = {.name = c->name, .path = c->file, .loops = c->loops};
		memcpy(d.mac, c->mac, 6);
		rc = drv_replay_open(&d, a->pool, a->loop, &ifp);
		break;
	}
	default:
		rc = DRV_EINVAL;
	}
	if (rc != DRV_OK) {
		errf(err, n, "%s:%d: interface %s: %s %s: %s", a->cfg->path, c->line, c->name,
		     cfg_driver_name(c->driver),
		     c->dev ? c->dev : c->file ? c->file : c->in ? c->in : c->out ? c->out : "",
		     drv_strerror(rc));
		return -1;
	}
	if (c->has_mac && c->driver == CFG_DRV_AFPACKET)
		memcpy(ifp->mac, c->mac, 6);
	if (c->mtu && c->driver != CFG_DRV_TAP)
		ifp->mtu = c->mtu;
	a->ifs[a->nifs++] = ifp;
	sal_log(SAL_LOG_INFO, "interface %s up: driver %s, index %u, mac %02x:%02x:%02x:%02x:%02x:%02x, mtu %u",
		ifp->name, cfg_driver_name(c->driver), ifp->index, ifp->mac[0], ifp->mac[1],
		ifp->mac[2], ifp->mac[3], ifp->mac[4], ifp->mac[5], ifp->mtu);
	return 0;
}

static uint16_t ifindex_of(const char *name)
{
	struct ng_iface *ifp = ng_iface_find(name);

	return ifp ? ifp->index : 0;
}

/* --- applying a config ----------------------------------------------------------- */
/* Checks what the tables would refuse, before anything changes. */
static int validate_tables(const struct spin_config *c, char *err, size_t n)
{
	for (unsigned i = 0; i < c->n_ifaces; i++) {
		unsigned k = 0;

		for (unsigned j = 0; j < c->n_addrs; j++)
			if (!strcmp(c->addrs[j].ifname, c->ifaces[i].name) && ++k > INET_ADDRS_PER_IF) {
				errf(err, n, "%s:%d: more than %d addresses on %s", c->path,
				     c->addrs[j].line, INET_ADDRS_PER_IF, c->ifaces[i].name);
				return -1;
			}
	}
	if (c->n_arps > ARP_CACHE_MAX / 2) {
		errf(err, n, "%s:%d: too many static ARP entries (at most %d)", c->path,
		     c->arps[ARP_CACHE_MAX / 2].line, ARP_CACHE_MAX / 2);
		return -1;
	}
	return 0;
}

static bool addr_in(const struct spin_config *c, const char *ifname, uint32_t addr, uint8_t plen)
{
	for (unsigned i = 0; c && i < c->n_addrs; i++)
		if (!strcmp(c->addrs[i].ifname, ifname) && c->addrs[i].addr == addr &&
		    c->addrs[i].plen == plen)
			return true;
	return false;
}

static bool arp_in(const struct spin_config *c, const struct cfg_arp *e)
{
	for (unsigned i = 0; c && i < c->n_arps; i++)
		if (!strcmp(c->arps[i].ifname, e->ifname) && c->arps[i].ip == e->ip &&
		    !memcmp(c->arps[i].mac, e->mac, 6))
			return true;
	return false;
}

static unsigned udp_services(const struct spin_config *c)
{
	unsigned n = 0;

	for (unsigned i = 0; i < c->n_svcs; i++)
		n += !cfg_service_is_tcp(c->svcs[i].kind);
	return n;
}

/* Makes the UDP service bindings of c (not installed), in config order.
 * Returns -1 with err. */
static int make_services(const struct spin_config *c, struct disp_binding ***out,
			 char *err, size_t n)
{
	const struct spin_interface *ei;
	const struct echo_ops *ops;
	struct disp_binding **v;
	unsigned nu = udp_services(c), k = 0;
	int e;

	*out = NULL;
	if (!nu)
		return 0;
	ei = spin_interface_lookup("echo", SPIN_VERSION(1, 0), SPIN_KERNEL, &e);
	if (!ei) {
		errf(err, n, "%s:%d: the echo module is not running", c->path, c->svcs[0].line);
		return -1;
	}
	ops = ei->procs;
	v = calloc(nu, sizeof *v);
	if (!v) {
		errf(err, n, "%s:0: out of memory", c->path);
		return -1;
	}
	for (unsigned i = 0; i < c->n_svcs; i++) {
		int rc;

		if (cfg_service_is_tcp(c->svcs[i].kind))
			continue;
		rc = ops->binding_create(c->svcs[i].port, &v[k]);
		if (rc) {
			errf(err, n, "%s:%d: service udp-echo port %u: %s", c->path,
			     c->svcs[i].line, c->svcs[i].port, disp_strerror(rc));
			while (k--)
				disp_binding_destroy(v[k]);
			free(v);
			return -1;
		}
		k++;
	}
	*out = v;
	return 0;
}

/* Swaps the UDP service bindings: the old set out, the new set in, one
 * transaction, so no datagram sees a mix. */
static int swap_services(struct appliance *a, const struct spin_config *c, char *err, size_t n)
{
	struct disp_binding **nv;
	struct disp_txn *t;
	unsigned nu = udp_services(c);
	int rc = 0;

	if (make_services(c, &nv, err, n))
		return -1;
	t = disp_txn_begin();
	if (!t) {
		rc = DISP_ENOMEM;
	} else {
		for (unsigned i = 0; !rc && i < a->nsvc; i++)
			rc = disp_txn_remove(t, a->svc[i]);
		for (unsigned i = 0; !rc && i < nu; i++)
			rc = disp_txn_add(t, nv[i]);
		rc = rc ? (disp_txn_abort(t), rc) : disp_txn_commit(t);
	}
	if (rc) {
		for (unsigned i = 0; i < nu; i++)
			disp_binding_destroy(nv[i]);
		free(nv);
		errf(err, n, "%s:%d: services not applied: %s", c->path,
		     c->n_svcs ? c->svcs[0].line : 1, disp_strerror(rc));
		return -1;
	}
	free(a->svc);
	a->svc = nv;
	a->nsvc = nu;
	return 0;
}

/* --- TCP services ----------------------------------------------------------------- */
static const struct tcpsvc_ops *tcpsvc_ops_of(enum cfg_service_kind k)
{
	const char *name = cfg_service_name(k);
	const struct spin_interface *i;
	int e;

	i = spin_interface_lookup(name, SPIN_VERSION(1, 0), SPIN_KERNEL, &e);
	return i ? i->procs : NULL;
}

static bool tcp_svc_in(const struct spin_config *c, enum cfg_service_kind k, uint16_t port)
{
	for (unsigned i = 0; c && i < c->n_svcs; i++)
		if (c->svcs[i].kind == k && c->svcs[i].port == port)
			return true;
	return false;
}

static int tcp_svc_start(struct app_tcpsvc *t, enum cfg_service_kind k, uint16_t port)
{
	*t = (struct app_tcpsvc){.kind = k, .port = port, .ops = tcpsvc_ops_of(k)};
	if (!t->ops)
		return TCP_ENOTRUNNING;
	return t->ops->start(port, &t->svc);
}

/* Makes the running TCP services those of c: services no longer named stop
 * (their connections are reset), new ones listen, unchanged ones keep
 * running with their connections.  If a new one cannot listen, everything
 * is put back as it was and -1 returned with err. */
static int apply_tcp_services(struct appliance *a, const struct spin_config *c, char *err,
			      size_t n)
{
	struct app_tcpsvc *nv, removed[64];
	unsigned nn = 0, nr = 0, nt = c->n_svcs - udp_services(c);

	nv = calloc(nt ? nt : 1, sizeof *nv);
	if (!nv) {
		errf(err, n, "%s:0: out of memory", c->path);
		return -1;
	}
	/* Removed first, so a port may change service in one reload. */
	for (unsigned i = 0; i < a->ntsvc; i++) {
		if (tcp_svc_in(c, a->tsvc[i].kind, a->tsvc[i].port))
			continue;
		a->tsvc[i].ops->stop(a->tsvc[i].svc);
		if (nr < NG_ARRAY_LEN(removed))
			removed[nr++] = a->tsvc[i];
		a->tsvc[i].svc = NULL;
	}
	for (unsigned i = 0; i < c->n_svcs; i++) {
		const struct cfg_service *cs = &c->svcs[i];
		struct app_tcpsvc *old = NULL;
		int rc;

		if (!cfg_service_is_tcp(cs->kind))
			continue;
		for (unsigned j = 0; j < a->ntsvc && !old; j++)
			if (a->tsvc[j].svc && a->tsvc[j].kind == cs->kind &&
			    a->tsvc[j].port == cs->port)
				old = &a->tsvc[j];
		if (old) {
			nv[nn++] = *old;
			continue;
		}
		rc = tcp_svc_start(&nv[nn], cs->kind, cs->port);
		if (rc != TCP_OK) {
			errf(err, n, "%s:%d: service %s port %u: %s", c->path, cs->line,
			     cfg_service_name(cs->kind), cs->port,
			     nv[nn].ops ? tcp_strerror(rc) : "the service module is not running");
			/* Undo: stop what this call started, restart what
			 * it stopped. */
			for (unsigned j = 0; j < nn; j++) {
				bool was = false;

				for (unsigned k = 0; k < a->ntsvc; k++)
					was |= a->tsvc[k].svc == nv[j].svc;
				if (!was)
					nv[j].ops->stop(nv[j].svc);
			}
			for (unsigned j = 0; j < nr; j++)
				for (unsigned k = 0; k < a->ntsvc; k++)
					if (a->tsvc[k].kind == removed[j].kind &&
					    a->tsvc[k].port == removed[j].port && !a->tsvc[k].svc &&
					    tcp_svc_start(&a->tsvc[k], removed[j].kind,
							  removed[j].port) != TCP_OK)
						a->tsvc[k].svc = NULL;
			/* Drop entries that could not be restarted. */
			unsigned w = 0;
			for (unsigned k = 0; k < a->ntsvc; k++)
				if (a->tsvc[k].svc)
					a->tsvc[w++] = a->tsvc[k];
			a->ntsvc = w;
			free(nv);
			return -1;
		}
		nn++;
	}
	free(a->tsvc);
	a->tsvc = nv;
	a->ntsvc = nn;
	return 0;
}

static void stop_tcp_services(struct appliance *a)
{
	while (a->ntsvc) {
		struct app_tcpsvc *t = &a->tsvc[--a->ntsvc];

		if (t->svc)
			t->ops->stop(t->svc);
	}
	free(a->tsvc);
	a->tsvc = NULL;
}

/* --- fault nodes ------------------------------------------------------------------- */
/* The nodes a config line stands for: NAME, or NAME.rx and NAME.tx. */
static unsigned fault_names(const struct cfg_fault *f, char names[2][FAULT_NAMESIZ],
			    enum fault_point at[2])
{
	unsigned n = 0;

	if (f->dir != CFG_FAULT_BOTH) {
		snprintf(names[0], FAULT_NAMESIZ, "%s", f->name);
		at[0] = f->dir == CFG_FAULT_RX ? FAULT_LINK_RX : FAULT_LINK_TX;
		return 1;
	}
	snprintf(names[n], FAULT_NAMESIZ, "%.12s.rx", f->name);
	at[n++] = FAULT_LINK_RX;
	snprintf(names[n], FAULT_NAMESIZ, "%.12s.tx", f->name);
	at[n++] = FAULT_LINK_TX;
	return n;
}

static void fault_drop_at(struct appliance *a, unsigned i)
{
	fault_free(a->faults[i].node);
	free(a->faults[i].spec);
	a->faults[i] = a->faults[--a->nfaults];
}

/* Makes the fault nodes of c real: nodes no longer named (or moved to
 * another interface or direction) are freed, the others get their new spec,
 * new ones are made and attached.  Runs on the loop thread (start, reload).
 * A node that cannot be made is logged and left out; at start (strict) it
 * fails the start instead. */
static int apply_faults(struct appliance *a, const struct spin_config *c, bool strict,
			char *err, size_t n)
{
	for (unsigned i = 0; i < a->nfaults;) {
		bool keep = false;

		for (unsigned k = 0; k < c->n_faults && !keep; k++) {
			char names[2][FAULT_NAMESIZ];
			enum fault_point at[2];
			unsigned m = fault_names(&c->faults[k], names, at);

			for (unsigned j = 0; j < m; j++)
				keep |= !strcmp(names[j], fault_name(a->faults[i].node)) &&
					at[j] == a->faults[i].at &&
					!strcmp(c->faults[k].ifname, a->faults[i].ifname);
		}
		if (keep)
			i++;
		else
			fault_drop_at(a, i);
	}
	for (unsigned k = 0; k < c->n_faults; k++) {
		const struct cfg_fault *cf = &c->faults[k];
		struct fault_config fc = {0};
		char names[2][FAULT_NAMESIZ], ferr[160];
		enum fault_point at[2];
		unsigned m = fault_names(cf, names, at);

		if (fault_parse(cf->spec, &fc, ferr, sizeof ferr) != FAULT_OK) {
			errf(err, n, "%s:%d: fault %s: %s", c->path, cf->line, cf->name, ferr);
			return -1;
		}
		for (unsigned j = 0; j < m; j++) {
			struct fault_node *f = fault_find(names[j]);
			uint16_t ifindex = strcmp(cf->ifname, "all") ? ifindex_of(cf->ifname) : 0;
			struct app_fault *af = NULL;
			int rc = FAULT_OK;

			for (unsigned i = 0; f && i < a->nfaults; i++)
				if (a->faults[i].node == f)
					af = &a->faults[i];
			if (af) {
				if (strcmp(af->spec, cf->spec)) {
					char *sp = strdup(cf->spec);

					if (sp && (rc = fault_set(f, &fc)) == FAULT_OK) {
						free(af->spec);
						af->spec = sp;
					} else {
						free(sp);
					}
				}
			} else if (f || a->nfaults == FAULT_MAX_NODES) {
				rc = f ? FAULT_EEXIST : FAULT_EFULL;
			} else if (!(f = fault_new(names[j], &fc, &rc))) {
				/* rc says why */
			} else if ((rc = fault_attach(f, at[j], ifindex)) != FAULT_OK) {
				fault_free(f);
			} else {
				af = &a->faults[a->nfaults++];
				*af = (struct app_fault){.node = f, .at = at[j],
							 .spec = strdup(cf->spec)};
				snprintf(af->ifname, sizeof af->ifname, "%s", cf->ifname);
				sal_log(SAL_LOG_INFO, "fault %s on %s %s: %s", names[j], cf->ifname,
					at[j] == FAULT_LINK_RX ? "rx" : "tx", cf->spec);
			}
			if (rc != FAULT_OK) {
				errf(err, n, "%s:%d: fault %s: %s", c->path, cf->line, names[j],
				     fault_strerror(rc));
				if (strict)
					return -1;
				sal_log(SAL_LOG_ERR, "%s", err);
			}
		}
	}
	return 0;
}

static void free_faults(struct appliance *a)
{
	while (a->nfaults)
		fault_drop_at(a, a->nfaults - 1);
}

/* Applies the tables of c over those of old (NULL at start).  Only the
 * service swap can fail, and it goes first. */
static int apply(struct appliance *a, const struct spin_config *old, const struct spin_config *c,
		 char *err, size_t n)
{
	struct ip_route *rt;
	struct ip_config ipc;
	struct tcp_config tcpc;
	int rc;

	if (validate_tables(c, err, n) || swap_services(a, c, err, n))
		return -1;
	if (apply_tcp_services(a, c, err, n)) {
		char ignored[256];

		/* Put the UDP services back as they were. */
		if (old)
			swap_services(a, old, ignored, sizeof ignored);
		return -1;
	}
	rt = calloc(c->n_routes ? c->n_routes : 1, sizeof *rt);
	if (!rt) {
		errf(err, n, "%s:0: out of memory", c->path);
		return -1;
	}
	for (unsigned i = 0; i < c->n_routes; i++) {
		rt[i].prefix = c->routes[i].prefix;
		rt[i].plen = c->routes[i].plen;
		rt[i].gateway = c->routes[i].has_gw ? c->routes[i].gw : 0;
		rt[i].ifindex = c->routes[i].dev[0] ? ifindex_of(c->routes[i].dev) : 0;
	}
	/* Addresses: the old ones that went away first, then the new ones (an
	 * add raises Inet_AddrAdded: ARP announces it). */
	for (unsigned i = 0; old && i < old->n_addrs; i++)
		if (!addr_in(c, old->addrs[i].ifname, old->addrs[i].addr, old->addrs[i].plen))
			inet_addr_del(ifindex_of(old->addrs[i].ifname), old->addrs[i].addr);
	for (unsigned i = 0; i < c->n_addrs; i++) {
		char ip[16];

		if (addr_in(old, c->addrs[i].ifname, c->addrs[i].addr, c->addrs[i].plen))
			continue;
		rc = inet_addr_add(ifindex_of(c->addrs[i].ifname), c->addrs[i].addr, c->addrs[i].plen);
		if (rc && rc != INET_EEXIST)
			sal_log(SAL_LOG_ERR, "%s:%d: address: %s", c->path, c->addrs[i].line,
				inet_strerror(rc));
		else
			sal_log(SAL_LOG_INFO, "address %s/%u on %s", cfg_ip_str(c->addrs[i].addr, ip),
				c->addrs[i].plen, c->addrs[i].ifname);
	}
	rc = ip_route_replace_all(rt, c->n_routes);
	if (rc)
		sal_log(SAL_LOG_ERR, "%s: routes: %s", c->path, ip_strerror(rc));
	free(rt);
	for (unsigned i = 0; old && i < old->n_arps; i++)
		if (!arp_in(c, &old->arps[i]))
			arp_delete(ifindex_of(old->arps[i].ifname), old->arps[i].ip);
	for (unsigned i = 0; i < c->n_arps; i++) {
		struct ether_addr m;

		if (arp_in(old, &c->arps[i]))
			continue;
		memcpy(m.b, c->arps[i].mac, 6);
		rc = arp_static_add(ifindex_of(c->arps[i].ifname), c->arps[i].ip, m);
		if (rc)
			sal_log(SAL_LOG_ERR, "%s:%d: arp: %s", c->path, c->arps[i].line,
				arp_strerror(rc));
	}
	if (apply_faults(a, c, old == NULL, err, n))
		return -1;
	ip_config_get(&ipc);
	ipc.forwarding = c->forwarding;
	ip_config_set(&ipc);
	tcp_config_get(&tcpc);
	tcpc.cc = c->tcp_cc ? c->tcp_cc : TCP_CC_NEWRENO;
	tcpc.sack = !c->tcp_sack_off;
	tcp_config_set(&tcpc);
	if (exec_loop_set_mode(a->loop, c->loop == CFG_LOOP_BUSY ? EXEC_BUSY_POLL : EXEC_BLOCKING))
		sal_log(SAL_LOG_ERR, "%s: loop: cannot watch the devices for blocking mode; "
			"still busy-polling", c->path);
	exec_loop_set_linger(a->loop, (uint64_t)c->loop_linger_us * 1000u);
	sal_set_log_level(c->log == CFG_LOG_DEBUG ? SAL_LOG_DEBUG
			  : c->log == CFG_LOG_QUIET ? SAL_LOG_WARN : SAL_LOG_INFO);
	for (unsigned i = 0; i < c->n_svcs; i++)
		sal_log(SAL_LOG_INFO, "service %s on port %u", cfg_service_name(c->svcs[i].kind),
			c->svcs[i].port);
	return 0;
}

int app_reload_cfg(struct appliance *a, struct spin_config *c, char *err, size_t n)
{
	if (cfg_reload_check(a->cfg, c, err, n) || apply(a, a->cfg, c, err, n)) {
		cfg_free(c);
		a->reload_refused++;
		sal_log(SAL_LOG_WARN, "reload refused: %s", err);
		return -1;
	}
	cfg_free(a->cfg);
	a->cfg = c;
	a->reloads++;
	sal_log(SAL_LOG_INFO, "reloaded %s", c->path);
	return 0;
}

int app_reload(struct appliance *a, char *err, size_t n)
{
	struct spin_config *c;

	if (cfg_parse_file(a->cfg->path, &c, err, n)) {
		a->reload_refused++;
		sal_log(SAL_LOG_WARN, "reload refused: %s", err);
		return -1;
	}
	return app_reload_cfg(a, c, err, n);
}

/* --- control socket and signals ------------------------------------------------------- */
static int sig_poll(void *ctx, int budget)
{
	struct appliance *a = ctx;
	struct signalfd_siginfo si;
	int done = 0;

	(void)budget;
	while (read(a->sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
		char err[512];

		done++;
		if (si.ssi_signo == SIGHUP) {
			sal_log(SAL_LOG_INFO, "SIGHUP: reloading %s", a->cfg->path);
			app_reload(a, err, sizeof err);
		} else {
			sal_log(SAL_LOG_INFO, "%s: shutting down", strsignal((int)si.ssi_signo));
			a->stopping = true;
			exec_loop_stop(a->loop);
		}
	}
	return done;
}

static int run_ctl(void *arg, const char *line, char **out)
{
	return app_ctl(arg, line, out);
}

/* The control socket's I/O has a thread of its own (apps/spin/ctl_server.h);
 * its commands run on the loop. */
static int ctl_open(struct appliance *a, char *err, size_t n)
{
	char why[256];

	cfg_control_path(a->cfg, a->ctl_path, sizeof a->ctl_path);
	a->ctl = ctl_server_open(a->ctl_path, a->loop, run_ctl, a, why, sizeof why);
	if (!a->ctl) {
		errf(err, n, "%s:%d: %s", a->cfg->path, a->cfg->control_line, why);
		return -1;
	}
	sal_log(SAL_LOG_INFO, "control socket %s", a->ctl_path);
	return 0;
}

static int sig_open(struct appliance *a)
{
	sigset_t m;

	sigemptyset(&m);
	sigaddset(&m, SIGINT);
	sigaddset(&m, SIGTERM);
	sigaddset(&m, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &m, &a->oldmask))
		return -1;
	a->sig_fd = signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC);
	if (a->sig_fd < 0)
		return -1;
	a->sig_poller = (struct exec_poller){.name = "signals", .poll = sig_poll, .ctx = a,
					     .wait_handle = a->sig_fd,
					     .flags = EXEC_POLL_ON_READY};
	exec_poller_add(a->loop, &a->sig_poller);
	return 0;
}

/* --- start and stop ------------------------------------------------------------------- */
struct appliance *app_start(struct spin_config *cfg, unsigned flags, char *err, size_t n)
{
	struct appliance *a = calloc(1, sizeof *a);

	if (!a) {
		cfg_free(cfg);
		errf(err, n, "out of memory");
		return NULL;
	}
	a->cfg = cfg;
	a->flags = flags;
	a->sig_fd = -1;
	a->start_ns = sal_now_ns();
	sal_init();
	sal_set_log_level(cfg->log == CFG_LOG_DEBUG ? SAL_LOG_DEBUG
			  : cfg->log == CFG_LOG_QUIET ? SAL_LOG_WARN : SAL_LOG_INFO);
	a->loop = exec_loop_new(cfg->name[0] ? cfg->name : "spin",
				cfg->loop == CFG_LOOP_BUSY ? EXEC_BUSY_POLL : EXEC_BLOCKING);
	a->pool = pkt_pool_new("rx", cfg->pool_bufs, cfg->pool_size);
	if (!a->loop || !a->pool) {
		errf(err, n, "%s:%d: cannot make the run loop or the buffer pool", cfg->path,
		     cfg->pool_line ? cfg->pool_line : 1);
		goto fail;
	}
	/* Modules and tables are touched from this thread, which runs the
	 * loop: attach first so RCU knows it. */
	exec_loop_attach(a->loop);
	if (start_modules(a, err, n))
		goto fail;
	if (!(flags & APP_NO_CONTROL) && ctl_open(a, err, n))
		goto fail;
	if (cfg->syscall) {
		char e[200];

		if (sysc_server_open(a->loop, cfg->syscall, a->pool, &a->sysc, e, sizeof e)) {
			errf(err, n, "%s:%d: %s", cfg->path, cfg->syscall_line, e);
			goto fail;
		}
		sal_log(SAL_LOG_INFO, "syscall socket %s", cfg->syscall);
	}
	for (unsigned i = 0; i < cfg->n_ifaces; i++)
		if (open_iface(a, &cfg->ifaces[i], err, n))
			goto fail;
	if (apply(a, NULL, cfg, err, n))
		goto fail;
	if (app_domain_start(cfg, err, n))
		goto fail;
	if (!(flags & APP_NO_SIGNALS) && sig_open(a)) {
		errf(err, n, "signals: %s", strerror(errno));
		goto fail;
	}
	sal_log(SAL_LOG_INFO, "appliance %s running: %u interfaces, %u addresses, %u routes, %u services",
		cfg->name[0] ? cfg->name : "spin", cfg->n_ifaces, cfg->n_addrs, cfg->n_routes,
		cfg->n_svcs);
	return a;
fail:
	app_stop(a);
	return NULL;
}

static bool inputs_done(const struct appliance *a)
{
	for (unsigned i = 0; i < a->nifs; i++) {
		const struct cfg_iface *c = &a->cfg->ifaces[i];

		if (c->driver == CFG_DRV_REPLAY && !drv_replay_done(a->ifs[i]))
			return false;
		if (c->driver == CFG_DRV_PCAP && c->in && !drv_pcap_eof(a->ifs[i]))
			return false;
	}
	return true;
}

void app_run_until_eof(struct appliance *a)
{
	while (!a->stopping && !inputs_done(a))
		exec_loop_run_once(a->loop, 1000000);
	/* A few idle turns let deferred work and timers due now finish. */
	for (int i = 0; i < 8; i++)
		exec_loop_run_once(a->loop, 0);
}

int app_run(struct appliance *a)
{
	if (a->flags & APP_UNTIL_EOF)
		app_run_until_eof(a);
	else
		exec_loop_run(a->loop);
	return 0;
}

uint64_t app_stop(struct appliance *a)
{
	uint64_t leaked = 0;

	if (!a)
		return 0;
	if (a->sig_fd >= 0) {
		exec_poller_del(a->loop, &a->sig_poller);
		close(a->sig_fd);
		sigprocmask(SIG_SETMASK, &a->oldmask, NULL);
	}
	ctl_server_close(a->ctl);
	/* Programs go first: their endpoints are bindings like the services. */
	sysc_server_close(a->sysc);
	for (unsigned i = 0; i < a->nsvc; i++)
		disp_uninstall(a->svc[i]);
	free(a->svc);
	stop_tcp_services(a);
	/* Held packets go out (or are dropped) while the drivers still exist. */
	free_faults(a);
	if (a->nifs) {
		inet_addr_flush(0);
		ip_route_flush();
		arp_flush(0, true);
	}
	while (a->nifs) {
		struct ng_iface *ifp = a->ifs[--a->nifs];

		sal_log(SAL_LOG_INFO, "interface %s down", ifp->name);
		drv_close(ifp);
	}
	app_domain_stop();
	stop_modules(a);
	/* Waiting for deferred frees needs this thread offline. */
	if (a->loop)
		exec_loop_detach(a->loop);
	disp_quiesce();
	if (a->loop)
		exec_loop_free(a->loop);
	if (a->pool) {
		pkt_pools_thread_exit();
		leaked = pkt_pool_free(a->pool);
		if (leaked)
			sal_log(SAL_LOG_ERR, "%llu packet buffers leaked", (unsigned long long)leaked);
	}
	cfg_free(a->cfg);
	free(a);
	return leaked;
}

/* --- control commands --------------------------------------------------------------- */
void ctl_printf(struct ctl_buf *b, const char *fmt, ...)
{
	va_list ap;
	int need;

	va_start(ap, fmt);
	need = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (need < 0)
		return;
	if (b->len + (size_t)need + 1 > b->cap) {
		size_t cap = (b->len + (size_t)need + 1) * 2;
		char *s = realloc(b->s, cap);
		if (!s)
			return;
		b->s = s;
		b->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)need;
}

void ctl_outf(char **out, const char *fmt, ...)
{
	struct ctl_buf b = {.s = *out, .len = *out ? strlen(*out) : 0};
	va_list ap;
	char line[1024];

	b.cap = b.len + (b.s ? 1 : 0);
	va_start(ap, fmt);
	int need = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (need < 0)
		return;
	if ((size_t)need < sizeof line) {
		ctl_printf(&b, "%s", line);
	} else {
		char *big = malloc((size_t)need + 1);
		if (!big)
			return;
		va_start(ap, fmt);
		vsnprintf(big, (size_t)need + 1, fmt, ap);
		va_end(ap);
		ctl_printf(&b, "%s", big);
		free(big);
	}
	*out = b.s;
}

/* Appends the output of a "format into buf, return length needed" call. */
static void sb_fmt(struct ctl_buf *b, int (*fn)(char *, size_t))
{
	int need = fn(NULL, 0);
	char *t;

	if (need < 0)
		return;
	t = malloc((size_t)need + 1);
	if (!t)
		return;
	fn(t, (size_t)need + 1);
	ctl_printf(b, "%s", t);
	free(t);
}

static void cmd_status(struct appliance *a, struct ctl_buf *b)
{
	struct pkt_pool_stats ps;
	struct exec_stats es;

	pkt_pool_stats(a->pool, &ps);
	exec_loop_stats(a->loop, &es);
	ctl_printf(b, "name %s\nconfig %s\ncontrol %s\nuptime_s %.1f\n",
		  a->cfg->name[0] ? a->cfg->name : "spin", a->cfg->path, a->ctl_path,
		  (double)(sal_now_ns() - a->start_ns) / 1e9);
	ctl_printf(b, "loop %s\nloop_linger_us %llu\nreloads %llu\nreloads_refused %llu\n",
		  exec_loop_mode(a->loop) == EXEC_BUSY_POLL ? "busy-poll" : "blocking",
		  (unsigned long long)(exec_loop_linger(a->loop) / 1000u),
		  (unsigned long long)a->reloads, (unsigned long long)a->reload_refused);
	ctl_printf(b, "interfaces %u\naddresses %u\nroutes %u\nservices %u\n", a->nifs,
		  a->cfg->n_addrs, a->cfg->n_routes, a->nsvc + a->ntsvc);
	ctl_printf(b, "pool buffers %u size %u outstanding %llu alloc_fails %llu\n", ps.capacity,
		  ps.buf_size, (unsigned long long)ps.outstanding,
		  (unsigned long long)ps.alloc_fails);
	ctl_printf(b, "loop turns %llu idle_waits %llu linger_turns %llu units %llu\n",
		  (unsigned long long)es.turns, (unsigned long long)es.idle_waits,
		  (unsigned long long)es.linger_turns, (unsigned long long)es.units);
	ctl_printf(b, "modules");
	for (unsigned i = 0; i < spin_builtin_count(); i++)
		if (spin_module_started(spin_builtin(i)))
			ctl_printf(b, " %s", spin_builtin(i)->name);
	ctl_printf(b, "\n");
}

static void cmd_interfaces(struct appliance *a, struct ctl_buf *b)
{
	for (unsigned i = 0; i < a->nifs; i++) {
		const struct ng_iface *f = a->ifs[i];
		struct inet_ifaddr ad[INET_ADDRS_PER_IF];
		unsigned na = inet_addr_list(f->index, ad, INET_ADDRS_PER_IF);

		ctl_printf(b, "%s index %u driver %s mac %02x:%02x:%02x:%02x:%02x:%02x mtu %u\n",
			  f->name, f->index, f->driver ? f->driver : "?", f->mac[0], f->mac[1],
			  f->mac[2], f->mac[3], f->mac[4], f->mac[5], f->mtu);
		for (unsigned k = 0; k < na && k < INET_ADDRS_PER_IF; k++) {
			char ip[16];
			ctl_printf(b, "  inet %s/%u\n", cfg_ip_str(ad[k].addr, ip), ad[k].plen);
		}
		ctl_printf(b, "  rx packets %llu bytes %llu drops %llu\n  tx packets %llu bytes %llu drops %llu\n",
			  (unsigned long long)f->stats.rx_packets, (unsigned long long)f->stats.rx_bytes,
			  (unsigned long long)f->stats.rx_drops, (unsigned long long)f->stats.tx_packets,
			  (unsigned long long)f->stats.tx_bytes, (unsigned long long)f->stats.tx_drops);
		if (f->gso_max)
			ctl_printf(b, "  gso rx %llu tx %llu\n", (unsigned long long)f->stats.rx_gso,
				  (unsigned long long)f->stats.tx_gso);
	}
}

static void cmd_routes(struct ctl_buf *b)
{
	unsigned n = ip_route_list(NULL, 0);
	struct ip_route *r = calloc(n ? n : 1, sizeof *r);

	if (!r)
		return;
	n = ip_route_list(r, n);
	for (unsigned i = 0; i < n; i++) {
		char p[16], g[16];
		struct ng_iface *f = ng_iface_get(r[i].ifindex);

		if (r[i].plen == 0)
			ctl_printf(b, "default");
		else
			ctl_printf(b, "%s/%u", cfg_ip_str(r[i].prefix, p), r[i].plen);
		if (r[i].gateway)
			ctl_printf(b, " via %s", cfg_ip_str(r[i].gateway, g));
		if (f)
			ctl_printf(b, " dev %s", f->name);
		ctl_printf(b, "\n");
	}
	free(r);
}

static int cmd_counters(struct ctl_buf *b, int argc, char **argv)
{
	const char *msg = "getstats";

	if (argc >= 2 && (!strcmp(argv[1], "clear") || !strcmp(argv[1], "getclear")))
		msg = !strcmp(argv[1], "clear") ? "clrstats" : "getclrstats";
	const char *only = argc >= 3 ? argv[2] : (argc == 2 && strcmp(argv[1], "clear") &&
						  strcmp(argv[1], "getclear")) ? argv[1] : NULL;
	for (unsigned i = 0; i < ng_node_count(); i++) {
		const struct ng_node *nd = ng_node_at(i);
		struct ng_stats st;
		enum ng_msg m;

		if (only && strcmp(only, nd->name))
			continue;
		ng_msg_parse(msg, &m);
		if (ng_node_msg(nd, m, &st))
			continue;
		if (m == NG_MSG_CLRSTATS)
			continue;
		int need = ng_stats_format(nd, &st, NULL, 0);
		char *t = malloc((size_t)need + 1);
		if (t) {
			ng_stats_format(nd, &st, t, (size_t)need + 1);
			ctl_printf(b, "%s", t);
			free(t);
		}
	}
	if (only && !ng_node_find(only)) {
		ctl_printf(b, "no node named %s\n", only);
		return 1;
	}
	return 0;
}

static void list_event(struct ctl_buf *b, struct disp_event *ev)
{
	int n = disp_list(ev, NULL, 0);
	struct disp_binding_info *v;

	ctl_printf(b, "%s (%d)\n", disp_event_name(ev), n);
	if (n <= 0)
		return;
	v = calloc((size_t)n, sizeof *v);
	if (!v)
		return;
	n = disp_list(ev, v, (unsigned)n);
	for (int i = 0; i < n; i++) {
		char g[512];

		disp_guard_format(v[i].binding, g, sizeof g);
		ctl_printf(b, "  %s%s by %s: %s\n", v[i].primary ? "[primary] " : "",
			  v[i].desc ? v[i].desc : "-", spin_ident_name(v[i].installer), g);
	}
	free(v);
}

static int cmd_bindings(struct ctl_buf *b, int argc, char **argv)
{
	if (argc >= 2) {
		struct disp_event *ev = disp_event_find(argv[1]);
		if (!ev) {
			ctl_printf(b, "no event named %s\n", argv[1]);
			return 1;
		}
		list_event(b, ev);
		return 0;
	}
	for (unsigned i = 0; i < disp_event_count(); i++)
		list_event(b, disp_event_at(i));
	return 0;
}

static int cmd_trace(struct ctl_buf *b, int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "dump")) {
		sb_fmt(b, ng_trace_dump);
		return 0;
	}
	if (!strcmp(argv[1], "on"))
		ng_trace_set(NG_TRACE_ALL);
	else if (!strcmp(argv[1], "flagged"))
		ng_trace_set(NG_TRACE_FLAGGED);
	else if (!strcmp(argv[1], "off"))
		ng_trace_set(NG_TRACE_OFF);
	else if (!strcmp(argv[1], "clear"))
		ng_trace_clear();
	else {
		ctl_printf(b, "usage: trace on|flagged|off|clear|dump\n");
		return 1;
	}
	ctl_printf(b, "trace %s\n", argv[1]);
	return 0;
}

static void cmd_tcp_services(struct appliance *a, struct ctl_buf *b)
{
	for (unsigned i = 0; i < a->ntsvc; i++) {
		struct tcpsvc_stats st;

		a->tsvc[i].ops->stats(a->tsvc[i].svc, &st);
		ctl_printf(b, "%s port %u accepted %llu refused %llu active %llu bytes_in %llu "
			  "bytes_out %llu\n", cfg_service_name(a->tsvc[i].kind), a->tsvc[i].port,
			  (unsigned long long)st.accepted, (unsigned long long)st.refused,
			  (unsigned long long)st.active, (unsigned long long)st.bytes_in,
			  (unsigned long long)st.bytes_out);
	}
}

int app_ctl(struct appliance *a, const char *line, char **out)
{
	char buf[1024], *argv[16];
	int argc = 0, rc = 0;
	struct ctl_buf b = {0};

	snprintf(buf, sizeof buf, "%s", line);
	for (char *s = strtok(buf, " \t"); s && argc < 16; s = strtok(NULL, " \t"))
		argv[argc++] = s;
	if (argc == 0) {
		ctl_printf(&b, "empty command\n");
		rc = 1;
	} else if (!strcmp(argv[0], "status")) {
		cmd_status(a, &b);
	} else if (!strcmp(argv[0], "interfaces")) {
		cmd_interfaces(a, &b);
	} else if (!strcmp(argv[0], "routes")) {
		cmd_routes(&b);
	} else if (!strcmp(argv[0], "arp")) {
		sb_fmt(&b, arp_format);
	} else if (!strcmp(argv[0], "counters")) {
		rc = cmd_counters(&b, argc, argv);
	} else if (!strcmp(argv[0], "bindings")) {
		rc = cmd_bindings(&b, argc, argv);
	} else if (!strcmp(argv[0], "dot")) {
		sb_fmt(&b, ng_graph_dot);
	} else if (!strcmp(argv[0], "trace")) {
		rc = cmd_trace(&b, argc, argv);
	} else if (!strcmp(argv[0], "timing")) {
		ng_timing_set(argc >= 2 && !strcmp(argv[1], "on"));
		ctl_printf(&b, "timing %s\n", ng_timing_enabled() ? "on" : "off");
	} else if (!strcmp(argv[0], "reload")) {
		char err[512];
		if (app_reload(a, err, sizeof err)) {
			ctl_printf(&b, "%s\n", err);
			rc = 1;
		} else {
			ctl_printf(&b, "reloaded %s\n", a->cfg->path);
		}
	} else if (!strcmp(argv[0], "stop")) {
		ctl_printf(&b, "stopping\n");
		a->stopping = true;
		exec_loop_stop(a->loop);
	} else if (!strcmp(argv[0], "tcp") && argc == 2 && !strcmp(argv[1], "services")) {
		cmd_tcp_services(a, &b);
	} else if (!strcmp(argv[0], "tcp")) {
		rc = app_ctl_tcp(&b.s, argc, argv);
		if (b.s)
			b.len = strlen(b.s);
	} else if (app_ctl_is_domain(argv[0])) {
		rc = app_ctl_domain(&b.s, argc, argv);
		if (b.s)
			b.len = strlen(b.s);
	} else if (!strcmp(argv[0], "syscall")) {
		if (!a->sysc) {
			ctl_printf(&b, "no syscall socket (config: syscall PATH)\n");
			rc = 1;
		} else {
			char tmp[8192];

			sysc_server_format(a->sysc, tmp, sizeof tmp);
			ctl_printf(&b, "%s", tmp);
		}
	} else if (app_ctl_is_stats(argv[0])) {
		rc = app_ctl_stats(&b.s, argc, argv);
		if (b.s)
			b.len = strlen(b.s);
	} else if (!strcmp(argv[0], "fault")) {
		rc = app_ctl_fault(&b.s, argc, argv);
		if (b.s)
			b.len = strlen(b.s);
	} else {
		ctl_printf(&b, "unknown command '%s' (status, interfaces, routes, arp, counters, ip, icmp, bindings, dot, trace, timing, tcp, fault, reload, stop)\n",
			  argv[0]);
		rc = 1;
	}
	*out = b.s ? b.s : strdup("");
	return rc;
}
