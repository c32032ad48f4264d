/*
 * iperf3_proto.h - the iperf3 wire protocol as the 3.x client speaks it,
 * and the bounded JSON reader that parses its messages.
 *
 * The protocol (facts from the iperf3 sources; names are iperf3's):
 *
 *   control connection, client -> server:   37-byte cookie (36 characters
 *                                            and a NUL) right after connect
 *   server -> client:  one signed state byte per step (IPERF3_S_*)
 *   parameters and results: a 4-byte big-endian length, then that many
 *                      bytes of JSON (one object)
 *   data connections:  one per stream, to the same port, each opening with
 *                      the control connection's cookie
 *
 *   client                                  server
 *   cookie                  ------------->
 *                           <-------------  PARAM_EXCHANGE (9)
 *   len + params JSON       ------------->
 *                           <-------------  CREATE_STREAMS (10)
 *   N data connections, each: cookie ---->
 *                           <-------------  TEST_START (1), TEST_RUNNING (2)
 *   ... data on the streams (to the server; from it with "reverse") ...
 *   TEST_END (4)            ------------->
 *                           <-------------  EXCHANGE_RESULTS (13)
 *   len + results JSON      ------------->
 *                           <-------------  len + results JSON,
 *                                           DISPLAY_RESULTS (14)
 *   IPERF_DONE (16)         ------------->
 *
 * A connection that arrives while a test runs (outside CREATE_STREAMS, or
 * with another cookie) gets ACCESS_DENIED (-1) and is closed.  An error
 * the server reports is SERVER_ERROR (-2) followed by two 4-byte
 * big-endian integers: the client's i_errno code (IPERF3_E_*) and an
 * errno value.  SERVER_TERMINATE (11) tells the client the server is going
 * away mid-test; CLIENT_TERMINATE (12) is the client's ^C.
 *
 * Stream ids: the client and server number their streams in creation
 * order as 1, 3, 4, 5, ... (iperf3's list insertion skips 2); the results
 * JSON names streams by these ids, so they must agree.
 *
 * The JSON reader.  Messages come from the wire, so the reader is bounded
 * and allocation-free: ip3j_valid checks that a buffer holds exactly one
 * well-formed JSON value nested at most IP3J_MAX_DEPTH deep (RFC 8259
 * grammar; strings may hold any escapes, control bytes are refused), and
 * ip3j_member finds a member of the top-level object without copying.
 * Cost: one pass over the text per call.  tests/fuzz/fuzz_iperf3.c fuzzes
 * everything declared here.
 */
#ifndef SPIN_APP_IPERF3_PROTO_H
#define SPIN_APP_IPERF3_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IPERF3_COOKIE_SIZE 37
#define IPERF3_MAX_STREAMS 128      /* iperf3's own limit for -P */
#define IPERF3_JSON_MAX 65536       /* largest parameters or results message */

/* State bytes (iperf_api.h). */
enum iperf3_state {
	IPERF3_S_TEST_START = 1,
	IPERF3_S_TEST_RUNNING = 2,
	IPERF3_S_TEST_END = 4,
	IPERF3_S_PARAM_EXCHANGE = 9,
	IPERF3_S_CREATE_STREAMS = 10,
	IPERF3_S_SERVER_TERMINATE = 11,
	IPERF3_S_CLIENT_TERMINATE = 12,
	IPERF3_S_EXCHANGE_RESULTS = 13,
	IPERF3_S_DISPLAY_RESULTS = 14,
	IPERF3_S_IPERF_DONE = 16,
	IPERF3_S_ACCESS_DENIED = -1,
	IPERF3_S_SERVER_ERROR = -2,
};

/* The client's i_errno codes this server sends after SERVER_ERROR; the
 * client prints iperf_strerror(code) (text of 3.12 in the comments). */
enum iperf3_err {
	IPERF3_E_DURATION = 5,       /* test duration too long */
	IPERF3_E_NUMSTREAMS = 6,     /* number of parallel streams too large */
	IPERF3_E_BLOCKSIZE = 7,      /* block size too large */
	IPERF3_E_OMIT = 12,          /* bogus value for --omit */
	IPERF3_E_UNIMP = 13,         /* an option you are trying to set is not
				      * implemented yet (UDP, SCTP) */
	IPERF3_E_MESSAGE = 110,      /* received an unknown control message */
	IPERF3_E_RECVPARAMS = 114,   /* unable to receive parameters from client */
	IPERF3_E_RECVRESULTS = 117,  /* unable to receive results */
	IPERF3_E_STREAMCLOSE = 207,  /* stream socket has closed unexpectedly */
};

/* The test parameters this server acts on.  Absent fields keep the
 * defaults of iperf3_params_parse. */
struct iperf3_params {
	bool udp, sctp;             /* the protocol asked for (refused) */
	bool reverse, bidir;        /* who sends: see iperf3 -R and --bidir */
	bool get_server_output;     /* the client wants our text in the results */
	uint32_t time;              /* -t seconds; 0 with -n or -k */
	uint32_t omit;              /* -O seconds not counted at the start */
	uint32_t parallel;          /* -P streams, 1..IPERF3_MAX_STREAMS */
	uint32_t len;               /* -l block size */
	uint64_t num;               /* -n bytes, or 0 */
	uint64_t blockcount;        /* -k blocks, or 0 */
};

/* Reads the parameters message (the JSON text s[0..n)).  Returns 0, or the
 * IPERF3_E_* code to report: IPERF3_E_RECVPARAMS when the text is not a
 * well-formed JSON object or a known field has the wrong type;
 * IPERF3_E_NUMSTREAMS, IPERF3_E_DURATION, IPERF3_E_OMIT,
 * IPERF3_E_BLOCKSIZE for values out of iperf3's ranges.  The protocol
 * (udp/sctp) is reported in *p, not refused here. */
int iperf3_params_parse(const char *s, size_t n, struct iperf3_params *p);

/* Checks the client's results message: a well-formed JSON object with a
 * "streams" array.  The server does not need its contents. */
bool iperf3_results_check(const char *s, size_t n);

/* A cookie is 36 printable ASCII characters (the client draws them from
 * a-z and 2-7) and a NUL. */
bool iperf3_cookie_ok(const uint8_t c[IPERF3_COOKIE_SIZE]);

/* --- the JSON reader ------------------------------------------------------ */
#define IP3J_MAX_DEPTH 32

enum ip3j_type { IP3J_NONE = 0, IP3J_NULL, IP3J_BOOL, IP3J_NUM, IP3J_STR, IP3J_OBJ, IP3J_ARR };

/* A value: its type and its text (for a string, between the quotes,
 * escapes not decoded). */
struct ip3j_val {
	enum ip3j_type type;
	const char *p;
	size_t n;
};

/* True when s[0..n) is one JSON value with only whitespace around it. */
bool ip3j_valid(const char *s, size_t n);
/* In a text ip3j_valid accepted whose value is an object: the first member
 * named key (compared byte for byte with the raw name).  False when the
 * value is not an object or has no such member. */
bool ip3j_member(const char *s, size_t n, const char *key, struct ip3j_val *out);
/* A number's integer part (a fraction is cut off); false for a non-number,
 * an exponent, or a magnitude beyond 2^63 - 1. */
bool ip3j_int(const struct ip3j_val *v, int64_t *out);
/* true for a true boolean or a nonzero number. */
bool ip3j_truthy(const struct ip3j_val *v);

#endif
