/* Installs on TDOM_Guarded, whose authorizer denies: init fails, load refused. */
#include "tests/unit/domain/tdom.h"

extern const struct spin_module denied_module;

static void on_packet(void *closure, struct tdom_pkt *p)
{
	(void)closure;
	tdom_hit(1, p);
}

static int denied_init(const char *args)
{
	struct TDOM_Packet_spec s = {.handler = on_packet, .desc = "first, allowed"};
	struct TDOM_Guarded_spec g = {.handler = on_packet, .desc = "denied"};
	(void)args;
	/* An allowed install first: the refused load must sweep it too. */
	if (TDOM_Packet_install(&denied_module, &s, NULL))
		return -1;
	return TDOM_Guarded_install(&denied_module, &g, NULL);
}

SPIN_MODULE(denied_module, .name = "denied", .version = SPIN_VERSION(1, 0),
	    .init = denied_init);
