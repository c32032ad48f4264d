/*
 * test_config.c - the config parser (apps/spin/config.c): every directive,
 * and errors reported as FILE:LINE with the right line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apps/spin/config.h"

static struct spin_config *parse_ok(const char *text)
{
	struct spin_config *c = NULL;
	char err[256];
	int rc = cfg_parse_text("t.conf", text, strlen(text), &c, err, sizeof err);

	if (rc)
		fail_msg("unexpected error: %s", err);
	assert_non_null(c);
	return c;
}

/* Parses text that must fail and checks the message starts with want. */
static void parse_bad(const char *text, const char *want)
{
	struct spin_config *c = (void *)1;
	char err[256];
	int rc = cfg_parse_text("t.conf", text, strlen(text), &c, err, sizeof err);

	assert_int_equal(rc, CFG_EINVAL);
	assert_null(c);
	if (strncmp(err, want, strlen(want)))
		fail_msg("error '%s' does not start with '%s'", err, want);
}

static void test_full(void **state)
{
	(void)state;
	struct spin_config *c = parse_ok(
		"# comment\n"
		"name lab-1\n"
		"control /tmp/x.sock   # trailing comment\n"
		"loop busy-poll\n"
		"pool buffers 1024 size 4096\n"
		"\n"
		"interface eth0 driver afpacket dev veth0 mtu 9000 promisc sw-csum\n"
		"interface t0 driver tap dev tap9 mac 02:00:00:00:00:01\n"
		"interface p0 driver pcap in a.pcap out b.pcap\n"
		"interface r0 driver replay file c.pcap loops 5\n"
		"address eth0 198.18.0.2/24\n"
		"address t0 198.19.0.2/16\n"
		"route default via 198.18.0.1\n"
		"route 198.20.0.0/16 via 198.19.0.1 dev t0\n"
		"route 198.21.0.0/24 dev eth0\n"
		"arp eth0 198.18.0.9 02:aa:bb:cc:dd:ee\n"
		"forwarding on\n"
		"service udp-echo port 7\n"
		"service udp-echo port 9000\n"
		"log debug\n");

	assert_string_equal(c->name, "lab-1");
	assert_string_equal(c->control, "/tmp/x.sock");
	assert_int_equal(c->loop, CFG_LOOP_BUSY);
	assert_int_equal(c->pool_bufs, 1024);
	assert_int_equal(c->pool_size, 4096);
	assert_int_equal(c->n_ifaces, 4);
	assert_int_equal(c->ifaces[0].driver, CFG_DRV_AFPACKET);
	assert_string_equal(c->ifaces[0].dev, "veth0");
	assert_int_equal(c->ifaces[0].mtu, 9000);
	assert_true(c->ifaces[0].promisc && c->ifaces[0].sw_csum);
	assert_int_equal(c->ifaces[0].line, 7);
	assert_true(c->ifaces[1].has_mac);
	assert_int_equal(c->ifaces[1].mac[5], 1);
	assert_string_equal(c->ifaces[2].in, "a.pcap");
	assert_string_equal(c->ifaces[2].out, "b.pcap");
	assert_int_equal(c->ifaces[3].loops, 5);
	assert_int_equal(c->n_addrs, 2);
	assert_int_equal(c->addrs[0].addr, 0xc6120002);
	assert_int_equal(c->addrs[0].plen, 24);
	assert_int_equal(c->n_routes, 3);
	assert_int_equal(c->routes[0].plen, 0);
	assert_true(c->routes[0].has_gw);
	assert_int_equal(c->routes[0].gw, 0xc6120001);
	assert_string_equal(c->routes[1].dev, "t0");
	assert_false(c->routes[2].has_gw);
	assert_int_equal(c->n_arps, 1);
	assert_int_equal(c->arps[0].mac[0], 0x02);
	assert_true(c->forwarding);
	assert_int_equal(c->n_svcs, 2);
	assert_int_equal(c->svcs[1].port, 9000);
	assert_int_equal(c->svcs[1].line, 19);
	assert_int_equal(c->log, CFG_LOG_DEBUG);
	cfg_free(c);
}

static void test_defaults(void **state)
{
	(void)state;
	struct spin_config *c = parse_ok("interface r driver replay file x.pcap");
	char path[128];

	assert_int_equal(c->pool_bufs, 4096);
	assert_int_equal(c->pool_size, 2048);
	assert_int_equal(c->loop, CFG_LOOP_BLOCKING);
	assert_false(c->forwarding);
	assert_int_equal(c->ifaces[0].loops, 1);
	assert_null(c->control);
	cfg_control_path(c, path, sizeof path);
	assert_non_null(strstr(path, "spin.sock"));
	cfg_free(c);
}

static void test_errors(void **state)
{
	(void)state;
	parse_bad("", "t.conf:1: no interface declared");
	parse_bad("\n\nbogus 1\n", "t.conf:3: unknown directive 'bogus'");
	parse_bad("interface e driver afpackt dev x\n", "t.conf:1: unknown driver 'afpackt'");
	parse_bad("interface e driver\n", "t.conf:1: usage: interface");
	parse_bad("interface e driver afpacket mtu 1500\n", "t.conf:1: driver afpacket needs");
	parse_bad("interface e driver tap dev t mac 01:00:00:00:00:00\n", "t.conf:1: MAC address");
	parse_bad("interface e driver tap dev t mac 02:00:00:00:00\n", "t.conf:1: bad MAC");
	parse_bad("interface e driver tap dev t mtu\n", "t.conf:1: 'mtu' needs a value");
	parse_bad("interface e driver tap dev t capture\n", "t.conf:1: unknown option 'capture'");
	parse_bad("interface e driver tap dev t\ninterface e driver tap dev u\n",
		  "t.conf:2: interface 'e' declared twice");
	parse_bad("interface e driver pcap\n", "t.conf:1: driver pcap needs");
	parse_bad("interface e driver replay file f loops 0\n", "t.conf:1: bad loop count");
	parse_bad("address e 198.18.0.1/24\n", "t.conf:1: unknown interface 'e'");
	parse_bad("interface e driver tap dev t\naddress e 198.18.0.256/24\n", "t.conf:2: bad address");
	parse_bad("interface e driver tap dev t\naddress e 198.18.0.1/33\n", "t.conf:2: bad address");
	parse_bad("interface e driver tap dev t\naddress e 198.18.0.1\n", "t.conf:2: bad address");
	parse_bad("interface e driver tap dev t\naddress e 224.0.0.1/4\n", "t.conf:2: '224.0.0.1/4' is not");
	parse_bad("interface e driver tap dev t\naddress e 198.18.0.1/24\naddress e 198.18.0.1/16\n",
		  "t.conf:3: address 198.18.0.1/16 already given on line 2");
	parse_bad("interface e driver tap dev t\nroute 198.18.0.1/24 via 198.18.0.2\n",
		  "t.conf:2: prefix '198.18.0.1/24' has bits set");
	parse_bad("interface e driver tap dev t\nroute default\n", "t.conf:2: usage: route");
	parse_bad("interface e driver tap dev t\nroute default via x\n", "t.conf:2: bad gateway");
	parse_bad("interface e driver tap dev t\nroute default dev f\n", "t.conf:2: unknown interface 'f'");
	parse_bad("interface e driver tap dev t\nroute default foo 1\n", "t.conf:2: unknown route option");
	parse_bad("interface e driver tap dev t\narp e 198.18.0.1 zz:00:00:00:00:00\n", "t.conf:2: bad MAC");
	parse_bad("interface e driver tap dev t\nservice udp-echo port 0\n", "t.conf:2: bad port");
	parse_bad("interface e driver tap dev t\nservice udp-echo port 65536\n", "t.conf:2: bad port");
	parse_bad("interface e driver tap dev t\nservice tcp-bogus port 7\n", "t.conf:2: unknown service");
	parse_bad("interface e driver tap dev t\nservice udp-echo port 7\nservice udp-echo port 7\n",
		  "t.conf:3: UDP port 7 already used on line 2");
	parse_bad("interface e driver tap dev t\nservice tcp-echo port 7\nservice tcp-chargen port 7\n",
		  "t.conf:3: TCP port 7 already used on line 2");
	parse_bad("interface e driver tap dev t\nfault f on e up \"loss=1%\"\n",
		  "t.conf:2: fault direction 'up'");
	parse_bad("interface e driver tap dev t\nfault f on x rx \"loss=1%\"\n",
		  "t.conf:2: unknown interface 'x'");
	parse_bad("interface e driver tap dev t\nfault f on e rx \"loss=101%\"\n", "t.conf:2: fault 'f':");
	parse_bad("interface e driver tap dev t\nfault f on e rx \"loss=1%\n", "t.conf:2: unterminated quote");
	parse_bad("interface e driver tap dev t\nfault thirteen-char on e both loss=1%\n",
		  "t.conf:2: bad fault name");
	parse_bad("interface e driver tap dev t\nfault f on e rx off\nfault g on e both off\n",
		  "t.conf:3: interface e already has a rx fault node (line 2)");
	parse_bad("name a\nname b\n", "t.conf:2: 'name' already given on line 1");
	parse_bad("name this-name-is-too-long\n", "t.conf:1: bad name");
	parse_bad("loop fast\n", "t.conf:1: usage: loop");
	parse_bad("loop blocking linger\n", "t.conf:1: usage: loop");
	parse_bad("loop blocking wait 5\n", "t.conf:1: usage: loop");
	parse_bad("loop busy-poll linger 5\n", "t.conf:1: linger applies to a blocking loop");
	parse_bad("loop blocking linger 10001\n", "t.conf:1: bad linger '10001'");
	parse_bad("loop blocking linger -1\n", "t.conf:1: bad linger '-1'");
	parse_bad("pool buffers 10\n", "t.conf:1: bad buffer count");
	parse_bad("forwarding maybe\n", "t.conf:1: usage: forwarding");
}

/* TCP services and fault nodes (apps/tcpsvc, netgraph/fault). */
static void test_loop_linger(void **state)
{
	(void)state;
	struct spin_config *c = parse_ok("interface e driver tap dev t\nloop blocking linger 50\n");

	assert_int_equal(c->loop, CFG_LOOP_BLOCKING);
	assert_int_equal(c->loop_linger_us, 50);
	cfg_free(c);
	c = parse_ok("interface e driver tap dev t\nloop blocking\n");
	assert_int_equal(c->loop_linger_us, 0);
	cfg_free(c);
}

static void test_tcp_and_fault(void **state)
{
	(void)state;
	struct spin_config *c = parse_ok(
		"interface e driver tap dev t\n"
		"service tcp-echo port 7\n"
		"service udp-echo port 7\n"
		"service tcp-discard port 9\n"
		"service tcp-chargen port 19\n"
		"fault lossy on e both \"loss=1% reorder=5%/3 seed=7\"  # quoted, then a comment\n"
		"fault f2 on all rx dup=1% delay=10%@2ms\n");

	assert_int_equal(c->n_svcs, 4);
	assert_int_equal(c->svcs[0].kind, CFG_SVC_TCP_ECHO);
	assert_int_equal(c->svcs[1].kind, CFG_SVC_UDP_ECHO);
	assert_true(cfg_service_is_tcp(c->svcs[2].kind));
	assert_string_equal(cfg_service_name(c->svcs[3].kind), "tcp-chargen");
	assert_int_equal(c->n_faults, 2);
	assert_string_equal(c->faults[0].name, "lossy");
	assert_int_equal(c->faults[0].dir, CFG_FAULT_BOTH);
	assert_string_equal(c->faults[0].spec, "loss=1% reorder=5%/3 seed=7");
	assert_string_equal(c->faults[1].ifname, "all");
	assert_string_equal(c->faults[1].spec, "dup=1% delay=10%@2ms");
	assert_int_equal(c->faults[1].line, 7);
	cfg_free(c);
}

static void test_nul_and_long(void **state)
{
	(void)state;
	char big[5000];
	struct spin_config *c;
	char err[128];
	static const char nul[] = "name a\0b\n";

	memset(big, 'x', sizeof big);
	assert_int_equal(cfg_parse_text("t.conf", big, sizeof big, &c, err, sizeof err), CFG_EINVAL);
	assert_string_equal(err, "t.conf:1: line longer than 4095 bytes");
	assert_int_equal(cfg_parse_text("t.conf", nul, sizeof nul - 1, &c, err, sizeof err),
			 CFG_EINVAL);
	assert_string_equal(err, "t.conf:1: NUL byte in line");
}

static void test_file(void **state)
{
	(void)state;
	struct spin_config *c;
	char err[256];
	char path[] = "/tmp/spin-test-config-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("interface e driver tap dev t\n\naddress e 1.2.3.4/8\nroute x\n", f);
	fclose(f);
	assert_int_equal(cfg_parse_file(path, &c, err, sizeof err), CFG_EINVAL);
	char want[128];
	snprintf(want, sizeof want, "%s:4: ", path);
	assert_memory_equal(err, want, strlen(want));
	unlink(path);
	assert_int_equal(cfg_parse_file(path, &c, err, sizeof err), CFG_ENOENT);
	assert_null(c);
}

static void test_reload_check(void **state)
{
	(void)state;
	const char *base = "name a\ninterface e driver tap dev t\naddress e 198.18.0.2/24\n";
	struct spin_config *o = parse_ok(base);
	struct spin_config *n;
	char err[256];

	n = parse_ok("name a\ninterface e driver tap dev t\naddress e 198.18.0.3/24\n"
		     "service udp-echo port 7\n");
	assert_int_equal(cfg_reload_check(o, n, err, sizeof err), CFG_OK);
	cfg_free(n);

	n = parse_ok("name a\ninterface e driver tap dev u\n");
	assert_int_equal(cfg_reload_check(o, n, err, sizeof err), CFG_EINVAL);
	assert_memory_equal(err, "t.conf:2: interface 'e' changed", 31);
	cfg_free(n);

	n = parse_ok("name a\ninterface e driver tap dev t\ninterface f driver tap dev u\n");
	assert_int_equal(cfg_reload_check(o, n, err, sizeof err), CFG_EINVAL);
	assert_memory_equal(err, "t.conf:3: interface 'f' is new", 30);
	cfg_free(n);

	n = parse_ok("name b\ninterface e driver tap dev t\n");
	assert_int_equal(cfg_reload_check(o, n, err, sizeof err), CFG_EINVAL);
	assert_memory_equal(err, "t.conf:1: 'name' cannot change", 30);
	cfg_free(n);
	cfg_free(o);
}

/* The source tree: $SPIN_SOURCE_ROOT, or where the build says it is. */
static void source_root(char *buf, size_t n)
{
	const char *env = getenv("SPIN_SOURCE_ROOT");

	snprintf(buf, n, "%s", env ? env : SPIN_SOURCE_ROOT);
}

static void test_examples(void **state)
{
	(void)state;
	static const char *const files[] = {"examples/echo.conf", "examples/replay.conf",
					    "examples/golden.conf"};
	char root[400];

	source_root(root, sizeof root);
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		char path[512];
		struct spin_config *c;
		char err[256];

		snprintf(path, sizeof path, "%s/%s", root, files[i]);
		if (cfg_parse_file(path, &c, err, sizeof err))
			fail_msg("%s", err);
		cfg_free(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_loop_linger),
		cmocka_unit_test(test_tcp_and_fault),
		cmocka_unit_test(test_nul_and_long),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_reload_check),
		cmocka_unit_test(test_examples),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
