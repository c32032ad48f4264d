/*
 * fault_ctl.c - the text form of a fault configuration: fault_parse and
 * fault_format (the grammar is in fault.h).  Control path only.
 */
#include "kernel/sal/sal.h"
#include "netgraph/fault/fault.h"

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* A decimal number with up to 6 fraction digits, as millionths. */
static bool parse_micro(const char **sp, uint64_t *out)
{
	const char *s = *sp;
	uint64_t whole = 0, frac = 0, scale = 1000000;
	if (!is_digit(*s) && *s != '.')
		return false;
	while (is_digit(*s)) {
		whole = whole * 10 + (uint64_t)(*s++ - '0');
		if (whole > 1000000000000ull)
			return false;
	}
	if (*s == '.') {
		s++;
		while (is_digit(*s)) {
			if (scale > 1) {
				scale /= 10;
				frac += (uint64_t)(*s - '0') * scale;
			}
			s++;
		}
	}
	*out = whole * 1000000 + frac;
	*sp = s;
	return true;
}

static bool starts(const char *s, const char *word)
{
	return strncmp(s, word, strlen(word)) == 0;
}

/* "1%", "0.5%", "250ppm" -> parts per million. */
static bool parse_rate(const char **sp, uint32_t *ppm)
{
	uint64_t micro;
	if (!parse_micro(sp, &micro))
		return false;
	uint64_t v;
	if (**sp == '%') {
		(*sp)++;
		v = micro / 100;        /* micro-percent -> ppm */
	} else if (starts(*sp, "ppm")) {
		*sp += 3;
		v = micro / 1000000;
	} else {
		return false;
	}
	if (v > FAULT_PPM)
		return false;
	*ppm = (uint32_t)v;
	return true;
}

/* "20ms", "500us", "1s", "1000ns" or a bare count of nanoseconds. */
static bool parse_time(const char **sp, uint64_t *ns)
{
	uint64_t micro;
	if (!parse_micro(sp, &micro))
		return false;
	uint64_t mul = 1;
	if (starts(*sp, "ms")) {
		mul = 1000000;
		*sp += 2;
	} else if (starts(*sp, "us")) {
		mul = 1000;
		*sp += 2;
	} else if (starts(*sp, "ns")) {
		*sp += 2;
	} else if (**sp == 's') {
		mul = 1000000000;
		*sp += 1;
	}
	*ns = micro / 1000000 * mul + (micro % 1000000) * mul / 1000000;
	return true;
}

static bool parse_uint(const char **sp, uint64_t *out)
{
	const char *s = *sp;
	uint64_t v = 0;
	if (!is_digit(*s))
		return false;
	while (is_digit(*s)) {
		uint64_t d = (uint64_t)(*s++ - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*sp = s;
	*out = v;
	return true;
}

static bool at_end(const char *s) { return *s == '\0' || *s == ' ' || *s == '\t'; }

int fault_parse(const char *spec, struct fault_config *c, char *err, size_t errlen)
{
	struct fault_config n = *c;
	const char *s = spec;
	while (*s) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		const char *word = s;
		bool ok = true;
		uint64_t u;
		if (starts(s, "off") && at_end(s + 3)) {
			s += 3;
			n.loss_ppm = n.corrupt_ppm = n.dup_ppm = n.delay_ppm = n.reorder_ppm = 0;
		} else if (starts(s, "loss=")) {
			s += 5;
			ok = parse_rate(&s, &n.loss_ppm);
		} else if (starts(s, "dup=")) {
			s += 4;
			ok = parse_rate(&s, &n.dup_ppm);
		} else if (starts(s, "corrupt=")) {
			s += 8;
			ok = parse_rate(&s, &n.corrupt_ppm);
			if (ok && *s == '@') {
				s++;
				ok = parse_uint(&s, &u) && u <= 65535;
				n.corrupt_off = (uint32_t)u;
			}
		} else if (starts(s, "delay=")) {
			s += 6;
			ok = parse_rate(&s, &n.delay_ppm);
			if (ok && *s == '@') {
				s++;
				ok = parse_time(&s, &n.delay_ns);
			}
		} else if (starts(s, "reorder=")) {
			s += 8;
			ok = parse_rate(&s, &n.reorder_ppm);
			if (ok && *s == '/') {
				s++;
				ok = parse_uint(&s, &u) && u >= 1 && u <= FAULT_QUEUE_MAX;
				n.reorder_gap = (uint32_t)u;
			}
			if (ok && *s == '@') {
				s++;
				ok = parse_time(&s, &n.reorder_max_ns);
			}
		} else if (starts(s, "seed=")) {
			s += 5;
			ok = parse_uint(&s, &n.seed);
		} else {
			ok = false;
		}
		if (!ok || !at_end(s)) {
			int len = 0;
			while (word[len] && word[len] != ' ' && word[len] != '\t')
				len++;
			if (err && errlen)
				sal_snprintf(err, errlen, "fault: bad setting '%.*s'", len, word);
			return FAULT_EINVAL;
		}
	}
	*c = n;
	return FAULT_OK;
}

int fault_format(const struct fault_node *f, char *buf, size_t size)
{
	struct fault_config c;
	struct fault_stats st;
	fault_get(f, &c);
	fault_stats_get(f, &st);
	int len = 0;
#define PUT(...)                                                                \
	do {                                                                    \
		size_t room_ = (size_t)len < size ? size - (size_t)len : 0;     \
		len += sal_snprintf(room_ ? buf + len : NULL, room_, __VA_ARGS__); \
	} while (0)
	/* Rates print as percentages with four decimals: 12500 ppm is 1.2500%. */
#define RATE(ppm) (ppm) / 10000, (ppm) % 10000
	PUT("%s: loss=%u.%04u%% corrupt=%u.%04u%%@%u dup=%u.%04u%% delay=%u.%04u%%@%lluns "
	    "reorder=%u.%04u%%/%u seed=%llu", fault_name(f), RATE(c.loss_ppm),
	    RATE(c.corrupt_ppm), c.corrupt_off, RATE(c.dup_ppm), RATE(c.delay_ppm),
	    (unsigned long long)c.delay_ns, RATE(c.reorder_ppm),
	    c.reorder_gap ? c.reorder_gap : 1, (unsigned long long)c.seed);
	PUT(" | seen=%llu passed=%llu lost=%llu corrupted=%llu duplicated=%llu "
	    "delayed=%llu reordered=%llu queue_full=%llu dup_failed=%llu held=%u\n",
	    (unsigned long long)st.seen, (unsigned long long)st.passed,
	    (unsigned long long)st.lost, (unsigned long long)st.corrupted,
	    (unsigned long long)st.duplicated, (unsigned long long)st.delayed,
	    (unsigned long long)st.reordered, (unsigned long long)st.queue_full,
	    (unsigned long long)st.dup_failed, fault_held(f));
#undef RATE
#undef PUT
	return len;
}
