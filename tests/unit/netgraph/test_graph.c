/* Unit tests of the graph: interfaces, link events, guards on the current
 * header, the drop node, counters, trace and the DOT dump. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/dispatch/dispatch.h"
#include "kernel/module/module.h"
#include "kernel/sal/sal.h"
#include "netgraph/graph.h"
#include "netgraph/iface.h"
#include "netgraph/pkt.h"
#include "tests/unit/netgraph/ng_test.h"

/* --- a test layer: module, node, event, drop reasons ------------------------- */
SPIN_MODULE(test_module, .name = "ngtest", .version = SPIN_VERSION(1, 0),
	    .doc = "netgraph unit tests");

enum test_drop {
	TEST_DROP__BASE = NG_DROP_COMMON - 1,
	TEST_DROP_BAD_THING,
	TEST_DROP_WORSE_THING,
};
static const char *const test_drop_names[] = {"bad_thing", "worse_thing"};

SPIN_EVENT_DECLARE_VOID(Test_PacketArrived, (struct pkt *, p))
extern const struct ng_node test_node;
NG_PKT_EVENT_DEFINE(Test_PacketArrived, test_node, .owner = &test_module,
		    .doc = "test layer input");

NG_NODE(test_node,
	.name = "test",
	.module = &test_module,
	.arrived = &Test_PacketArrived_event,
	.drop_names = test_drop_names,
	.ndrops = NG_ARRAY_LEN(test_drop_names),
	.doc = "unit-test layer above link");

static struct pkt_pool *pool;

/* --- a fake interface ---------------------------------------------------------- */
static struct pkt *sent[16];
static int nsent;

static int fake_xmit(struct ng_iface *ifp, struct pkt *p)
{
	ifp->stats.tx_packets++;
	ifp->stats.tx_bytes += pkt_len(p);
	if (nsent < 16)
		sent[nsent++] = p;
	else
		pkt_free(p);
	return 0;
}

static const struct ng_iface_ops fake_ops = {.xmit = fake_xmit};
static struct ng_iface fake0 = {.name = "fake0", .mtu = 1500, .ops = &fake_ops,
				.driver = "test"};
static struct ng_iface fake1 = {.name = "fake1", .mtu = 1500, .ops = &fake_ops,
				.tx_csum_offload = true, .driver = "test"};

static void free_sent(void)
{
	for (int i = 0; i < nsent; i++)
		pkt_free(sent[i]);
	nsent = 0;
}

/* --- the test layer's input handler: on Link, guarded by ethertype ------------- */
static struct pkt *seen[16];
static int nseen;
static bool pass_up;  /* raise Test_PacketArrived instead of keeping it */

static void test_input(void *closure, struct pkt *p)
{
	(void)closure;
	ng_enter(&test_node, p);
	if (pass_up) {
		assert_true(pkt_pull(p, 14));
		Test_PacketArrived_raise(p);
	} else if (nseen < 16) {
		seen[nseen++] = p;
	} else {
		pkt_free(p);
	}
	ng_leave(&test_node);
}

static void free_seen(void)
{
	for (int i = 0; i < nseen; i++)
		pkt_free(seen[i]);
	nseen = 0;
}

static const struct disp_term ipv4_guard[] = {DISP_HDR_EQ(12, 2, 0x0800)};

static struct disp_binding *install_ipv4(void)
{
	struct Link_PacketArrived_spec spec = {
		.handler = test_input,
		.terms = ipv4_guard,
		.nterms = 1,
		.desc = "test input",
	};
	struct disp_binding *b = NULL;
	assert_int_equal(Link_PacketArrived_install(&test_module, &spec, &b), DISP_OK);
	return b;
}

static struct pkt *frame(uint16_t ethertype, uint32_t len)
{
	uint8_t f[1514] = {0};
	memset(f, 0xff, 6);
	f[6] = 0x02;
	f[12] = (uint8_t)(ethertype >> 8);
	f[13] = (uint8_t)ethertype;
	for (uint32_t i = 14; i < len; i++)
		f[i] = (uint8_t)i;
	struct pkt *p = pkt_from_bytes(pool, f, len);
	assert_non_null(p);
	return p;
}

static void clear_all(void)
{
	for (unsigned i = 0; i < ng_node_count(); i++)
		assert_int_equal(ng_node_msg(ng_node_at(i), NG_MSG_CLRSTATS, NULL), NG_OK);
}

static struct ng_stats stats(const struct ng_node *n)
{
	struct ng_stats st;
	assert_int_equal(ng_node_msg(n, NG_MSG_GETSTATS, &st), NG_OK);
	return st;
}

static int setup(void **state)
{
	(void)state;
	sal_init();
	pool = pkt_pool_new("graph", 128, PKT_BUF_DEFAULT);
	if (!pool || ng_graph_init() != NG_OK)
		return -1;
	if (ng_iface_register(&fake0) != 0 || ng_iface_register(&fake1) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ng_iface_unregister(&fake0);
	ng_iface_unregister(&fake1);
	ng_graph_fini();
	return pkt_pool_free(pool) ? -1 : 0;
}

/* --- tests -------------------------------------------------------------------------- */
static void test_registry(void **state)
{
	(void)state;
	assert_ptr_equal(ng_node_find("link"), &ng_link_node);
	assert_ptr_equal(ng_node_find("drop"), &ng_drop_node);
	assert_ptr_equal(ng_node_find("test"), &test_node);
	assert_null(ng_node_find("nope"));
	assert_int_equal(ng_node_register(&test_node), NG_OK);  /* idempotent */
	assert_true(fake0.index >= 1);
	assert_int_not_equal(fake0.index, fake1.index);
	assert_ptr_equal(ng_iface_get(fake0.index), &fake0);
	assert_ptr_equal(ng_iface_find("fake1"), &fake1);
	struct ng_iface dup = {.name = "fake0", .ops = &fake_ops};
	assert_int_equal(ng_iface_register(&dup), -1);
	assert_string_equal(ng_drop_name(&test_node, NG_DROP_NO_HANDLER), "no_handler");
	assert_string_equal(ng_drop_name(&test_node, TEST_DROP_WORSE_THING), "worse_thing");
	assert_string_equal(ng_drop_name(&test_node, NG_MAX_REASONS - 1), "other");
	assert_string_equal(ng_drop_name(&ng_link_node, NG_LINK_DROP_IFACE_DOWN), "iface_down");
	NG_ASSERT_NO_LEAKS();
}

/* A frame in: counted on the interface and the link node, stamped, handed
 * to the handler whose guard reads the Ethernet header; a frame no guard
 * takes is dropped on link as no_handler. */
static void test_input_event_handler(void **state)
{
	(void)state;
	clear_all();
	struct disp_binding *b = install_ipv4();
	uint64_t rx0 = fake0.stats.rx_packets;

	ng_iface_input(&fake0, frame(0x0800, 60));
	assert_int_equal(nseen, 1);
	struct pkt *p = seen[0];
	assert_int_equal(p->ifindex, fake0.index);
	assert_ptr_equal(p->buf + p->l2_off, pkt_data(p));
	assert_int_equal(pkt_len(p), 60);

	ng_iface_input(&fake0, frame(0x0806, 42));
	assert_int_equal(nseen, 1);
	assert_int_equal(fake0.stats.rx_packets, rx0 + 2);

	struct ng_stats st = stats(&ng_link_node);
	assert_int_equal(st.packets, 2);
	assert_int_equal(st.bytes, 102);
	assert_int_equal(st.drops, 1);
	assert_int_equal(st.reason[NG_DROP_NO_HANDLER], 1);
	st = stats(&test_node);
	assert_int_equal(st.packets, 1);
	st = stats(&ng_drop_node);
	assert_int_equal(st.packets, 1);

	/* Up one more layer: the test event has no handler, so the test node
	 * drops it with no_handler. */
	pass_up = true;
	ng_iface_input(&fake0, frame(0x0800, 64));
	pass_up = false;
	st = stats(&test_node);
	assert_int_equal(st.drops, 1);
	assert_int_equal(st.reason[NG_DROP_NO_HANDLER], 1);

	free_seen();
	assert_int_equal(disp_uninstall(b), DISP_OK);
	NG_ASSERT_NO_LEAKS();
}

static void test_input_batch(void **state)
{
	(void)state;
	clear_all();
	struct disp_binding *b = install_ipv4();
	struct pkt *v[8];
	for (int i = 0; i < 8; i++)
		v[i] = frame(i == 3 ? 0x86dd : 0x0800, (uint32_t)(60 + i));
	ng_iface_input_batch(&fake0, v, 8);
	for (int i = 0; i < 8; i++)
		assert_null(v[i]);
	assert_int_equal(nseen, 7);
	for (int i = 0; i < 7; i++)
		assert_int_equal(pkt_len(seen[i]), 60 + i + (i >= 3));
	struct ng_stats st = stats(&ng_link_node);
	assert_int_equal(st.calls, 1);
	assert_int_equal(st.packets, 8);
	assert_int_equal(st.reason[NG_DROP_NO_HANDLER], 1);
	free_seen();
	assert_int_equal(disp_uninstall(b), DISP_OK);
	NG_ASSERT_NO_LEAKS();
}

/* Sending: the primary handler finds the interface and calls xmit,
 * completing a partial checksum when the device cannot. */
static struct pkt *udp_partial(uint16_t ifindex)
{
	uint8_t f[60] = {0};
	f[12] = 0x08;
	f[14] = 0x45;
	f[14 + 3] = 46;
	f[14 + 9] = 17;
	f[26] = 198, f[27] = 18, f[28] = 0, f[29] = 1;
	f[30] = 198, f[31] = 18, f[32] = 0, f[33] = 2;
	f[34 + 5] = 26;          /* UDP length 26: 8 + 18 payload */
	f[34 + 6] = 0x12;        /* pseudo-header sum, as a device expects */
	f[34 + 7] = 0x34;
	struct pkt *p = pkt_from_bytes(pool, f, sizeof(f));
	p->ifindex = ifindex;
	p->csum = PKT_CSUM_PARTIAL;
	p->csum_start = 34;
	p->csum_offset = 6;
	return p;
}

static void test_send(void **state)
{
	(void)state;
	clear_all();
	ng_iface_send(udp_partial(fake0.index));
	assert_int_equal(nsent, 1);
	assert_int_equal(sent[0]->csum, PKT_CSUM_NONE);
	uint8_t ck[2];
	assert_true(pkt_copy_out(sent[0], 40, ck, 2));
	assert_false(ck[0] == 0x12 && ck[1] == 0x34);
	assert_int_equal(fake0.stats.tx_packets, 1);

	/* The device completes it: left partial. */
	ng_iface_send(udp_partial(fake1.index));
	assert_int_equal(nsent, 2);
	assert_int_equal(sent[1]->csum, PKT_CSUM_PARTIAL);

	/* A clone is completed on a private copy; the original keeps its
	 * pseudo-header sum. */
	struct pkt *orig = udp_partial(fake0.index);
	ng_iface_send(pkt_clone(orig));
	assert_int_equal(nsent, 3);
	assert_true(pkt_copy_out(orig, 40, ck, 2));
	assert_true(ck[0] == 0x12 && ck[1] == 0x34);
	pkt_free(orig);

	/* No such interface; offsets outside the packet. */
	ng_iface_send(udp_partial(NG_IF_MAX));
	struct pkt *bad = udp_partial(fake0.index);
	bad->csum_start = 59;
	ng_iface_send(bad);
	assert_int_equal(nsent, 3);
	struct ng_stats st = stats(&ng_link_node);
	assert_int_equal(st.packets, 5);
	assert_int_equal(st.reason[NG_DROP_NO_IFACE], 1);
	assert_int_equal(st.reason[NG_DROP_BAD_CSUM], 1);
	assert_int_equal(st.drops, 2);
	free_sent();
	NG_ASSERT_NO_LEAKS();
}

static void test_drop_and_stats_messages(void **state)
{
	(void)state;
	clear_all();
	for (int i = 0; i < 3; i++) {
		struct pkt *p = frame(0x0800, 100);
		ng_drop(&p, &test_node, TEST_DROP_BAD_THING);
		assert_null(p);
	}
	struct pkt *p = frame(0x0800, 100);
	ng_drop(&p, &test_node, TEST_DROP_WORSE_THING);
	p = frame(0x0800, 100);
	ng_drop(&p, &test_node, 1000);      /* out of range: "other" */
	ng_drop(&p, &test_node, 0);         /* NULL: nothing */

	struct ng_stats st;
	assert_int_equal(ng_msg_send("test", "getstats", &st), NG_OK);
	assert_int_equal(st.drops, 5);
	assert_int_equal(st.reason[TEST_DROP_BAD_THING], 3);
	assert_int_equal(st.reason[TEST_DROP_WORSE_THING], 1);
	assert_int_equal(st.reason[NG_MAX_REASONS - 1], 1);
	assert_int_equal(st.nreasons, NG_DROP_COMMON + 2);
	char text[1024];
	int n = ng_stats_format(&test_node, &st, text, sizeof(text));
	assert_true(n > 0 && (size_t)n < sizeof(text));
	assert_non_null(strstr(text, "test: "));
	assert_non_null(strstr(text, "drop bad_thing 3"));
	assert_non_null(strstr(text, "drop worse_thing 1"));
	assert_non_null(strstr(text, "drop other 1"));
	st = stats(&ng_drop_node);
	assert_int_equal(st.packets, 5);
	assert_int_equal(st.bytes, 500);

	/* getclrstats reads and clears; then getstats sees zero. */
	assert_int_equal(ng_msg_send("test", "getclrstats", &st), NG_OK);
	assert_int_equal(st.drops, 5);
	st = stats(&test_node);
	assert_int_equal(st.drops, 0);
	assert_int_equal(st.reason[TEST_DROP_BAD_THING], 0);
	p = frame(0x0800, 100);
	ng_drop(&p, &test_node, TEST_DROP_BAD_THING);
	assert_int_equal(stats(&test_node).drops, 1);
	assert_int_equal(ng_msg_send("test", "clrstats", NULL), NG_OK);
	assert_int_equal(stats(&test_node).drops, 0);

	enum ng_msg m;
	assert_int_equal(ng_msg_parse("getclrstats", &m), NG_OK);
	assert_int_equal(m, NG_MSG_GETCLRSTATS);
	assert_string_equal(ng_msg_name(NG_MSG_CLRSTATS), "clrstats");
	assert_int_equal(ng_msg_send("test", "frobnicate", &st), NG_EINVAL);
	assert_int_equal(ng_msg_send("nope", "getstats", &st), NG_ENOENT);
	assert_int_equal(ng_node_msg(&test_node, NG_MSG_GETSTATS, NULL), NG_EINVAL);

	/* Every node's counters as text. */
	n = ng_stats_format_all(text, sizeof(text));
	assert_true(n > 0);
	assert_non_null(strstr(text, "link: "));
	assert_non_null(strstr(text, "drop: "));
	NG_ASSERT_NO_LEAKS();
}

/* Timing: off takes no time stamps; on times every packet, and a node's
 * time excludes the nodes it raised into. */
static void test_counters_timing(void **state)
{
	(void)state;
	clear_all();
	struct disp_binding *b = install_ipv4();
	assert_false(ng_timing_enabled());
	ng_iface_input(&fake0, frame(0x0800, 60));
	struct ng_stats st = stats(&ng_link_node);
	assert_int_equal(st.packets, 1);
	assert_int_equal(st.timed, 0);
	assert_int_equal(st.ns, 0);

	ng_timing_set(true);
	for (int i = 0; i < 4; i++)
		ng_iface_input(&fake0, frame(0x0800, 60));
	ng_timing_set(false);
	st = stats(&ng_link_node);
	assert_int_equal(st.packets, 5);
	assert_int_equal(st.timed, 4);
	st = stats(&test_node);
	assert_int_equal(st.packets, 5);
	assert_int_equal(st.timed, 4);
	assert_int_equal(st.ns_per_pkt, st.ns / 4);

	assert_int_equal(ng_node_msg(&ng_link_node, NG_MSG_GETCLRSTATS, &st), NG_OK);
	assert_int_equal(st.packets, 5);
	st = stats(&ng_link_node);
	assert_int_equal(st.packets, 0);
	assert_int_equal(st.timed, 0);
	assert_int_equal(st.ns, 0);
	free_seen();
	assert_int_equal(disp_uninstall(b), DISP_OK);
	NG_ASSERT_NO_LEAKS();
}

static void test_trace(void **state)
{
	(void)state;
	struct ng_trace_rec recs[64];
	ng_trace_clear();
	assert_int_equal(ng_trace_mode(), NG_TRACE_OFF);
	struct pkt *p = frame(0x0806, 42);
	ng_iface_input(&fake0, p);
	assert_int_equal(ng_trace_read(recs, 64), 0);

	ng_trace_set(NG_TRACE_ALL);
	p = frame(0x0806, 42);
	uint64_t id = p->id;
	ng_iface_input(&fake0, p);
	unsigned n = ng_trace_read(recs, 64);
	assert_int_equal(n, 2);
	assert_int_equal(recs[0].id, id);
	assert_ptr_equal(recs[0].node, &ng_link_node);
	assert_string_equal(recs[0].event, "rx");
	assert_int_equal(recs[0].len, 42);
	assert_string_equal(recs[1].event, "drop");
	assert_int_equal(recs[1].reason, NG_DROP_NO_HANDLER);
	assert_true(recs[1].tsc >= recs[0].tsc);
	char text[2048];
	int len = ng_trace_dump(text, sizeof(text));
	assert_true(len > 0);
	assert_non_null(strstr(text, "link"));
	assert_non_null(strstr(text, "drop"));
	assert_non_null(strstr(text, "no_handler"));

	/* Flagged mode: only packets marked PKT_F_TRACE. */
	ng_trace_clear();
	ng_trace_set(NG_TRACE_FLAGGED);
	ng_iface_input(&fake0, frame(0x0806, 42));
	assert_int_equal(ng_trace_read(recs, 64), 0);
	p = frame(0x0806, 42);
	p->flags |= PKT_F_TRACE;
	ng_iface_input(&fake0, p);
	assert_int_equal(ng_trace_read(recs, 64), 2);

	/* The ring keeps the newest NG_TRACE_LEN records. */
	ng_trace_clear();
	ng_trace_set(NG_TRACE_ALL);
	for (int i = 0; i < NG_TRACE_LEN; i++)
		ng_iface_input(&fake0, frame(0x0806, 42));
	static struct ng_trace_rec all[NG_TRACE_LEN + 1];
	assert_int_equal(ng_trace_read(all, NG_TRACE_LEN + 1), NG_TRACE_LEN);
	ng_trace_set(NG_TRACE_OFF);
	ng_trace_clear();
	NG_ASSERT_NO_LEAKS();
}

static void test_dot(void **state)
{
	(void)state;
	struct disp_binding *b = install_ipv4();
	char small[16];
	int need = ng_graph_dot(small, sizeof(small));
	assert_true(need > (int)sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	char *dot = sal_alloc((size_t)need + 1);
	assert_int_equal(ng_graph_dot(dot, (size_t)need + 1), need);
	assert_non_null(strstr(dot, "digraph spin {"));
	assert_non_null(strstr(dot, "\"link\" [label="));
	assert_non_null(strstr(dot, "\"drop\" [label="));
	assert_non_null(strstr(dot, "\"test\" [label="));
	const char *e = strstr(dot, "\"link\" -> \"test\"");
	assert_non_null(e);
	assert_non_null(strstr(e, "Link_PacketArrived"));
	assert_non_null(strstr(e, "hdr[12:2]==2048"));
	/* The link node's own send handler is not an edge. */
	assert_null(strstr(dot, "\"link\" -> \"link\""));
	sal_free(dot);
	assert_int_equal(disp_uninstall(b), DISP_OK);
	dot = sal_alloc(4096);
	ng_graph_dot(dot, 4096);
	assert_null(strstr(dot, "\"link\" -> \"test\""));
	sal_free(dot);
	NG_ASSERT_NO_LEAKS();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_input_event_handler),
		cmocka_unit_test(test_input_batch),
		cmocka_unit_test(test_send),
		cmocka_unit_test(test_drop_and_stats_messages),
		cmocka_unit_test(test_counters_timing),
		cmocka_unit_test(test_trace),
		cmocka_unit_test(test_dot),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
