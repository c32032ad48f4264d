/*
 * fuzz_iperf3.c - the iperf3 server's readers of wire bytes
 * (apps/iperf3/iperf3_json.c) on arbitrary input: the JSON validator, the
 * member lookup, the parameters and results messages and the cookie check.
 * None may crash or read outside the input; besides, what they report must
 * hold together:
 *   - every member found lies inside the input, and a non-string member's
 *     text is itself one valid JSON value;
 *   - parameters accepted are within iperf3's ranges, refusals use one of
 *     the codes the server sends;
 *   - a text the validator refuses is refused by the message readers too.
 * Seeds: tests/fuzz/corpus/iperf3 (parameters and results as iperf3 3.12
 * sends them, spin's own results, nesting and escapes, garbage, a cookie).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "apps/iperf3/iperf3_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const keys[] = {"time", "omit", "parallel", "len", "num", "blockcount",
				   "reverse", "udp", "streams", "id", "", "title", NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	bool valid = ip3j_valid(s, size);
	struct iperf3_params p;
	int rc;

	for (int i = 0; keys[i]; i++) {
		struct ip3j_val v;
		int64_t x;

		if (!ip3j_member(s, size, keys[i], &v))
			continue;
		if (v.p < s || v.p + v.n > s + size)
			__builtin_trap();
		if (v.type != IP3J_STR && !ip3j_valid(v.p, v.n))
			__builtin_trap();
		(void)ip3j_int(&v, &x);
		(void)ip3j_truthy(&v);
	}
	rc = iperf3_params_parse(s, size, &p);
	if (rc == 0) {
		if (!valid || p.parallel < 1 || p.parallel > IPERF3_MAX_STREAMS ||
		    p.time > 86400 || p.omit > 600 || p.len < 1 || p.len > (1u << 20))
			__builtin_trap();
	} else if (rc != IPERF3_E_RECVPARAMS && rc != IPERF3_E_NUMSTREAMS &&
		   rc != IPERF3_E_DURATION && rc != IPERF3_E_OMIT && rc != IPERF3_E_BLOCKSIZE) {
		__builtin_trap();
	}
	if (iperf3_results_check(s, size) && !valid)
		__builtin_trap();
	if (size >= IPERF3_COOKIE_SIZE)
		(void)iperf3_cookie_ok(data);
	return 0;
}
