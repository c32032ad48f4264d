/*
 * config.c - parser of the appliance config file (docs/config.md).
 *
 * One pass, line by line: each line is split into words and handed to the
 * directive's parser, which fills one element of struct spin_config.  The
 * first error stops the parse; it is reported as "FILE:LINE: message".
 * Cross-references (an address naming an interface) are checked when the
 * line is read, which is why an interface must be declared first.
 */
#include "apps/spin/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netgraph/fault/fault.h"

#define CFG_MAX_WORDS 32
#define CFG_MAX_LINE 4096

struct parser {
	struct spin_config *c;
	const char *path;
	int line;
	char *err;
	size_t errlen;
};

static int fail(struct parser *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct parser *ps, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (ps->err && ps->errlen)
		snprintf(ps->err, ps->errlen, "%s:%d: %s", ps->path, ps->line, msg);
	return CFG_EINVAL;
}

/* Grows an array by one zeroed element; NULL when out of memory. */
static void *grow(void **arr, unsigned *n, size_t size)
{
	void *a = realloc(*arr, (*n + 1) * size);

	if (!a)
		return NULL;
	*arr = a;
	memset((char *)a + *n * size, 0, size);
	return (char *)a + (*n)++ * size;
}
#define GROW(ps, arr, n)                                                       \
	grow((void **)&(ps)->c->arr, &(ps)->c->n, sizeof(*(ps)->c->arr))

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

static bool parse_ip(const char *s, uint32_t *out)
{
	uint32_t ip = 0;

	for (int i = 0; i < 4; i++) {
		unsigned v = 0, digits = 0;

		while (*s >= '0' && *s <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(*s++ - '0');
			digits++;
		}
		if (!digits || digits > 3 || v > 255)
			return false;
		ip = ip << 8 | v;
		if (i < 3 && *s++ != '.')
			return false;
	}
	if (*s)
		return false;
	*out = ip;
	return true;
}

/* "A.B.C.D/LEN" (or "default" when allow_default). */
static bool parse_prefix(const char *s, bool allow_default, uint32_t *ip, uint8_t *plen)
{
	char buf[32];
	const char *slash = strchr(s, '/');
	uint64_t len;

	if (allow_default && !strcmp(s, "default")) {
		*ip = 0;
		*plen = 0;
		return true;
	}
	if (!slash || (size_t)(slash - s) >= sizeof buf)
		return false;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = 0;
	if (!parse_ip(buf, ip) || !parse_u64(slash + 1, 32, &len))
		return false;
	*plen = (uint8_t)len;
	return true;
}

static bool parse_mac(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		unsigned v = 0;

		for (int j = 0; j < 2; j++, s++) {
			char ch = *s;

			if (ch >= '0' && ch <= '9')
				v = v * 16 + (unsigned)(ch - '0');
			else if (ch >= 'a' && ch <= 'f')
				v = v * 16 + (unsigned)(ch - 'a' + 10);
			else if (ch >= 'A' && ch <= 'F')
				v = v * 16 + (unsigned)(ch - 'A' + 10);
			else
				return false;
		}
		mac[i] = (uint8_t)v;
		if (i < 5 && *s++ != ':')
			return false;
	}
	return *s == 0;
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= CFG_NAMESIZ)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

static int need_iface(struct parser *ps, const char *name)
{
	if (!cfg_iface_find(ps->c, name))
		return fail(ps, "unknown interface '%s' (declare it with an interface line first)",
			    name);
	return CFG_OK;
}

static char *dup_word(struct parser *ps, const char *w, char **slot, const char *what)
{
	if (*slot) {
		fail(ps, "'%s' given twice", what);
		return NULL;
	}
	*slot = strdup(w);
	if (!*slot)
		fail(ps, "out of memory");
	return *slot;
}

static int d_interface(struct parser *ps, int argc, char **argv)
{
	struct cfg_iface *ifc;
	const char *name;
	int i;

	if (argc < 4 || strcmp(argv[2], "driver"))
		return fail(ps, "usage: interface NAME driver DRIVER ...");
	name = argv[1];
	if (!valid_name(name))
		return fail(ps, "bad interface name '%s'", name);
	if (cfg_iface_find(ps->c, name))
		return fail(ps, "interface '%s' declared twice", name);
	ifc = GROW(ps, ifaces, n_ifaces);
	if (!ifc)
		return fail(ps, "out of memory");
	snprintf(ifc->name, sizeof ifc->name, "%s", name);
	ifc->line = ps->line;
	ifc->loops = 1;
	if (!strcmp(argv[3], "afpacket"))
		ifc->driver = CFG_DRV_AFPACKET;
	else if (!strcmp(argv[3], "tap"))
		ifc->driver = CFG_DRV_TAP;
	else if (!strcmp(argv[3], "pcap"))
		ifc->driver = CFG_DRV_PCAP;
	else if (!strcmp(argv[3], "replay"))
		ifc->driver = CFG_DRV_REPLAY;
	else
		return fail(ps, "unknown driver '%s' (afpacket, tap, pcap or replay)", argv[3]);

	for (i = 4; i < argc; i++) {
		const char *k = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		enum cfg_driver d = ifc->driver;
		uint64_t n;

		/* Flags first, then keywords that take a value. */
		if (!strcmp(k, "promisc") && (d == CFG_DRV_AFPACKET || d == CFG_DRV_PCAP)) {
			ifc->promisc = true;
			continue;
		}
		if (!strcmp(k, "capture") && d == CFG_DRV_AFPACKET) {
			ifc->capture = true;
			continue;
		}
		if (!strcmp(k, "no-quiet") && d == CFG_DRV_AFPACKET) {
			ifc->no_quiet = true;
			continue;
		}
		if (!strcmp(k, "sw-csum") && (d == CFG_DRV_AFPACKET || d == CFG_DRV_TAP)) {
			ifc->sw_csum = true;
			continue;
		}
		if (!strcmp(k, "tso") && (d == CFG_DRV_AFPACKET || d == CFG_DRV_TAP)) {
			ifc->tso = true;
			continue;
		}
		if (!strcmp(k, "gso") && (d == CFG_DRV_AFPACKET || d == CFG_DRV_TAP)) {
			ifc->gso = true;
			continue;
		}
		if (!v) {
			if (!strcmp(k, "dev") || !strcmp(k, "mac") || !strcmp(k, "mtu") ||
			    !strcmp(k, "in") || !strcmp(k, "out") || !strcmp(k, "live") ||
			    !strcmp(k, "file") || !strcmp(k, "loops"))
				return fail(ps, "'%s' needs a value", k);
			return fail(ps, "unknown option '%s' for driver %s", k,
				    cfg_driver_name(d));
		}
		i++;
		if (!strcmp(k, "mac")) {
			if (!parse_mac(v, ifc->mac))
				return fail(ps, "bad MAC address '%s'", v);
			if (ifc->mac[0] & 1)
				return fail(ps, "MAC address '%s' is multicast", v);
			ifc->has_mac = true;
		} else if (!strcmp(k, "mtu")) {
			if (!parse_u64(v, 65535, &n) || n < 68)
				return fail(ps, "bad MTU '%s' (68 to 65535)", v);
			ifc->mtu = (uint32_t)n;
		} else if (!strcmp(k, "dev") && (d == CFG_DRV_AFPACKET || d == CFG_DRV_TAP)) {
			if (strlen(v) >= CFG_NAMESIZ)
				return fail(ps, "device name '%s' too long", v);
			if (!dup_word(ps, v, &ifc->dev, k))
				return CFG_EINVAL;
		} else if (!strcmp(k, "in") && d == CFG_DRV_PCAP) {
			if (!dup_word(ps, v, &ifc->in, k))
				return CFG_EINVAL;
		} else if (!strcmp(k, "out") && d == CFG_DRV_PCAP) {
			if (!dup_word(ps, v, &ifc->out, k))
				return CFG_EINVAL;
		} else if (!strcmp(k, "live") && d == CFG_DRV_PCAP) {
			if (!dup_word(ps, v, &ifc->live, k))
				return CFG_EINVAL;
		} else if (!strcmp(k, "file") && d == CFG_DRV_REPLAY) {
			if (!dup_word(ps, v, &ifc->file, k))
				return CFG_EINVAL;
		} else if (!strcmp(k, "loops") && d == CFG_DRV_REPLAY) {
			if (!parse_u64(v, UINT64_MAX, &n) || n == 0)
				return fail(ps, "bad loop count '%s'", v);
			ifc->loops = n;
		} else {
			return fail(ps, "unknown option '%s' for driver %s", k,
				    cfg_driver_name(d));
		}
	}

	switch (ifc->driver) {
	case CFG_DRV_AFPACKET:
	case CFG_DRV_TAP:
		if (!ifc->dev)
			return fail(ps, "driver %s needs 'dev LINUXIF'", cfg_driver_name(ifc->driver));
		if (ifc->tso && ifc->sw_csum)
			return fail(ps, "'tso' needs checksum offload: drop 'sw-csum'");
		if (ifc->tso && ifc->capture)
			return fail(ps, "'tso' needs the latency ring: drop 'capture'");
		if (ifc->gso && ifc->sw_csum)
			return fail(ps, "'gso' needs checksum offload: drop 'sw-csum'");
		if (ifc->gso && ifc->capture)
			return fail(ps, "'gso' needs the latency ring: drop 'capture'");
		break;
	case CFG_DRV_PCAP:
		if (!ifc->in && !ifc->out && !ifc->live)
			return fail(ps, "driver pcap needs 'in FILE', 'out FILE' or 'live LINUXIF'");
		if (ifc->live && ifc->in)
			return fail(ps, "driver pcap takes 'in' or 'live', not both");
		break;
	case CFG_DRV_REPLAY:
		if (!ifc->file)
			return fail(ps, "driver replay needs 'file FILE'");
		break;
	}
	return CFG_OK;
}

static int d_address(struct parser *ps, int argc, char **argv)
{
	struct cfg_addr *a;
	uint32_t ip;
	uint8_t plen;
	int rc;

	if (argc != 3)
		return fail(ps, "usage: address IFNAME A.B.C.D/LEN");
	if ((rc = need_iface(ps, argv[1])))
		return rc;
	if (!parse_prefix(argv[2], false, &ip, &plen))
		return fail(ps, "bad address '%s' (want A.B.C.D/LEN)", argv[2]);
	if (plen == 0 || ip == 0 || (ip >> 28) >= 14)
		return fail(ps, "'%s' is not a usable unicast address", argv[2]);
	for (unsigned i = 0; i < ps->c->n_addrs; i++)
		if (ps->c->addrs[i].addr == ip)
			return fail(ps, "address %s already given on line %d", argv[2],
				    ps->c->addrs[i].line);
	a = GROW(ps, addrs, n_addrs);
	if (!a)
		return fail(ps, "out of memory");
	snprintf(a->ifname, sizeof a->ifname, "%s", argv[1]);
	a->addr = ip;
	a->plen = plen;
	a->line = ps->line;
	return CFG_OK;
}

static int d_route(struct parser *ps, int argc, char **argv)
{
	struct cfg_route r = {.line = ps->line};
	int i, rc;

	if (argc < 4)
		return fail(ps, "usage: route PREFIX/LEN|default via GW [dev IFNAME] | route PREFIX/LEN dev IFNAME");
	if (!parse_prefix(argv[1], true, &r.prefix, &r.plen))
		return fail(ps, "bad prefix '%s' (want A.B.C.D/LEN or default)", argv[1]);
	if (r.plen < 32 && (r.prefix & (0xffffffffu >> r.plen)))
		return fail(ps, "prefix '%s' has bits set beyond its length", argv[1]);
	for (i = 2; i < argc; i += 2) {
		if (i + 1 >= argc)
			return fail(ps, "'%s' needs a value", argv[i]);
		if (!strcmp(argv[i], "via")) {
			if (r.has_gw)
				return fail(ps, "'via' given twice");
			if (!parse_ip(argv[i + 1], &r.gw))
				return fail(ps, "bad gateway '%s'", argv[i + 1]);
			r.has_gw = true;
		} else if (!strcmp(argv[i], "dev")) {
			if (r.dev[0])
				return fail(ps, "'dev' given twice");
			if ((rc = need_iface(ps, argv[i + 1])))
				return rc;
			snprintf(r.dev, sizeof r.dev, "%s", argv[i + 1]);
		} else {
			return fail(ps, "unknown route option '%s'", argv[i]);
		}
	}
	if (!r.has_gw && !r.dev[0])
		return fail(ps, "route needs 'via GW' or 'dev IFNAME'");
	for (unsigned k = 0; k < ps->c->n_routes; k++)
		if (ps->c->routes[k].prefix == r.prefix && ps->c->routes[k].plen == r.plen)
			return fail(ps, "route %s already given on line %d", argv[1],
				    ps->c->routes[k].line);
	struct cfg_route *slot = GROW(ps, routes, n_routes);
	if (!slot)
		return fail(ps, "out of memory");
	*slot = r;
	return CFG_OK;
}

static int d_arp(struct parser *ps, int argc, char **argv)
{
	struct cfg_arp *a;
	uint32_t ip;
	uint8_t mac[6];
	int rc;

	if (argc != 4)
		return fail(ps, "usage: arp IFNAME A.B.C.D MAC");
	if ((rc = need_iface(ps, argv[1])))
		return rc;
	if (!parse_ip(argv[2], &ip))
		return fail(ps, "bad IPv4 address '%s'", argv[2]);
	if (!parse_mac(argv[3], mac))
		return fail(ps, "bad MAC address '%s'", argv[3]);
	a = GROW(ps, arps, n_arps);
	if (!a)
		return fail(ps, "out of memory");
	snprintf(a->ifname, sizeof a->ifname, "%s", argv[1]);
	a->ip = ip;
	memcpy(a->mac, mac, 6);
	a->line = ps->line;
	return CFG_OK;
}

static const struct {
	const char *name;
	enum cfg_service_kind kind;
} service_names[] = {
	{"udp-echo", CFG_SVC_UDP_ECHO},
	{"tcp-echo", CFG_SVC_TCP_ECHO},
	{"tcp-discard", CFG_SVC_TCP_DISCARD},
	{"tcp-chargen", CFG_SVC_TCP_CHARGEN},
	{"iperf3", CFG_SVC_IPERF3},
};

const char *cfg_service_name(enum cfg_service_kind k)
{
	for (size_t i = 0; i < sizeof service_names / sizeof service_names[0]; i++)
		if (service_names[i].kind == k)
			return service_names[i].name;
	return "?";
}

static int d_service(struct parser *ps, int argc, char **argv)
{
	struct cfg_service *s;
	enum cfg_service_kind kind = 0;
	uint64_t port;

	if (argc != 4 || strcmp(argv[2], "port"))
		return fail(ps, "usage: service udp-echo|tcp-echo|tcp-discard|tcp-chargen|iperf3 "
				   "port N");
	for (size_t i = 0; i < sizeof service_names / sizeof service_names[0]; i++)
		if (!strcmp(argv[1], service_names[i].name))
			kind = service_names[i].kind;
	if (!kind)
		return fail(ps, "unknown service '%s' (udp-echo, tcp-echo, tcp-discard, tcp-chargen, "
				   "iperf3)",
			    argv[1]);
	if (!parse_u64(argv[3], 65535, &port) || port == 0)
		return fail(ps, "bad port '%s' (1 to 65535)", argv[3]);
	/* One service per (protocol, port): UDP and TCP ports are separate. */
	for (unsigned i = 0; i < ps->c->n_svcs; i++)
		if (ps->c->svcs[i].port == port &&
		    cfg_service_is_tcp(ps->c->svcs[i].kind) == cfg_service_is_tcp(kind))
			return fail(ps, "%s port %s already used on line %d",
				    cfg_service_is_tcp(kind) ? "TCP" : "UDP", argv[3],
				    ps->c->svcs[i].line);
	s = GROW(ps, svcs, n_svcs);
	if (!s)
		return fail(ps, "out of memory");
	s->kind = kind;
	s->port = (uint16_t)port;
	s->line = ps->line;
	return CFG_OK;
}

/* fault NAME on IFNAME|all rx|tx|both SPEC...  (SPEC: one quoted word or
 * the rest of the line, as fault_parse reads it). */
static int d_fault(struct parser *ps, int argc, char **argv)
{
	struct cfg_fault *f;
	struct fault_config fc = {0};
	enum cfg_fault_dir dir;
	char spec[CFG_MAX_LINE], ferr[160];
	size_t len = 0;
	int rc;

	if (argc < 6 || strcmp(argv[2], "on"))
		return fail(ps, "usage: fault NAME on IFNAME|all rx|tx|both \"SPEC\"");
	if (!strcmp(argv[4], "rx"))
		dir = CFG_FAULT_RX;
	else if (!strcmp(argv[4], "tx"))
		dir = CFG_FAULT_TX;
	else if (!strcmp(argv[4], "both"))
		dir = CFG_FAULT_BOTH;
	else
		return fail(ps, "fault direction '%s' (rx, tx or both)", argv[4]);
	if (!valid_name(argv[1]) || strlen(argv[1]) > (dir == CFG_FAULT_BOTH ? 12u : 15u))
		return fail(ps, "bad fault name '%s' (at most %d characters%s)", argv[1],
			    dir == CFG_FAULT_BOTH ? 12 : 15,
			    dir == CFG_FAULT_BOTH ? ": 'both' adds .rx and .tx" : "");
	if (strcmp(argv[3], "all") && (rc = need_iface(ps, argv[3])))
		return rc;
	for (unsigned i = 0; i < ps->c->n_faults; i++) {
		const struct cfg_fault *o = &ps->c->faults[i];

		if (!strcmp(o->name, argv[1]))
			return fail(ps, "fault '%s' already given on line %d", argv[1], o->line);
		if (!strcmp(o->ifname, argv[3]) && (o->dir & dir))
			return fail(ps, "interface %s already has a %s fault node (line %d)",
				    argv[3], (o->dir & dir) == CFG_FAULT_TX ? "tx" : "rx", o->line);
	}
	spec[0] = 0;
	for (int i = 5; i < argc; i++)
		len += (size_t)snprintf(spec + len, sizeof spec - len, "%s%s", i > 5 ? " " : "",
					argv[i]);
	if (fault_parse(spec, &fc, ferr, sizeof ferr) != FAULT_OK)
		return fail(ps, "fault '%s': %s", argv[1], ferr);
	f = GROW(ps, faults, n_faults);
	if (!f)
		return fail(ps, "out of memory");
	snprintf(f->name, sizeof f->name, "%s", argv[1]);
	snprintf(f->ifname, sizeof f->ifname, "%s", argv[3]);
	f->dir = dir;
	f->line = ps->line;
	f->spec = strdup(spec);
	if (!f->spec)
		return fail(ps, "out of memory");
	return CFG_OK;
}

static int once(struct parser *ps, int *line, const char *what)
{
	if (*line)
		return fail(ps, "'%s' already given on line %d", what, *line);
	*line = ps->line;
	return CFG_OK;
}

static int d_simple(struct parser *ps, int argc, char **argv)
{
	const char *d = argv[0];
	struct spin_config *c = ps->c;
	uint64_t n;
	int rc;

	if (!strcmp(d, "name")) {
		if (argc != 2)
			return fail(ps, "usage: name NAME");
		if (!valid_name(argv[1]))
			return fail(ps, "bad name '%s'", argv[1]);
		if ((rc = once(ps, &c->name_line, d)))
			return rc;
		snprintf(c->name, sizeof c->name, "%s", argv[1]);
	} else if (!strcmp(d, "control")) {
		if (argc != 2)
			return fail(ps, "usage: control PATH");
		if (strlen(argv[1]) >= 108)
			return fail(ps, "control socket path too long (at most 107 bytes)");
		if ((rc = once(ps, &c->control_line, d)))
			return rc;
		c->control = strdup(argv[1]);
		if (!c->control)
			return fail(ps, "out of memory");
	} else if (!strcmp(d, "syscall")) {
		if (argc != 2)
			return fail(ps, "usage: syscall PATH");
		if (strlen(argv[1]) >= 108)
			return fail(ps, "syscall socket path too long (at most 107 bytes)");
		if ((rc = once(ps, &c->syscall_line, d)))
			return rc;
		c->syscall = strdup(argv[1]);
		if (!c->syscall)
			return fail(ps, "out of memory");
	} else if (!strcmp(d, "loop")) {
		if ((argc != 2 && argc != 4) ||
		    (strcmp(argv[1], "blocking") && strcmp(argv[1], "busy-poll")) ||
		    (argc == 4 && strcmp(argv[2], "linger")))
			return fail(ps, "usage: loop blocking [linger USEC] | loop busy-poll");
		c->loop = strcmp(argv[1], "blocking") ? CFG_LOOP_BUSY : CFG_LOOP_BLOCKING;
		if (argc == 4 && c->loop == CFG_LOOP_BUSY)
			return fail(ps, "linger applies to a blocking loop (busy-poll never sleeps)");
		if (argc == 4 && !parse_u64(argv[3], 10000, &n))
			return fail(ps, "bad linger '%s' (0 to 10000 microseconds)", argv[3]);
		c->loop_linger_us = argc == 4 ? (uint32_t)n : 0;
	} else if (!strcmp(d, "pool")) {
		if ((argc != 3 && argc != 5) || strcmp(argv[1], "buffers") ||
		    (argc == 5 && strcmp(argv[3], "size")))
			return fail(ps, "usage: pool buffers N [size BYTES]");
		if (!parse_u64(argv[2], 1u << 24, &n) || n < 64)
			return fail(ps, "bad buffer count '%s' (64 to 16777216)", argv[2]);
		c->pool_bufs = (uint32_t)n;
		if (argc == 5) {
			if (!parse_u64(argv[4], 65536, &n) || n < 256)
				return fail(ps, "bad buffer size '%s' (256 to 65536)", argv[4]);
			c->pool_size = (uint32_t)n;
		}
		if ((rc = once(ps, &c->pool_line, d)))
			return rc;
	} else if (!strcmp(d, "forwarding")) {
		if (argc != 2 || (strcmp(argv[1], "on") && strcmp(argv[1], "off")))
			return fail(ps, "usage: forwarding on|off");
		c->forwarding = !strcmp(argv[1], "on");
	} else if (!strcmp(d, "tcp")) {
		/* Values match enum tcp_cc (protocols/tcp/tcp.h). */
		if (argc == 3 && !strcmp(argv[1], "cc") && !strcmp(argv[2], "newreno"))
			c->tcp_cc = 1;
		else if (argc == 3 && !strcmp(argv[1], "cc") && !strcmp(argv[2], "cubic"))
			c->tcp_cc = 2;
		else if (argc == 3 && !strcmp(argv[1], "sack") &&
			 (!strcmp(argv[2], "on") || !strcmp(argv[2], "off")))
			c->tcp_sack_off = !strcmp(argv[2], "off");
		else
			return fail(ps, "usage: tcp cc newreno|cubic | tcp sack on|off");
	} else if (!strcmp(d, "log")) {
		if (argc != 2)
			return fail(ps, "usage: log quiet|info|debug");
		if (!strcmp(argv[1], "quiet"))
			c->log = CFG_LOG_QUIET;
		else if (!strcmp(argv[1], "info"))
			c->log = CFG_LOG_INFO;
		else if (!strcmp(argv[1], "debug"))
			c->log = CFG_LOG_DEBUG;
		else
			return fail(ps, "usage: log quiet|info|debug");
	} else if (!strcmp(d, "trust") || !strcmp(d, "load")) {
		size_t len = 1;
		char *t;
		struct cfg_domain_line *v;

		if (argc < 2 || (!strcmp(d, "trust") && argc != 2))
			return fail(ps, "usage: trust KEYFILE | load OBJECT [ARGS]");
		for (int i = 0; i < argc; i++)
			len += strlen(argv[i]) + 1;
		v = realloc(c->domlines, (c->n_domlines + 1) * sizeof *v);
		t = malloc(len);
		if (!v || !t) {
			free(t);
			if (v)
				c->domlines = v;
			return fail(ps, "out of memory");
		}
		c->domlines = v;
		t[0] = 0;
		for (int i = 0; i < argc; i++)
			strcat(strcat(t, i ? " " : ""), argv[i]);
		c->domlines[c->n_domlines++] = (struct cfg_domain_line){.line = ps->line, .text = t};
	} else {
		return fail(ps, "unknown directive '%s'", d);
	}
	return CFG_OK;
}

static int parse_line(struct parser *ps, char *s)
{
	char *argv[CFG_MAX_WORDS];
	int argc = 0;

	/* Words are separated by blanks; a word in double quotes may hold
	 * blanks (no escapes).  '#' outside quotes starts a comment. */
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r')
			s++;
		if (!*s || *s == '#')
			break;
		if (argc == CFG_MAX_WORDS)
			return fail(ps, "too many words (at most %d)", CFG_MAX_WORDS);
		if (*s == '"') {
			char *end = strchr(s + 1, '"');

			if (!end)
				return fail(ps, "unterminated quote");
			argv[argc++] = s + 1;
			*end = 0;
			s = end + 1;
			if (*s && *s != ' ' && *s != '\t' && *s != '\r')
				return fail(ps, "text right after a closing quote");
			continue;
		}
		argv[argc++] = s;
		while (*s && *s != ' ' && *s != '\t' && *s != '\r' && *s != '#')
			s++;
		if (*s == '#') {
			*s = 0;
			break;
		}
		if (*s)
			*s++ = 0;
	}
	if (argc == 0)
		return CFG_OK;
	for (char *w = argv[0]; *w; w++)
		if ((unsigned char)*w < 0x20 || (unsigned char)*w > 0x7e)
			return fail(ps, "unprintable character in directive");
	if (!strcmp(argv[0], "interface"))
		return d_interface(ps, argc, argv);
	if (!strcmp(argv[0], "address"))
		return d_address(ps, argc, argv);
	if (!strcmp(argv[0], "route"))
		return d_route(ps, argc, argv);
	if (!strcmp(argv[0], "arp"))
		return d_arp(ps, argc, argv);
	if (!strcmp(argv[0], "service"))
		return d_service(ps, argc, argv);
	if (!strcmp(argv[0], "fault"))
		return d_fault(ps, argc, argv);
	return d_simple(ps, argc, argv);
}

int cfg_parse_text(const char *path, const char *text, size_t len,
		   struct spin_config **out, char *err, size_t errlen)
{
	struct parser ps = {.path = path, .err = err, .errlen = errlen};
	char line[CFG_MAX_LINE];
	size_t pos = 0;
	int rc = CFG_OK;

	*out = NULL;
	if (err && errlen)
		err[0] = 0;
	ps.c = calloc(1, sizeof *ps.c);
	if (!ps.c)
		return CFG_ENOMEM;
	ps.c->path = strdup(path);
	ps.c->pool_bufs = 4096;
	ps.c->pool_size = 2048;
	if (!ps.c->path) {
		cfg_free(ps.c);
		return CFG_ENOMEM;
	}
	while (pos < len) {
		size_t end = pos, n;

		while (end < len && text[end] != '\n')
			end++;
		n = end - pos;
		ps.line++;
		if (n >= sizeof line) {
			rc = fail(&ps, "line longer than %d bytes", CFG_MAX_LINE - 1);
			break;
		}
		memcpy(line, text + pos, n);
		line[n] = 0;
		if (memchr(line, 0, n)) {
			rc = fail(&ps, "NUL byte in line");
			break;
		}
		rc = parse_line(&ps, line);
		if (rc)
			break;
		pos = end + 1;
	}
	if (rc == CFG_OK && ps.c->n_ifaces == 0) {
		ps.line = ps.line ? ps.line : 1;
		rc = fail(&ps, "no interface declared");
	}
	if (rc) {
		cfg_free(ps.c);
		return rc;
	}
	*out = ps.c;
	return CFG_OK;
}

int cfg_parse_file(const char *path, struct spin_config **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*out = NULL;
	if (!f) {
		snprintf(err, errlen, "%s:0: cannot open: %s", path, strerror(errno));
		return CFG_ENOENT;
	}
	for (;;) {
		if (len == cap) {
			char *t;

			cap = cap ? cap * 2 : 4096;
			if (cap > (1u << 24) || !(t = realloc(text, cap))) {
				snprintf(err, errlen, "%s:0: file too large", path);
				free(text);
				fclose(f);
				return CFG_EINVAL;
			}
			text = t;
		}
		size_t n = fread(text + len, 1, cap - len, f);
		if (n == 0)
			break;
		len += n;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s:0: read error", path);
		free(text);
		fclose(f);
		return CFG_ENOENT;
	}
	fclose(f);
	rc = cfg_parse_text(path, text ? text : "", len, out, err, errlen);
	free(text);
	return rc;
}

void cfg_free(struct spin_config *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->n_domlines; i++)
		free(c->domlines[i].text);
	free(c->domlines);
	for (unsigned i = 0; i < c->n_ifaces; i++) {
		free(c->ifaces[i].dev);
		free(c->ifaces[i].in);
		free(c->ifaces[i].out);
		free(c->ifaces[i].live);
		free(c->ifaces[i].file);
	}
	free(c->ifaces);
	free(c->addrs);
	free(c->routes);
	free(c->arps);
	free(c->svcs);
	for (unsigned i = 0; i < c->n_faults; i++)
		free(c->faults[i].spec);
	free(c->faults);
	free(c->control);
	free(c->syscall);
	free(c->path);
	free(c);
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static bool iface_eq(const struct cfg_iface *a, const struct cfg_iface *b)
{
	return !strcmp(a->name, b->name) && a->driver == b->driver && str_eq(a->dev, b->dev) &&
	       str_eq(a->in, b->in) && str_eq(a->out, b->out) && str_eq(a->live, b->live) &&
	       str_eq(a->file, b->file) && a->loops == b->loops && a->has_mac == b->has_mac &&
	       !memcmp(a->mac, b->mac, 6) && a->mtu == b->mtu && a->promisc == b->promisc &&
	       a->capture == b->capture && a->sw_csum == b->sw_csum &&
	       a->no_quiet == b->no_quiet && a->tso == b->tso && a->gso == b->gso;
}

int cfg_reload_check(const struct spin_config *old, const struct spin_config *new,
		     char *err, size_t errlen)
{
	const char *p = new->path;

	if (strcmp(old->name, new->name)) {
		snprintf(err, errlen, "%s:%d: 'name' cannot change on reload (restart instead)", p,
			 new->name_line ? new->name_line : 1);
		return CFG_EINVAL;
	}
	if (!str_eq(old->syscall, new->syscall)) {
		snprintf(err, errlen, "%s:%d: 'syscall' cannot change on reload (restart instead)",
			 p, new->syscall_line ? new->syscall_line : 1);
		return CFG_EINVAL;
	}
	if (!str_eq(old->control, new->control)) {
		snprintf(err, errlen, "%s:%d: 'control' cannot change on reload (restart instead)",
			 p, new->control_line ? new->control_line : 1);
		return CFG_EINVAL;
	}
	if (old->pool_bufs != new->pool_bufs || old->pool_size != new->pool_size) {
		snprintf(err, errlen, "%s:%d: 'pool' cannot change on reload (restart instead)", p,
			 new->pool_line ? new->pool_line : 1);
		return CFG_EINVAL;
	}
	for (unsigned i = 0; i < new->n_ifaces; i++) {
		const struct cfg_iface *o = cfg_iface_find(old, new->ifaces[i].name);

		if (!o || !iface_eq(o, &new->ifaces[i])) {
			snprintf(err, errlen,
				 "%s:%d: interface '%s' %s; interfaces cannot change on reload (restart instead)",
				 p, new->ifaces[i].line, new->ifaces[i].name,
				 o ? "changed" : "is new");
			return CFG_EINVAL;
		}
	}
	for (unsigned i = 0; i < old->n_ifaces; i++)
		if (!cfg_iface_find(new, old->ifaces[i].name)) {
			snprintf(err, errlen,
				 "%s:1: interface '%s' was removed; interfaces cannot change on reload (restart instead)",
				 p, old->ifaces[i].name);
			return CFG_EINVAL;
		}
	return CFG_OK;
}

const struct cfg_iface *cfg_iface_find(const struct spin_config *c, const char *name)
{
	for (unsigned i = 0; i < c->n_ifaces; i++)
		if (!strcmp(c->ifaces[i].name, name))
			return &c->ifaces[i];
	return NULL;
}

const char *cfg_driver_name(enum cfg_driver d)
{
	switch (d) {
	case CFG_DRV_AFPACKET: return "afpacket";
	case CFG_DRV_TAP: return "tap";
	case CFG_DRV_PCAP: return "pcap";
	case CFG_DRV_REPLAY: return "replay";
	}
	return "?";
}

char *cfg_ip_str(uint32_t ip, char *buf)
{
	snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
	return buf;
}

void cfg_control_path(const struct spin_config *c, char *buf, size_t size)
{
	const char *rt;

	if (c->control) {
		snprintf(buf, size, "%s", c->control);
		return;
	}
	const char *name = c->name[0] ? c->name : "spin";
	if (geteuid() == 0 || !(rt = getenv("XDG_RUNTIME_DIR")))
		snprintf(buf, size, "/run/spin/%s.sock", name);
	else
		snprintf(buf, size, "%s/spin/%s.sock", rt, name);
}
