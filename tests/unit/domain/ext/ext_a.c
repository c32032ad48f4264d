/* Extension "exta": counts every TDOM packet (who 1) and exports exta_add. */
#include "tests/unit/domain/tdom.h"

__attribute__((noinline)) int exta_add(int a, int b);
__attribute__((noinline)) int exta_add(int a, int b) { return a + b; }

extern const struct spin_module exta_module;

static void on_packet(void *closure, struct tdom_pkt *p)
{
	(void)closure;
	tdom_hit(1, p);
}

static int exta_init(const char *args)
{
	struct TDOM_Packet_spec s = {.handler = on_packet, .desc = "exta"};
	(void)args;
	/* The binding is left to the loader to remove at unload (one swap). */
	return TDOM_Packet_install(&exta_module, &s, NULL);
}

static const struct spin_import exta_imports[] = {
	{.name = "tdom", .version = SPIN_VERSION(1, 0)},
	{.name = NULL},
};

SPIN_MODULE(exta_module, .name = "exta", .version = SPIN_VERSION(1, 0),
	    .imports = exta_imports, .init = exta_init, .doc = "domain test extension A");
