/*
 * ctl_stats.c - `spin ctl ip` and `spin ctl icmp`: the protocol-level
 * counters that are not per-node drop reasons (those are `spin ctl counters
 * NODE`), one "name value" pair a line.  `... clear` reads and clears.
 * Runs on the loop thread like every control command.
 */
#include "apps/spin/appliance.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/icmp/icmp.h"
#include "protocols/ip/ip.h"

struct stat_field {
	const char *name;
	size_t off;
};

#define F(type, m) {#m, offsetof(type, m)}
static const struct stat_field ip_fields[] = {
	F(struct ip_stats, rx), F(struct ip_stats, delivered), F(struct ip_stats, forwarded),
	F(struct ip_stats, tx), F(struct ip_stats, frag_created), F(struct ip_stats, frags_rx),
	F(struct ip_stats, reassembled), F(struct ip_stats, reass_held),
	F(struct ip_stats, reass_bytes),
};
static const struct stat_field icmp_fields[] = {
	F(struct icmp_stats, rx), F(struct icmp_stats, echo_rx), F(struct icmp_stats, echo_tx),
	F(struct icmp_stats, err_rx), F(struct icmp_stats, err_tx),
	F(struct icmp_stats, err_suppressed), F(struct icmp_stats, rate_limited),
	F(struct icmp_stats, tx_fail),
};
#undef F

static char *format(const void *st, const struct stat_field *f, size_t n)
{
	size_t cap = 64 * n + 1, len = 0;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	s[0] = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t v;
		memcpy(&v, (const char *)st + f[i].off, sizeof v);
		len += (size_t)snprintf(s + len, cap - len, "%s %" PRIu64 "\n", f[i].name, v);
	}
	return s;
}

bool app_ctl_is_stats(const char *cmd)
{
	return !strcmp(cmd, "ip") || !strcmp(cmd, "icmp");
}

int app_ctl_stats(char **out, int argc, char **argv)
{
	bool clear = argc >= 2 && !strcmp(argv[1], "clear");
	if (argc > 2 || (argc == 2 && !clear)) {
		*out = strdup("usage: ip|icmp [clear]\n");
		return 1;
	}
	if (!strcmp(argv[0], "ip")) {
		struct ip_stats st;
		ip_stats_get(&st, clear);
		*out = format(&st, ip_fields, sizeof ip_fields / sizeof ip_fields[0]);
	} else {
		struct icmp_stats st;
		icmp_stats_get(&st, clear);
		*out = format(&st, icmp_fields, sizeof icmp_fields / sizeof icmp_fields[0]);
	}
	return 0;
}
