/*
 * udp_module.c - the udp module: its node, its events, and the binding of
 * its input on IP_PacketArrived.
 */
#include "protocols/udp/udp.h"
#include "protocols/udp/udp_private.h"

#include "kernel/sal/sal.h"
#include "protocols/ip/ip.h"

static const char *const udp_drop_names[] = {
#define NG_DROP_X(id, name, text) name,
#include "protocols/udp/udp_drop.def"
#undef NG_DROP_X
};

NG_NODE(udp_node,
	.name = "udp",
	.module = &udp_module,
	.arrived = &UDP_PacketArrived_event,
	.send = &UDP_SendPacket_event,
	.drop_names = udp_drop_names,
	.ndrops = NG_ARRAY_LEN(udp_drop_names),
	.doc = "UDP over IPv4: checksum, length checks, port demux, send");

SPIN_EVENT_DEFINE(UDP_PacketArrived, .owner = &udp_module, .subject = ng_pkt_subject,
		  .default_handler = udp_unreach,
		  .doc = "a valid UDP datagram for us; data start at the UDP header");
SPIN_EVENT_DEFINE(UDP_SendPacket, .owner = &udp_module, .subject = ng_pkt_subject,
		  .doc = "send p's data as a UDP datagram (primary: udp output)");

static struct disp_binding *udp_in_binding, *udp_out_binding;

static int udp_init(const char *args)
{
	(void)args;
	static const struct disp_term proto[] = {DISP_HDR_EQ(IP_OFF_PROTO, 1, IP_PROTO_UDP)};
	const struct UDP_SendPacket_spec out = {
		.handler = udp_output,
		.desc = "udp output",
	};
	const struct IP_PacketArrived_spec in = {
		.handler = udp_input,
		.terms = proto,
		.nterms = NG_ARRAY_LEN(proto),
		.desc = "udp input",
	};
	int rc;

	/* Built in, NG_NODE registered the node already (NG_EEXIST); loaded
	 * as an extension, this registers it. */
	(void)ng_node_register(&udp_node);
	rc = UDP_SendPacket_install(&udp_module, &out, &udp_out_binding);
	if (rc)
		return rc;
	rc = IP_PacketArrived_install(&udp_module, &in, &udp_in_binding);
	if (rc) {
		disp_uninstall(udp_out_binding);
		udp_out_binding = NULL;
		return rc;
	}
	return 0;
}

static void udp_fini(void)
{
	if (udp_in_binding)
		disp_uninstall(udp_in_binding);
	if (udp_out_binding)
		disp_uninstall(udp_out_binding);
	udp_in_binding = udp_out_binding = NULL;
}

/* What extensions import to use UDP: its two events.  (The ip module's
 * own export is not imported here: IP is built in and always started
 * first; the domains issue makes that an explicit import.) */
static struct disp_event *const udp_events[] = {&UDP_PacketArrived_event,
						&UDP_SendPacket_event, NULL};
const struct spin_interface udp_interface = {
	.name = "udp",
	.version = SPIN_VERSION(1, 0),
	.events = udp_events,
};
static const struct spin_interface *const udp_exports[] = {&udp_interface, NULL};

SPIN_MODULE(udp_module,
	    .name = "udp",
	    .version = SPIN_VERSION(1, 0),
	    .exports = udp_exports,
	    .init = udp_init,
	    .fini = udp_fini,
	    .doc = "UDP over IPv4 (RFC 768)");
