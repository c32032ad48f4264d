/* Extension "extb": counts every TDOM packet (who 2) and calls exta_add,
 * which only resolving against exta's domain provides. */
#include "tests/unit/domain/tdom.h"

int exta_add(int a, int b);
long extb_loop(long n);

/* The call.inkernel benchmark: n calls through the resolved binding. */
long extb_loop(long n)
{
	long acc = 0;
	for (long i = 0; i < n; i++)
		acc = exta_add((int)acc, 1);
	return acc;
}

extern const struct spin_module extb_module;

static void on_packet(void *closure, struct tdom_pkt *p)
{
	(void)closure;
	tdom_hit(2, p);
}

static int extb_init(const char *args)
{
	struct TDOM_Packet_spec s = {.handler = on_packet, .desc = "extb"};
	(void)args;
	if (exta_add(2, 3) != 5)
		return -1;
	return TDOM_Packet_install(&extb_module, &s, NULL);
}

SPIN_MODULE(extb_module, .name = "extb", .version = SPIN_VERSION(1, 0), .init = extb_init,
	    .doc = "domain test extension B");
