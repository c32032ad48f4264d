/*
 * ctl_fault.c - `spin ctl fault ...`: settings and counters of the
 * fault-injection nodes (netgraph/fault, docs/fault.md).
 *
 *   fault                    every node, one line each (fault_format)
 *   fault NAME               one node
 *   fault NAME SPEC...       fault_parse over the node's current settings,
 *                            then fault_set (restarts its random sequence)
 *   fault NAME clear         zeroes the node's counters
 *
 * A config line with direction "both" makes NAME.rx and NAME.tx; NAME
 * alone then names the pair, so `fault lossy loss=5%` sets both.
 * Runs on the loop thread like every control command.
 */
#include "apps/spin/appliance.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netgraph/fault/fault.h"

static void show(char **out, const struct fault_node *f)
{
	char line[512];
	size_t n;

	fault_format(f, line, sizeof line);
	n = strcspn(line, "\n");
	ctl_outf(out, "%.*s\n", (int)n, line);
}

/* The nodes NAME stands for: itself, or NAME.rx and NAME.tx. */
static unsigned lookup(const char *name, struct fault_node *v[2])
{
	char sub[FAULT_NAMESIZ + 8];
	unsigned n = 0;

	if ((v[0] = fault_find(name)))
		return 1;
	snprintf(sub, sizeof sub, "%s.rx", name);
	if ((v[n] = fault_find(sub)))
		n++;
	snprintf(sub, sizeof sub, "%s.tx", name);
	if ((v[n] = fault_find(sub)))
		n++;
	return n;
}

int app_ctl_fault(char **out, int argc, char **argv)
{
	struct fault_node *v[2];
	unsigned n;

	*out = NULL;
	if (argc == 1) {
		for (unsigned i = 0; i < fault_count(); i++)
			show(out, fault_at(i));
		if (!*out)
			ctl_outf(out, "no fault nodes (see 'fault' in docs/config.md)\n");
		return 0;
	}
	n = lookup(argv[1], v);
	if (!n) {
		ctl_outf(out, "no fault node named %s\n", argv[1]);
		return 1;
	}
	if (argc == 3 && !strcmp(argv[2], "clear")) {
		for (unsigned i = 0; i < n; i++)
			fault_stats_clear(v[i]);
	} else if (argc >= 3) {
		char spec[1024] = "", err[160];
		size_t len = 0;

		for (int i = 2; i < argc && len < sizeof spec; i++)
			len += (size_t)snprintf(spec + len, sizeof spec - len, "%s%s",
						i > 2 ? " " : "", argv[i]);
		for (unsigned i = 0; i < n; i++) {
			struct fault_config c;
			int rc;

			fault_get(v[i], &c);
			if (fault_parse(spec, &c, err, sizeof err) != FAULT_OK) {
				ctl_outf(out, "fault %s: %s\n", argv[1], err);
				return 1;
			}
			rc = fault_set(v[i], &c);
			if (rc != FAULT_OK) {
				ctl_outf(out, "fault %s: %s\n", fault_name(v[i]), fault_strerror(rc));
				return 1;
			}
		}
	}
	for (unsigned i = 0; i < n; i++)
		show(out, v[i]);
	return 0;
}
