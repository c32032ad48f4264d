/*
 * echo.c - UDP echo (RFC 862) on UDP_PacketArrived.  See echo.h.
 */
#include "apps/echo/echo.h"

#include "apps/echo/svc_args.h"
#include "kernel/sal/sal.h"
#include "netgraph/graph.h"
#include "protocols/inet/inet.h"
#include "protocols/udp/udp.h"

/* The same source is the built-in module "echo" (the `service udp-echo`
 * config lines) and the extension object build/ext/udp_echo.o, module
 * "udp_echo": distinct names, so `spin ctl domains` and the node list tell
 * the two apart and both may run at once on different ports. */
#ifdef SPIN_EXTENSION
#define ECHO_NAME "udp_echo"
#else
#define ECHO_NAME "echo"
#endif

NG_NODE(echo_node,
	.name = ECHO_NAME,
	.module = &echo_module,
	.doc = "UDP echo service (RFC 862): answers in the request's buffer");

/* Consumes p (data start at the UDP header).  The reply goes back out of
 * the interface the request came in on, from the address it was sent to;
 * a request to a broadcast or multicast address is answered from the
 * interface's own address instead. */
static void echo_input(void *closure, struct pkt *p)
{
	(void)closure;
	struct udp_peer u;
	uint32_t src;

	ng_enter(&echo_node, p);
	udp_peer(p, &u);
	src = u.dst;
	if ((p->flags & (PKT_F_BCAST | PKT_F_MCAST)) || !inet_addr_is_local(u.ifindex, u.dst))
		src = 0;
	pkt_pull(p, UDP_HDR_LEN);
	ng_leave(&echo_node);
	udp_send(p, u.ifindex, src, u.dport, u.src, u.sport);
}

static int echo_binding_create(uint16_t port, struct disp_binding **out)
{
	char desc[32];
	const struct disp_term t = udp_port_term(port);
	struct UDP_PacketArrived_spec s = {
		.handler = echo_input,
		.terms = &t,
		.nterms = 1,
		.desc = desc,
	};

	sal_snprintf(desc, sizeof desc, ECHO_NAME " port %u", (unsigned)port);
	return UDP_PacketArrived_create(&echo_module, &s, out);
}

static const struct echo_ops echo_ops = {.binding_create = echo_binding_create};
const struct spin_interface echo_interface = {
	.name = ECHO_NAME,
	.version = SPIN_VERSION(1, 0),
	.procs = &echo_ops,
};
static const struct spin_interface *const echo_exports[] = {&echo_interface, NULL};

/* Bindings made by init from its args (a run-time load); spin run makes its
 * own through echo_ops and owns them. */
static struct disp_binding *echo_own[SVC_MAX_PORTS];
static unsigned echo_nown;

static void echo_fini(void)
{
	for (unsigned i = 0; i < echo_nown; i++)
		disp_uninstall(echo_own[i]);
	echo_nown = 0;
}

/* args: the ports (apps/echo/svc_args.h): "7", "7,9000", "port 7". */
static int echo_init(const char *args)
{
	uint16_t ports[SVC_MAX_PORTS];
	int n = svc_args_ports(args, ports, SVC_MAX_PORTS);

	if (n < 0)
		return -1;
	(void)ng_node_register(&echo_node);
	for (int i = 0; i < n; i++) {
		int rc = echo_binding_create(ports[i], &echo_own[echo_nown]);

		if (!rc && (rc = disp_binding_install(echo_own[echo_nown])))
			disp_binding_destroy(echo_own[echo_nown]);
		if (rc) {
			echo_fini();
			return rc;
		}
		echo_nown++;
	}
	return 0;
}

static const struct spin_import echo_imports[] = {
	{.name = "udp", .version = SPIN_VERSION(1, 0)},
	{.name = NULL},
};

SPIN_MODULE(echo_module,
	    .name = ECHO_NAME,
	    .version = SPIN_VERSION(1, 0),
	    .exports = echo_exports,
	    .imports = echo_imports,
	    .init = echo_init,
	    .fini = echo_fini,
	    .doc = "UDP echo service (RFC 862)");
