/*
 * fuzz_elf.c - spin's object loader on arbitrary bytes: parse and place
 * (domain_create_object), resolve against the kernel's domain, link.  A
 * malformed object must be refused with an error, never crash, read out
 * of bounds or leak.  Nothing loaded is ever run.
 * Seeds: tests/fuzz/corpus/elf (real extension objects).
 */
#include <stddef.h>
#include <stdint.h>

#include "kernel/domain/domain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct domain *kernel;
	struct domain *d;
	char err[256];

	if (!kernel && domain_create_builtin(SPIN_KERNEL, &kernel))
		return 0;
	if (domain_create_object("fuzz", data, size, &d, err, sizeof err) == DOM_OK) {
		(void)domain_resolve(kernel, d);
		(void)domain_link(d, err, sizeof err);
		(void)domain_lookup(d, "spin_extension_module");
		domain_release(d);
	}
	return 0;
}
