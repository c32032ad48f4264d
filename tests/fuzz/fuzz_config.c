/*
 * fuzz_config.c - the config parser (apps/spin/config.c) on arbitrary text:
 * it must return OK or one FILE:LINE error, never crash or leak.  Valid
 * results are also put through the reload check against themselves.
 * Seeds: tests/fuzz/corpus/config (the examples/ configs).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "apps/spin/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spin_config *c;
	char err[256];

	if (cfg_parse_text("fuzz.conf", (const char *)data, size, &c, err, sizeof err) == CFG_OK) {
		if (cfg_reload_check(c, c, err, sizeof err) != CFG_OK)
			__builtin_trap();
		cfg_free(c);
	} else if (strncmp(err, "fuzz.conf:", 10) != 0) {
		__builtin_trap();
	}
	return 0;
}
