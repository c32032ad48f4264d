/*
 * iperf3_json.c - the bounded JSON reader and the iperf3 messages read
 * with it (iperf3_proto.h).  No allocation, no libc beyond string
 * compares: the fuzz target links this file alone.
 *
 * Every scanner takes the text, its length and a cursor, and either moves
 * the cursor past what it accepted or returns false (the cursor is then
 * meaningless).  Nesting is bounded by IP3J_MAX_DEPTH, so the recursion
 * is too.
 */
#include "apps/iperf3/iperf3_proto.h"

#include <string.h>

struct cur {
	const char *s;
	size_t n, i;
};

static void ws(struct cur *c)
{
	while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' ||
			       c->s[c->i] == '\n' || c->s[c->i] == '\r'))
		c->i++;
}

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

static bool is_hex(char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* At the opening quote; leaves the cursor after the closing one. */
static bool scan_string(struct cur *c)
{
	c->i++;
	while (c->i < c->n) {
		unsigned char ch = (unsigned char)c->s[c->i++];

		if (ch == '"')
			return true;
		if (ch < 0x20)
			return false;
		if (ch != '\\')
			continue;
		if (c->i >= c->n)
			return false;
		ch = (unsigned char)c->s[c->i++];
		if (ch == 'u') {
			if (c->n - c->i < 4)
				return false;
			for (int k = 0; k < 4; k++)
				if (!is_hex(c->s[c->i++]))
					return false;
		} else if (!strchr("\"\\/bfnrt", ch) || ch == 0) {
			return false;
		}
	}
	return false;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool scan_number(struct cur *c)
{
	if (c->i < c->n && c->s[c->i] == '-')
		c->i++;
	if (c->i >= c->n || !is_digit(c->s[c->i]))
		return false;
	if (c->s[c->i] == '0')
		c->i++;
	else
		while (c->i < c->n && is_digit(c->s[c->i]))
			c->i++;
	if (c->i < c->n && c->s[c->i] == '.') {
		c->i++;
		if (c->i >= c->n || !is_digit(c->s[c->i]))
			return false;
		while (c->i < c->n && is_digit(c->s[c->i]))
			c->i++;
	}
	if (c->i < c->n && (c->s[c->i] == 'e' || c->s[c->i] == 'E')) {
		c->i++;
		if (c->i < c->n && (c->s[c->i] == '+' || c->s[c->i] == '-'))
			c->i++;
		if (c->i >= c->n || !is_digit(c->s[c->i]))
			return false;
		while (c->i < c->n && is_digit(c->s[c->i]))
			c->i++;
	}
	return true;
}

static bool scan_word(struct cur *c, const char *w)
{
	size_t k = strlen(w);

	if (c->n - c->i < k || memcmp(c->s + c->i, w, k))
		return false;
	c->i += k;
	return true;
}

static bool scan_value(struct cur *c, int depth, struct ip3j_val *v);

/* At '{' or '['; leaves the cursor after the closing bracket. */
static bool scan_container(struct cur *c, int depth, bool obj)
{
	char close = obj ? '}' : ']';

	if (depth >= IP3J_MAX_DEPTH)
		return false;
	c->i++;
	ws(c);
	if (c->i < c->n && c->s[c->i] == close) {
		c->i++;
		return true;
	}
	for (;;) {
		if (obj) {
			if (c->i >= c->n || c->s[c->i] != '"' || !scan_string(c))
				return false;
			ws(c);
			if (c->i >= c->n || c->s[c->i] != ':')
				return false;
			c->i++;
			ws(c);
		}
		if (!scan_value(c, depth + 1, NULL))
			return false;
		ws(c);
		if (c->i >= c->n)
			return false;
		if (c->s[c->i] == close) {
			c->i++;
			return true;
		}
		if (c->s[c->i] != ',')
			return false;
		c->i++;
		ws(c);
	}
}

/* At the first byte of a value (no whitespace before it). */
static bool scan_value(struct cur *c, int depth, struct ip3j_val *v)
{
	size_t start = c->i;
	enum ip3j_type t;
	bool ok;

	if (c->i >= c->n)
		return false;
	switch (c->s[c->i]) {
	case '{':
		t = IP3J_OBJ;
		ok = scan_container(c, depth, true);
		break;
	case '[':
		t = IP3J_ARR;
		ok = scan_container(c, depth, false);
		break;
	case '"':
		t = IP3J_STR;
		ok = scan_string(c);
		break;
	case 't':
		t = IP3J_BOOL;
		ok = scan_word(c, "true");
		break;
	case 'f':
		t = IP3J_BOOL;
		ok = scan_word(c, "false");
		break;
	case 'n':
		t = IP3J_NULL;
		ok = scan_word(c, "null");
		break;
	default:
		t = IP3J_NUM;
		ok = scan_number(c);
		break;
	}
	if (ok && v) {
		v->type = t;
		v->p = c->s + start;
		v->n = c->i - start;
		if (t == IP3J_STR) {
			v->p++;
			v->n -= 2;
		}
	}
	return ok;
}

bool ip3j_valid(const char *s, size_t n)
{
	struct cur c = {.s = s, .n = n};

	if (!s)
		return false;
	ws(&c);
	if (!scan_value(&c, 0, NULL))
		return false;
	ws(&c);
	return c.i == c.n;
}

bool ip3j_member(const char *s, size_t n, const char *key, struct ip3j_val *out)
{
	struct cur c = {.s = s, .n = n};
	size_t klen = strlen(key);

	ws(&c);
	if (c.i >= c.n || s[c.i] != '{')
		return false;
	c.i++;
	ws(&c);
	while (c.i < c.n && s[c.i] == '"') {
		size_t name = c.i + 1;
		struct ip3j_val v;

		if (!scan_string(&c))
			return false;
		bool match = c.i - 1 - name == klen && !memcmp(s + name, key, klen);
		ws(&c);
		if (c.i >= c.n || s[c.i] != ':')
			return false;
		c.i++;
		ws(&c);
		if (!scan_value(&c, 1, &v))
			return false;
		if (match) {
			*out = v;
			return true;
		}
		ws(&c);
		if (c.i >= c.n || s[c.i] != ',')
			return false;
		c.i++;
		ws(&c);
	}
	return false;
}

bool ip3j_int(const struct ip3j_val *v, int64_t *out)
{
	uint64_t x = 0;
	size_t i = 0;
	bool neg = false;

	if (v->type != IP3J_NUM || !v->n)
		return false;
	if (v->p[0] == '-') {
		neg = true;
		i++;
	}
	for (; i < v->n && is_digit(v->p[i]); i++) {
		if (x > (UINT64_C(1) << 63) / 10)
			return false;
		x = x * 10 + (uint64_t)(v->p[i] - '0');
		if (x > (uint64_t)INT64_MAX)
			return false;
	}
	if (i < v->n && v->p[i] == '.')
		for (i++; i < v->n && is_digit(v->p[i]); i++)
			;
	if (i != v->n)
		return false;
	*out = neg ? -(int64_t)x : (int64_t)x;
	return true;
}

bool ip3j_truthy(const struct ip3j_val *v)
{
	int64_t x;

	if (v->type == IP3J_BOOL)
		return v->p[0] == 't';
	return v->type == IP3J_NUM && ip3j_int(v, &x) && x != 0;
}

/* --- the messages ------------------------------------------------------------- */
static bool is_object(const char *s, size_t n)
{
	struct cur c = {.s = s, .n = n};

	ws(&c);
	return ip3j_valid(s, n) && s[c.i] == '{';
}

/* Reads member key as an integer in [lo, hi] into *out; an absent member
 * leaves *out alone.  Returns 0, IPERF3_E_RECVPARAMS for a non-integer, or
 * range_err. */
static int get_int(const char *s, size_t n, const char *key, int64_t lo, int64_t hi,
		   int range_err, int64_t *out)
{
	struct ip3j_val v;
	int64_t x;

	if (!ip3j_member(s, n, key, &v))
		return 0;
	if (!ip3j_int(&v, &x))
		return IPERF3_E_RECVPARAMS;
	if (x < lo || x > hi)
		return range_err;
	*out = x;
	return 0;
}

/* iperf3 sends its flags ("reverse": true) only when they are set; the
 * server treats presence as set.  Presence with false is read as unset. */
static bool get_flag(const char *s, size_t n, const char *key)
{
	struct ip3j_val v;

	return ip3j_member(s, n, key, &v) && (v.type == IP3J_BOOL ? ip3j_truthy(&v) : true);
}

int iperf3_params_parse(const char *s, size_t n, struct iperf3_params *p)
{
	int64_t time = 10, omit = 0, par = 1, len = 128 * 1024, num = 0, blocks = 0;
	int rc;

	memset(p, 0, sizeof *p);
	if (!is_object(s, n))
		return IPERF3_E_RECVPARAMS;
	if ((rc = get_int(s, n, "time", 0, 86400, IPERF3_E_DURATION, &time)) ||
	    (rc = get_int(s, n, "omit", 0, 600, IPERF3_E_OMIT, &omit)) ||
	    (rc = get_int(s, n, "parallel", 1, IPERF3_MAX_STREAMS, IPERF3_E_NUMSTREAMS, &par)) ||
	    (rc = get_int(s, n, "len", 1, 1 << 20, IPERF3_E_BLOCKSIZE, &len)) ||
	    (rc = get_int(s, n, "num", 0, INT64_MAX, IPERF3_E_RECVPARAMS, &num)) ||
	    (rc = get_int(s, n, "blockcount", 0, INT64_MAX, IPERF3_E_RECVPARAMS, &blocks)))
		return rc;
	p->time = (uint32_t)time;
	p->omit = (uint32_t)omit;
	p->parallel = (uint32_t)par;
	p->len = (uint32_t)len;
	p->num = (uint64_t)num;
	p->blockcount = (uint64_t)blocks;
	p->udp = get_flag(s, n, "udp");
	p->sctp = get_flag(s, n, "sctp");
	p->reverse = get_flag(s, n, "reverse");
	p->bidir = get_flag(s, n, "bidirectional");
	p->get_server_output = get_flag(s, n, "get_server_output");
	return 0;
}

bool iperf3_results_check(const char *s, size_t n)
{
	struct ip3j_val v;

	return is_object(s, n) && ip3j_member(s, n, "streams", &v) && v.type == IP3J_ARR;
}

bool iperf3_cookie_ok(const uint8_t c[IPERF3_COOKIE_SIZE])
{
	for (int i = 0; i < IPERF3_COOKIE_SIZE - 1; i++)
		if (c[i] < 0x21 || c[i] > 0x7e)
			return false;
	return c[IPERF3_COOKIE_SIZE - 1] == 0;
}
