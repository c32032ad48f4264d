/*
 * graph.c - node registry, counters, the drop node, trace, DOT, and the
 * netgraph module with the link layer's events.
 */
#include "netgraph/graph.h"

#include "kernel/exec/exec.h"
#include "kernel/sal/sal.h"
#include "netgraph/pkt.h"
#include "netgraph/iface.h"
#include "netgraph/ng_internal.h"

/* --- the netgraph module and the link layer ------------------------------- */
static int ng_mod_init(const char *args)
{
	(void)args;
	return ng_graph_init() == NG_OK ? 0 : -1;
}

static void ng_mod_fini(void)
{
	ng_graph_fini();
}

static struct disp_event *const ng_events[] = {
	&Link_PacketArrived_event, &Link_SendPacket_event, NULL,
};

static const struct spin_interface ng_iface_netgraph = {
	.name = "netgraph",
	.version = SPIN_VERSION(1, 0),
	.events = ng_events,
};

static const struct spin_interface *const ng_exports[] = {&ng_iface_netgraph, NULL};

SPIN_MODULE(ng_module,
	    .name = "netgraph",
	    .version = SPIN_VERSION(1, 0),
	    .exports = ng_exports,
	    .init = ng_mod_init,
	    .fini = ng_mod_fini,
	    .doc = "packet graph: link layer, drop node, counters, trace");

NG_PKT_EVENT_DEFINE(Link_PacketArrived, ng_link_node, .owner = &ng_module,
		    .doc = "a frame arrived on an interface (data start: L2 header)");
NG_PKT_EVENT_DEFINE(Link_SendPacket, ng_link_node, .owner = &ng_module,
		    .doc = "send a frame on interface p->ifindex (data start: L2 header)");

static const char *const link_drop_names[] = {
#define NG_DROP_X(id, name, text) name,
#include "netgraph/link_drop.def"
#undef NG_DROP_X
};

NG_NODE(ng_link_node,
	.name = "link",
	.module = &ng_module,
	.arrived = &Link_PacketArrived_event,
	.send = &Link_SendPacket_event,
	.drop_names = link_drop_names,
	.ndrops = NG_ARRAY_LEN(link_drop_names),
	.doc = "interfaces: frames in from drivers, out to their xmit");

NG_NODE(ng_drop_node,
	.name = "drop",
	.module = &ng_module,
	.doc = "every dropped packet ends here, counted by reason on its node");

static const char *const common_drop_names[] = {
#define NG_DROP_X(id, name, text) name,
#include "netgraph/ng_drop_common.def"
#undef NG_DROP_X
};

const void *ng_pkt_subject(const void *arg0, size_t *len)
{
	const struct pkt *p = arg0;
	*len = pkt_headlen(p);
	return pkt_data(p);
}

/* --- registry (control path) ---------------------------------------------------- */
static atomic_flag reg_lock = ATOMIC_FLAG_INIT;
static const struct ng_node *reg_head, *reg_tail;
static struct disp_binding *link_send_binding;
static bool graph_up;

static void reg_acquire(void)
{
	while (atomic_flag_test_and_set_explicit(&reg_lock, memory_order_acquire))
		sal_cpu_relax();
}

static void reg_release(void)
{
	atomic_flag_clear_explicit(&reg_lock, memory_order_release);
}

static const struct ng_node *find_locked(const char *name)
{
	for (const struct ng_node *n = reg_head; n; n = n->state->next)
		if (strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

int ng_node_register(const struct ng_node *n)
{
	if (!n || !n->name || !n->state || NG_DROP_COMMON + n->ndrops > NG_MAX_REASONS ||
	    (n->ndrops && !n->drop_names))
		return NG_EINVAL;
	int err = NG_OK;
	reg_acquire();
	if (n->state->registered) {
		err = NG_OK;
	} else if (find_locked(n->name)) {
		err = NG_EEXIST;
	} else {
		n->state->registered = true;
		n->state->next = NULL;
		if (reg_tail)
			reg_tail->state->next = n;
		else
			reg_head = n;
		reg_tail = n;
	}
	reg_release();
	return err;
}

void ng_node_unregister(const struct ng_node *n)
{
	reg_acquire();
	const struct ng_node *prev = NULL;
	for (const struct ng_node *c = reg_head; c; prev = c, c = c->state->next) {
		if (c != n)
			continue;
		if (prev)
			prev->state->next = c->state->next;
		else
			reg_head = c->state->next;
		if (reg_tail == c)
			reg_tail = prev;
		c->state->registered = false;
		c->state->next = NULL;
		break;
	}
	reg_release();
}

const struct ng_node *ng_node_find(const char *name)
{
	reg_acquire();
	const struct ng_node *n = find_locked(name);
	reg_release();
	return n;
}

unsigned ng_node_count(void)
{
	unsigned c = 0;
	reg_acquire();
	for (const struct ng_node *n = reg_head; n; n = n->state->next)
		c++;
	reg_release();
	return c;
}

const struct ng_node *ng_node_at(unsigned i)
{
	reg_acquire();
	const struct ng_node *n = reg_head;
	while (n && i--)
		n = n->state->next;
	reg_release();
	return n;
}

extern const struct ng_node *const __start_spin_ng_nodes[] __attribute__((weak));
extern const struct ng_node *const __stop_spin_ng_nodes[] __attribute__((weak));

int ng_graph_init(void)
{
	for (const struct ng_node *const *p = __start_spin_ng_nodes;
	     p && p < __stop_spin_ng_nodes; p++) {
		int e = ng_node_register(*p);
		if (e != NG_OK) {
			sal_log(SAL_LOG_ERR, "netgraph: node %s not registered (%d)",
				(*p)->name, e);
			return e;
		}
	}
	if (graph_up)
		return NG_OK;
	/* A run loop's thread gives back its buffer caches and counter slot. */
	exec_on_detach(pkt_pools_thread_exit);
	exec_on_detach(ng_thread_exit);
	struct Link_SendPacket_spec spec = {
		.handler = ng_link_send,
		.desc = "xmit",
	};
	int e = Link_SendPacket_install(&ng_module, &spec, &link_send_binding);
	if (e != DISP_OK) {
		sal_log(SAL_LOG_ERR, "netgraph: cannot install the link send handler: %s",
			disp_strerror(e));
		return NG_EINVAL;
	}
	graph_up = true;
	return NG_OK;
}

void ng_graph_fini(void)
{
	if (!graph_up)
		return;
	disp_uninstall(link_send_binding);
	link_send_binding = NULL;
	graph_up = false;
}

const char *ng_drop_name(const struct ng_node *n, unsigned reason)
{
	if (reason < NG_DROP_COMMON)
		return common_drop_names[reason];
	if (n && reason - NG_DROP_COMMON < n->ndrops)
		return n->drop_names[reason - NG_DROP_COMMON];
	return "other";
}

/* --- per-thread state ------------------------------------------------------------- */
struct ng_thread {
	int slot;                   /* -2 not asked; NG_MAX_THREADS: shared */
	unsigned depth;
	uint64_t last;              /* cycle counter at the last mark; 0: none */
	const struct ng_node *stack[NG_STACK_MAX];
};

static _Thread_local struct ng_thread self = {.slot = -2};
static _Atomic uint32_t slot_map;
static _Atomic bool timing_on;
static _Atomic int trace_mode;

struct ng_trace_ring {
	uint64_t n;                 /* records ever written */
	struct ng_trace_rec rec[NG_TRACE_LEN];
};
static struct ng_trace_ring rings[NG_MAX_THREADS];

static int thread_slot(void)
{
	int s = self.slot;
	if (__builtin_expect(s != -2, 1))
		return s;
	uint32_t m = atomic_load_explicit(&slot_map, memory_order_relaxed);
	for (;;) {
		if ((~m & ((1u << NG_MAX_THREADS) - 1)) == 0) {
			self.slot = NG_MAX_THREADS;
			return NG_MAX_THREADS;
		}
		int bit = __builtin_ctz(~m);
		if (atomic_compare_exchange_weak_explicit(&slot_map, &m, m | (1u << bit),
							  memory_order_acq_rel,
							  memory_order_relaxed)) {
			self.slot = bit;
			return bit;
		}
	}
}

void ng_thread_exit(void)
{
	if (self.slot >= 0 && self.slot < NG_MAX_THREADS)
		atomic_fetch_and_explicit(&slot_map, ~(1u << self.slot), memory_order_release);
	self.slot = -2;
	self.depth = 0;
	self.last = 0;
}

/* Adds v to a counter of the calling thread's slot: a plain load and store
 * (nobody else writes it), or an atomic add in the shared slot. */
static inline void cadd(_Atomic uint64_t *c, uint64_t v, int slot)
{
	if (__builtin_expect(slot < NG_MAX_THREADS, 1))
		atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
				      memory_order_relaxed);
	else
		atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

void ng_timing_set(bool on)
{
	atomic_store_explicit(&timing_on, on, memory_order_relaxed);
}

bool ng_timing_enabled(void)
{
	return atomic_load_explicit(&timing_on, memory_order_relaxed);
}

/* --- trace ------------------------------------------------------------------------- */
void ng_trace_set(enum ng_trace_mode m)
{
	atomic_store_explicit(&trace_mode, (int)m, memory_order_relaxed);
}

enum ng_trace_mode ng_trace_mode(void)
{
	return (enum ng_trace_mode)atomic_load_explicit(&trace_mode, memory_order_relaxed);
}

static inline bool trace_covers(const struct pkt *p)
{
	int m = atomic_load_explicit(&trace_mode, memory_order_relaxed);
	if (__builtin_expect(m == NG_TRACE_OFF, 1))
		return false;
	return m == NG_TRACE_ALL || (p->flags & PKT_F_TRACE);
}

static void trace_put(const struct ng_node *n, const char *event, const struct pkt *p,
		      unsigned reason)
{
	int s = thread_slot();
	if (s >= NG_MAX_THREADS)
		return;
	struct ng_trace_ring *r = &rings[s];
	struct ng_trace_rec *rec = &r->rec[r->n % NG_TRACE_LEN];
	rec->id = p->id;
	rec->tsc = sal_tsc();
	rec->node = n;
	rec->event = event;
	rec->len = pkt_len(p);
	rec->reason = (uint16_t)reason;
	rec->thread = (uint16_t)s;
	r->n++;
}

void ng_trace(const struct ng_node *n, const char *event, const struct pkt *p)
{
	if (p && trace_covers(p))
		trace_put(n, event, p, 0);
}

void ng_trace_clear(void)
{
	for (int s = 0; s < NG_MAX_THREADS; s++)
		rings[s].n = 0;
}

unsigned ng_trace_read(struct ng_trace_rec *out, unsigned max)
{
	/* A k-way merge by cycle counter over the rings, oldest first. */
	uint64_t pos[NG_MAX_THREADS], end[NG_MAX_THREADS];
	for (int s = 0; s < NG_MAX_THREADS; s++) {
		end[s] = rings[s].n;
		pos[s] = end[s] > NG_TRACE_LEN ? end[s] - NG_TRACE_LEN : 0;
	}
	unsigned got = 0;
	while (got < max) {
		int best = -1;
		for (int s = 0; s < NG_MAX_THREADS; s++) {
			if (pos[s] >= end[s])
				continue;
			if (best < 0 || rings[s].rec[pos[s] % NG_TRACE_LEN].tsc <
					    rings[best].rec[pos[best] % NG_TRACE_LEN].tsc)
				best = s;
		}
		if (best < 0)
			break;
		out[got++] = rings[best].rec[pos[best] % NG_TRACE_LEN];
		pos[best]++;
	}
	return got;
}

/* A bounded text buffer that keeps counting past its end, as snprintf. */
struct sbuf {
	char *buf;
	size_t size, len;
};

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t room = b->len < b->size ? b->size - b->len : 0;
	int n = sal_vsnprintf(room ? b->buf + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->len += (size_t)n;
}

static int sb_done(struct sbuf *b)
{
	if (b->size)
		b->buf[b->len < b->size ? b->len : b->size - 1] = '\0';
	return (int)b->len;
}

int ng_trace_dump(char *buf, size_t size)
{
	struct sbuf b = {buf, size, 0};
	static struct ng_trace_rec recs[NG_MAX_THREADS * NG_TRACE_LEN];
	unsigned n = ng_trace_read(recs, NG_ARRAY_LEN(recs));
	uint64_t t0 = n ? recs[0].tsc : 0;
	for (unsigned i = 0; i < n; i++) {
		const struct ng_trace_rec *r = &recs[i];
		sb_printf(&b, "%10llu ns  t%u  id %#llx  %-8s %-5s len %u",
			  (unsigned long long)sal_tsc_to_ns(r->tsc - t0), r->thread,
			  (unsigned long long)r->id, r->node ? r->node->name : "?",
			  r->event ? r->event : "?", r->len);
		if (r->event && strcmp(r->event, "drop") == 0)
			sb_printf(&b, "  reason %s", ng_drop_name(r->node, r->reason));
		sb_printf(&b, "\n");
	}
	return sb_done(&b);
}

/* --- the packet path ---------------------------------------------------------------- */
static inline const struct ng_node *stack_top(const struct ng_thread *t)
{
	return t->depth && t->depth <= NG_STACK_MAX ? t->stack[t->depth - 1] : NULL;
}

static inline void charge(const struct ng_node *n, uint64_t cycles, int slot)
{
	if (n)
		cadd(&n->state->slot[slot].cycles, cycles, slot);
}

static inline void enter(const struct ng_node *n, uint32_t npkts, uint64_t nbytes)
{
	struct ng_thread *t = &self;
	int s = thread_slot();
	struct ng_pcount *c = &n->state->slot[s];
	cadd(&c->calls, 1, s);
	cadd(&c->packets, npkts, s);
	cadd(&c->bytes, nbytes, s);
	if (atomic_load_explicit(&timing_on, memory_order_relaxed)) {
		uint64_t now = sal_tsc();
		if (t->last)
			charge(stack_top(t), now - t->last, s);
		t->last = now;
		cadd(&c->timed, npkts, s);
	} else {
		t->last = 0;
	}
	if (t->depth < NG_STACK_MAX)
		t->stack[t->depth] = n;
	t->depth++;
}

void ng_enter(const struct ng_node *n, const struct pkt *p)
{
	enter(n, 1, pkt_len(p));
	if (__builtin_expect(trace_covers(p), 0))
		trace_put(n, "rx", p, 0);
}

void ng_enter_tx(const struct ng_node *n, const struct pkt *p)
{
	enter(n, 1, pkt_len(p));
	if (__builtin_expect(trace_covers(p), 0))
		trace_put(n, "tx", p, 0);
}

void ng_enter_batch(const struct ng_node *n, uint32_t npkts, uint64_t nbytes)
{
	enter(n, npkts, nbytes);
}

void ng_leave(const struct ng_node *n)
{
	struct ng_thread *t = &self;
	if (!t->depth) {
		SAL_LOG_ONCE(SAL_LOG_ERR, "netgraph: ng_leave(%s) without ng_enter", n->name);
		return;
	}
	if (t->depth <= NG_STACK_MAX && t->stack[t->depth - 1] != n)
		SAL_LOG_ONCE(SAL_LOG_ERR, "netgraph: ng_leave(%s) closes %s's bracket", n->name,
			     t->stack[t->depth - 1]->name);
	if (atomic_load_explicit(&timing_on, memory_order_relaxed)) {
		uint64_t now = sal_tsc();
		if (t->last)
			charge(stack_top(t), now - t->last, thread_slot());
		t->last = now;
	}
	t->depth--;
}

void ng_drop(struct pkt **pp, const struct ng_node *n, unsigned reason)
{
	struct pkt *p = *pp;
	if (!p)
		return;
	*pp = NULL;
	if (!n)
		n = &ng_drop_node;
	int s = thread_slot();
	unsigned r = reason < NG_MAX_REASONS ? reason : NG_MAX_REASONS - 1;
	struct ng_pcount *c = &n->state->slot[s];
	cadd(&c->drops, 1, s);
	cadd(&c->reason[r], 1, s);
	/* The drop node counts every drop; by reason only the common ones
	 * mean the same on every node. */
	struct ng_pcount *d = &ng_drop_node.state->slot[s];
	cadd(&d->calls, 1, s);
	cadd(&d->packets, 1, s);
	cadd(&d->bytes, pkt_len(p), s);
	cadd(&d->reason[reason < NG_DROP_COMMON ? reason : NG_MAX_REASONS - 1], 1, s);
	p->drop_reason = reason;
	if (__builtin_expect(trace_covers(p), 0))
		trace_put(n, "drop", p, reason);
	pkt_free(p);
}

/* --- counters --------------------------------------------------------------------------- */
static const char *const msg_names[] = {
	[NG_MSG_GETSTATS] = "getstats",
	[NG_MSG_CLRSTATS] = "clrstats",
	[NG_MSG_GETCLRSTATS] = "getclrstats",
};

const char *ng_msg_name(enum ng_msg m)
{
	return (unsigned)m < NG_ARRAY_LEN(msg_names) && msg_names[m] ? msg_names[m] : "?";
}

int ng_msg_parse(const char *name, enum ng_msg *out)
{
	for (unsigned m = 1; m < NG_ARRAY_LEN(msg_names); m++) {
		if (strcmp(name, msg_names[m]) == 0) {
			*out = (enum ng_msg)m;
			return NG_OK;
		}
	}
	return NG_EINVAL;
}

static inline uint64_t ld(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* Totals over every slot, raw (before the baseline). */
static void totals(const struct ng_node *n, struct ng_pcount *t)
{
	uint64_t v[6 + NG_MAX_REASONS] = {0};
	for (int s = 0; s <= NG_MAX_THREADS; s++) {
		const struct ng_pcount *c = &n->state->slot[s];
		v[0] += ld(&c->calls);
		v[1] += ld(&c->packets);
		v[2] += ld(&c->bytes);
		v[3] += ld(&c->drops);
		v[4] += ld(&c->timed);
		v[5] += ld(&c->cycles);
		for (int r = 0; r < NG_MAX_REASONS; r++)
			v[6 + r] += ld(&c->reason[r]);
	}
	atomic_store_explicit(&t->calls, v[0], memory_order_relaxed);
	atomic_store_explicit(&t->packets, v[1], memory_order_relaxed);
	atomic_store_explicit(&t->bytes, v[2], memory_order_relaxed);
	atomic_store_explicit(&t->drops, v[3], memory_order_relaxed);
	atomic_store_explicit(&t->timed, v[4], memory_order_relaxed);
	atomic_store_explicit(&t->cycles, v[5], memory_order_relaxed);
	for (int r = 0; r < NG_MAX_REASONS; r++)
		atomic_store_explicit(&t->reason[r], v[6 + r], memory_order_relaxed);
}

static atomic_flag ctl_lock = ATOMIC_FLAG_INIT;

int ng_node_msg(const struct ng_node *n, enum ng_msg m, struct ng_stats *out)
{
	if (!n || !n->state || m < NG_MSG_GETSTATS || m > NG_MSG_GETCLRSTATS)
		return NG_EINVAL;
	if (m != NG_MSG_CLRSTATS && !out)
		return NG_EINVAL;
	while (atomic_flag_test_and_set_explicit(&ctl_lock, memory_order_acquire))
		sal_cpu_relax();
	struct ng_pcount t;
	totals(n, &t);
	struct ng_pcount *b = &n->state->base;
	if (out) {
		memset(out, 0, sizeof(*out));
		out->calls = ld(&t.calls) - ld(&b->calls);
		out->packets = ld(&t.packets) - ld(&b->packets);
		out->bytes = ld(&t.bytes) - ld(&b->bytes);
		out->drops = ld(&t.drops) - ld(&b->drops);
		out->timed = ld(&t.timed) - ld(&b->timed);
		out->ns = sal_tsc_to_ns(ld(&t.cycles) - ld(&b->cycles));
		out->ns_per_pkt = out->timed ? out->ns / out->timed : 0;
		for (int r = 0; r < NG_MAX_REASONS; r++)
			out->reason[r] = ld(&t.reason[r]) - ld(&b->reason[r]);
		out->nreasons = NG_DROP_COMMON + n->ndrops;
	}
	if (m != NG_MSG_GETSTATS)
		memcpy(b, &t, sizeof(t));
	atomic_flag_clear_explicit(&ctl_lock, memory_order_release);
	return NG_OK;
}

int ng_msg_send(const char *node, const char *msg, struct ng_stats *out)
{
	enum ng_msg m;
	if (ng_msg_parse(msg, &m) != NG_OK)
		return NG_EINVAL;
	const struct ng_node *n = ng_node_find(node);
	if (!n)
		return NG_ENOENT;
	return ng_node_msg(n, m, out);
}

static void format_stats(struct sbuf *b, const struct ng_node *n, const struct ng_stats *st)
{
	sb_printf(b, "%s: calls %llu packets %llu bytes %llu drops %llu", n->name,
		  (unsigned long long)st->calls, (unsigned long long)st->packets,
		  (unsigned long long)st->bytes, (unsigned long long)st->drops);
	if (st->timed)
		sb_printf(b, " ns/pkt %llu", (unsigned long long)st->ns_per_pkt);
	sb_printf(b, "\n");
	for (unsigned r = 0; r < NG_MAX_REASONS; r++)
		if (st->reason[r])
			sb_printf(b, "  drop %s %llu\n", ng_drop_name(n, r),
				  (unsigned long long)st->reason[r]);
}

int ng_stats_format(const struct ng_node *n, const struct ng_stats *st, char *buf, size_t size)
{
	struct sbuf b = {buf, size, 0};
	format_stats(&b, n, st);
	return sb_done(&b);
}

int ng_stats_format_all(char *buf, size_t size)
{
	struct sbuf b = {buf, size, 0};
	struct ng_stats st;
	for (unsigned i = 0;; i++) {
		const struct ng_node *n = ng_node_at(i);
		if (!n)
			break;
		if (ng_node_msg(n, NG_MSG_GETSTATS, &st) == NG_OK)
			format_stats(&b, n, &st);
	}
	return sb_done(&b);
}

/* --- DOT ---------------------------------------------------------------------------------- */
/* Writes s with the characters DOT cares about escaped. */
static void sb_dot_str(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sb_printf(b, "\\%c", *s);
		else if (*s == '\n')
			sb_printf(b, "\\n");
		else
			sb_printf(b, "%c", *s);
	}
}

/* The first registered node of module m: the node an installer stands for. */
static const struct ng_node *node_of_module(spin_ident_t m)
{
	for (unsigned i = 0;; i++) {
		const struct ng_node *n = ng_node_at(i);
		if (!n || n->module == m)
			return n;
	}
}

static void dot_edges(struct sbuf *b, const struct ng_node *n, struct disp_event *ev, bool send)
{
	enum { MAXB = 64 };
	struct disp_binding_info info[MAXB];
	int nb = disp_list(ev, info, MAXB);
	if (nb > MAXB) {
		sb_printf(b, "  // %s: %d bindings, first %d shown\n", disp_event_name(ev), nb, MAXB);
		nb = MAXB;
	}
	for (int i = 0; i < nb; i++) {
		const struct ng_node *to = node_of_module(info[i].installer);
		/* The defining node's own primary handler is the node itself,
		 * not an edge. */
		if (to == n && info[i].primary)
			continue;
		char guard[256];
		disp_guard_format(info[i].binding, guard, sizeof(guard));
		sb_printf(b, "  \"%s\" -> \"", n->name);
		if (to)
			sb_dot_str(b, to->name);
		else
			sb_dot_str(b, spin_ident_name(info[i].installer));
		sb_printf(b, "\" [label=\"%s", disp_event_name(ev));
		if (strcmp(guard, "true") != 0) {
			sb_printf(b, "\\n");
			sb_dot_str(b, guard);
		}
		if (info[i].desc) {
			sb_printf(b, "\\n(");
			sb_dot_str(b, info[i].desc);
			sb_printf(b, ")");
		}
		sb_printf(b, "\"%s];\n", send ? ", style=dashed" : "");
		if (!to) {
			sb_printf(b, "  \"");
			sb_dot_str(b, spin_ident_name(info[i].installer));
			sb_printf(b, "\" [shape=ellipse];\n");
		}
	}
}

int ng_graph_dot(char *buf, size_t size)
{
	struct sbuf b = {buf, size, 0};
	struct ng_stats st;
	sb_printf(&b, "digraph spin {\n  rankdir=BT;\n  node [shape=box, fontname=\"monospace\"];\n");
	for (unsigned i = 0;; i++) {
		const struct ng_node *n = ng_node_at(i);
		if (!n)
			break;
		ng_node_msg(n, NG_MSG_GETSTATS, &st);
		sb_printf(&b, "  \"");
		sb_dot_str(&b, n->name);
		sb_printf(&b, "\" [label=\"");
		sb_dot_str(&b, n->name);
		sb_printf(&b, "\\n%llu pkts, %llu drops", (unsigned long long)st.packets,
			  (unsigned long long)st.drops);
		if (st.timed)
			sb_printf(&b, "\\n%llu ns/pkt", (unsigned long long)st.ns_per_pkt);
		sb_printf(&b, "\"];\n");
	}
	for (unsigned i = 0;; i++) {
		const struct ng_node *n = ng_node_at(i);
		if (!n)
			break;
		if (n->arrived)
			dot_edges(&b, n, n->arrived, false);
		if (n->send && n->send != n->arrived)
			dot_edges(&b, n, n->send, true);
	}
	sb_printf(&b, "}\n");
	return sb_done(&b);
}
