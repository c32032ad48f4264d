/*
 * fault.c - the fault-injection node (contract in fault.h).
 */
#include "netgraph/fault/fault.h"

#include "kernel/dispatch/dispatch.h"
#include "kernel/exec/exec.h"
#include "kernel/rcu/rcu.h"
#include "kernel/sal/sal.h"
#include "netgraph/iface.h"

/* A published configuration: immutable once visible; gen tells the loop
 * to restart its random sequence. */
struct fault_cfg_box {
	struct fault_config c;
	uint64_t gen;
	struct rcu_head rcu;
};

struct held {
	struct pkt *p;
	uint64_t deadline_ns;
	uint64_t release_at;        /* reorder: f->passed_seq value that frees it */
};

struct ring {
	struct held *v;             /* FAULT_QUEUE_MAX slots */
	uint32_t head, n;
};

struct fault_node {
	char name[FAULT_NAMESIZ];
	struct fault_cfg_box *_Atomic cfg;
	uint64_t next_gen;          /* control side, under the registry mutex */

	/* loop side */
	uint64_t seen_gen;
	uint64_t rng;
	uint64_t passed_seq;        /* packets that went out unheld */
	struct ring delayq, reorderq;
	struct exec_timer timer;
	struct exec_loop *loop;
	fault_out_fn out;
	void *out_ctx;
	enum fault_point point;     /* 0 when not attached */
	uint16_t ifindex;

	_Atomic uint64_t st[9];     /* struct fault_stats, in order */
};

enum { S_SEEN, S_PASSED, S_LOST, S_CORRUPTED, S_DUPLICATED, S_DELAYED, S_REORDERED,
       S_QUEUE_FULL, S_DUP_FAILED };

static inline void count(struct fault_node *f, int i)
{
	atomic_store_explicit(&f->st[i], atomic_load_explicit(&f->st[i], memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static const char *const fault_drop_names[] = {"loss", "queue_full", "flushed", "corrupt_gso"};

SPIN_MODULE(fault_module, .name = "fault", .version = SPIN_VERSION(1, 0),
	    .doc = "fault injection: loss, duplication, reordering, delay, corruption");

NG_NODE(fault_ng_node, .name = "fault", .module = &fault_module,
	.drop_names = fault_drop_names, .ndrops = NG_ARRAY_LEN(fault_drop_names),
	.doc = "fault injection on an edge");

/* --- registry ------------------------------------------------------------------ */
static struct fault_node *fault_nodes[FAULT_MAX_NODES];
static _Atomic(struct sal_mutex *) fault_mu;

static void lock(void)
{
	struct sal_mutex *m = atomic_load(&fault_mu);
	if (!m) {
		struct sal_mutex *n = sal_mutex_new(), *expect = NULL;
		if (atomic_compare_exchange_strong(&fault_mu, &expect, n))
			m = n;
		else {
			sal_mutex_free(n);
			m = expect;
		}
	}
	sal_mutex_lock(m);
}

static void unlock(void)
{
	sal_mutex_unlock(atomic_load(&fault_mu));
}

const char *fault_strerror(int err)
{
	switch (err) {
	case FAULT_OK: return "ok";
	case FAULT_EINVAL: return "invalid fault setting or point";
	case FAULT_EEXIST: return "name taken or already attached";
	case FAULT_ENOMEM: return "out of memory";
	case FAULT_ENOENT: return "not attached";
	case FAULT_EFULL: return "too many fault nodes";
	}
	return "unknown error";
}

static bool config_ok(const struct fault_config *c)
{
	return c->loss_ppm <= FAULT_PPM && c->corrupt_ppm <= FAULT_PPM &&
	       c->dup_ppm <= FAULT_PPM && c->delay_ppm <= FAULT_PPM &&
	       c->reorder_ppm <= FAULT_PPM;
}

static void box_free(struct rcu_head *h)
{
	sal_free((char *)h - offsetof(struct fault_cfg_box, rcu));
}

static void timer_fn(struct exec_timer *t, void *arg);

struct fault_node *fault_new(const char *name, const struct fault_config *c, int *err)
{
	int e = FAULT_OK;
	struct fault_node *f = NULL;
	static const struct fault_config zero;
	if (!c)
		c = &zero;
	if (!name || !name[0] || strlen(name) >= FAULT_NAMESIZ || !config_ok(c)) {
		e = FAULT_EINVAL;
		goto out;
	}
	lock();
	int slot = -1;
	for (int i = 0; i < FAULT_MAX_NODES; i++) {
		if (fault_nodes[i] && strcmp(fault_nodes[i]->name, name) == 0) {
			e = FAULT_EEXIST;
			break;
		}
		if (!fault_nodes[i] && slot < 0)
			slot = i;
	}
	if (e == FAULT_OK && slot < 0)
		e = FAULT_EFULL;
	if (e == FAULT_OK) {
		f = sal_calloc(1, sizeof *f);
		struct fault_cfg_box *box = sal_calloc(1, sizeof *box);
		struct held *dv = sal_calloc(FAULT_QUEUE_MAX, sizeof *dv);
		struct held *rv = sal_calloc(FAULT_QUEUE_MAX, sizeof *rv);
		if (!f || !box || !dv || !rv) {
			sal_free(f);
			sal_free(box);
			sal_free(dv);
			sal_free(rv);
			f = NULL;
			e = FAULT_ENOMEM;
		} else {
			memcpy(f->name, name, strlen(name) + 1);
			box->c = *c;
			box->gen = 1;
			f->next_gen = 2;
			atomic_store(&f->cfg, box);
			f->delayq.v = dv;
			f->reorderq.v = rv;
			exec_timer_init(&f->timer, timer_fn, f);
			fault_nodes[slot] = f;
		}
	}
	unlock();
out:
	if (err)
		*err = e;
	return f;
}

struct fault_node *fault_find(const char *name)
{
	struct fault_node *r = NULL;
	lock();
	for (int i = 0; i < FAULT_MAX_NODES && !r; i++)
		if (fault_nodes[i] && strcmp(fault_nodes[i]->name, name) == 0)
			r = fault_nodes[i];
	unlock();
	return r;
}

unsigned fault_count(void)
{
	unsigned n = 0;
	lock();
	for (int i = 0; i < FAULT_MAX_NODES; i++)
		n += fault_nodes[i] != NULL;
	unlock();
	return n;
}

struct fault_node *fault_at(unsigned k)
{
	struct fault_node *r = NULL;
	lock();
	for (int i = 0; i < FAULT_MAX_NODES && !r; i++)
		if (fault_nodes[i] && k-- == 0)
			r = fault_nodes[i];
	unlock();
	return r;
}

const char *fault_name(const struct fault_node *f)
{
	return f->name;
}

int fault_set(struct fault_node *f, const struct fault_config *c)
{
	if (!config_ok(c))
		return FAULT_EINVAL;
	struct fault_cfg_box *box = sal_calloc(1, sizeof *box);
	if (!box)
		return FAULT_ENOMEM;
	box->c = *c;
	lock();
	box->gen = f->next_gen++;
	struct fault_cfg_box *old = atomic_exchange_explicit(&f->cfg, box, memory_order_acq_rel);
	unlock();
	rcu_call(&old->rcu, box_free);
	return FAULT_OK;
}

void fault_get(const struct fault_node *f, struct fault_config *out)
{
	/* A control-side reader: the box it loads stays valid because
	 * boxes are freed only after a grace period, and this caller is
	 * either an online reader or not racing a second fault_set. */
	*out = atomic_load_explicit(&((struct fault_node *)f)->cfg, memory_order_acquire)->c;
}

void fault_stats_get(const struct fault_node *f, struct fault_stats *out)
{
	uint64_t v[9];
	for (int i = 0; i < 9; i++)
		v[i] = atomic_load_explicit(&((struct fault_node *)f)->st[i], memory_order_relaxed);
	*out = (struct fault_stats){
		.seen = v[S_SEEN], .passed = v[S_PASSED], .lost = v[S_LOST],
		.corrupted = v[S_CORRUPTED], .duplicated = v[S_DUPLICATED],
		.delayed = v[S_DELAYED], .reordered = v[S_REORDERED],
		.queue_full = v[S_QUEUE_FULL], .dup_failed = v[S_DUP_FAILED],
	};
}

void fault_stats_clear(struct fault_node *f)
{
	for (int i = 0; i < 9; i++)
		atomic_store_explicit(&f->st[i], 0, memory_order_relaxed);
}

/* --- the packet path ----------------------------------------------------------------- */
/* splitmix64 (Steele, Lea, Flood 2014): one add and a mix per draw. */
static inline uint64_t draw(struct fault_node *f)
{
	uint64_t z = (f->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* True with probability ppm / FAULT_PPM. */
static inline bool chance(uint64_t r, uint32_t ppm)
{
	return ((r >> 32) * FAULT_PPM >> 32) < ppm;
}

static inline struct held *ring_at(struct ring *r, uint32_t i)
{
	return &r->v[(r->head + i) % FAULT_QUEUE_MAX];
}

static inline struct held ring_pop(struct ring *r)
{
	struct held h = r->v[r->head];
	r->head = (r->head + 1) % FAULT_QUEUE_MAX;
	r->n--;
	return h;
}

static void emit(struct fault_node *f, struct pkt *p)
{
	count(f, S_PASSED);
	f->out(f->out_ctx, p);
}

/* Arms the timer for the earliest deadline among the queue heads. */
static void rearm(struct fault_node *f)
{
	uint64_t when = UINT64_MAX;
	if (f->delayq.n)
		when = ring_at(&f->delayq, 0)->deadline_ns;
	if (f->reorderq.n && ring_at(&f->reorderq, 0)->deadline_ns < when)
		when = ring_at(&f->reorderq, 0)->deadline_ns;
	if (when == UINT64_MAX) {
		exec_timer_cancel(&f->timer);
		return;
	}
	struct exec_loop *l = f->loop ? f->loop : exec_current();
	if (!l) {
		SAL_LOG_ONCE(SAL_LOG_WARN, "fault: no run loop; held packets wait for fault_release");
		return;
	}
	uint64_t now = sal_now_ns();
	exec_timer_arm(l, &f->timer, when > now ? when - now : 0);
}

/* Reordered packets whose overtakers have all gone out follow them. */
static void release_overtaken(struct fault_node *f)
{
	while (f->reorderq.n && ring_at(&f->reorderq, 0)->release_at <= f->passed_seq)
		emit(f, ring_pop(&f->reorderq).p);
}

static void timer_fn(struct exec_timer *t, void *arg)
{
	(void)t;
	struct fault_node *f = arg;
	uint64_t now = sal_now_ns();
	while (f->delayq.n && ring_at(&f->delayq, 0)->deadline_ns <= now) {
		emit(f, ring_pop(&f->delayq).p);
		f->passed_seq++;
		release_overtaken(f);
	}
	while (f->reorderq.n && ring_at(&f->reorderq, 0)->deadline_ns <= now)
		emit(f, ring_pop(&f->reorderq).p);
	rearm(f);
}

static bool hold(struct fault_node *f, struct ring *r, struct pkt *p, uint64_t deadline,
		 uint64_t release_at)
{
	if (r->n == FAULT_QUEUE_MAX) {
		count(f, S_QUEUE_FULL);
		ng_drop(&p, &fault_ng_node, FAULT_DROP_QUEUE_FULL);
		return false;
	}
	*ring_at(r, r->n) = (struct held){p, deadline, release_at};
	r->n++;
	return true;
}

/* Where one packet goes after the loss and corruption decisions. */
static void route(struct fault_node *f, const struct fault_config *c, struct pkt *p,
		  bool delay, bool reorder)
{
	if (delay) {
		count(f, S_DELAYED);
		hold(f, &f->delayq, p, sal_now_ns() + c->delay_ns, 0);
		rearm(f);
	} else if (reorder) {
		count(f, S_REORDERED);
		uint64_t max = c->reorder_max_ns ? c->reorder_max_ns : 100000000ull;
		hold(f, &f->reorderq, p, sal_now_ns() + max,
		     f->passed_seq + (c->reorder_gap ? c->reorder_gap : 1));
		rearm(f);
	} else {
		emit(f, p);
		f->passed_seq++;
		release_overtaken(f);
	}
}

/* False when the packet must be dropped instead (a GSO packet: see
 * fault.h). */
static bool corrupt(struct fault_node *f, const struct fault_config *c, struct pkt **pp,
		    uint64_t r)
{
	uint32_t len = pkt_len(*pp);
	if ((*pp)->gso_type != PKT_GSO_NONE) {
		count(f, S_CORRUPTED);
		return false;
	}
	if (len <= c->corrupt_off || !pkt_unshare(pp))
		return true;
	/* Finished first: a checksum the device computed afterwards would
	 * cover the flipped bit and hide it. */
	if (!pkt_csum_complete(*pp))
		return true;
	uint32_t off = c->corrupt_off + (uint32_t)(r % (len - c->corrupt_off));
	uint8_t b;
	pkt_copy_out(*pp, off, &b, 1);
	b ^= (uint8_t)(1u << ((r >> 40) & 7));
	pkt_copy_in(*pp, off, &b, 1);
	count(f, S_CORRUPTED);
	return true;
}

void fault_input(struct fault_node *f, struct pkt *p)
{
	ng_enter(&fault_ng_node, p);
	count(f, S_SEEN);
	if (!f->loop)
		f->loop = exec_current();
	const struct fault_cfg_box *box = rcu_deref(f->cfg);
	const struct fault_config *c = &box->c;
	if (box->gen != f->seen_gen) {
		f->seen_gen = box->gen;
		f->rng = c->seed;
	}
	uint64_t r_loss = draw(f), r_corrupt = draw(f), r_dup = draw(f), r_delay = draw(f),
		 r_reorder = draw(f);
	if (chance(r_loss, c->loss_ppm)) {
		count(f, S_LOST);
		ng_drop(&p, &fault_ng_node, FAULT_DROP_LOSS);
		goto out;
	}
	if (chance(r_corrupt, c->corrupt_ppm) && !corrupt(f, c, &p, draw(f))) {
		ng_drop(&p, &fault_ng_node, FAULT_DROP_CORRUPT_GSO);
		goto out;
	}
	struct pkt *copy = NULL;
	if (chance(r_dup, c->dup_ppm)) {
		copy = pkt_copy(p, p->pool);
		if (copy)
			count(f, S_DUPLICATED);
		else
			count(f, S_DUP_FAILED);
	}
	bool delay = chance(r_delay, c->delay_ppm), reorder = chance(r_reorder, c->reorder_ppm);
	route(f, c, p, delay, reorder);
	if (copy)
		route(f, c, copy, delay, reorder);
out:
	ng_leave(&fault_ng_node);
}

void fault_release(struct fault_node *f)
{
	exec_timer_cancel(&f->timer);
	while (f->delayq.n)
		emit(f, ring_pop(&f->delayq).p);
	while (f->reorderq.n)
		emit(f, ring_pop(&f->reorderq).p);
}

unsigned fault_held(const struct fault_node *f)
{
	return f->delayq.n + f->reorderq.n;
}

int fault_set_output(struct fault_node *f, fault_out_fn out, void *ctx)
{
	if (f->point)
		return FAULT_EEXIST;
	f->out = out;
	f->out_ctx = ctx;
	return FAULT_OK;
}

/* --- on an event ------------------------------------------------------------------------ */
/* Per point: the node of each interface (0: every interface) and the one
 * binding that feeds them. */
struct point {
	struct fault_node *_Atomic node[NG_IF_MAX + 1];
	struct disp_binding *binding;
	unsigned nattached;
};
static struct point points[3];

static inline struct fault_node *node_for(struct point *pt, uint16_t ifindex)
{
	struct fault_node *f = NULL;
	if (ifindex <= NG_IF_MAX)
		f = atomic_load_explicit(&pt->node[ifindex], memory_order_acquire);
	return f ? f : atomic_load_explicit(&pt->node[0], memory_order_acquire);
}

/* The guard: a packet the node already judged passes by (once). */
static bool point_guard(void *closure, struct pkt *p)
{
	if (p->flags & PKT_F_FAULTED) {
		p->flags &= (uint8_t)~PKT_F_FAULTED;
		return false;
	}
	return node_for(closure, p->ifindex) != NULL;
}

static void point_handler(void *closure, struct pkt *p)
{
	struct fault_node *f = node_for(closure, p->ifindex);
	if (!f) {       /* detached between guard and handler: let it through */
		p->flags |= PKT_F_FAULTED;
		if (closure == &points[FAULT_LINK_RX])
			Link_PacketArrived_raise(p);
		else
			Link_SendPacket_raise(p);
		return;
	}
	fault_input(f, p);
}

static void out_rx(void *ctx, struct pkt *p)
{
	(void)ctx;
	p->flags |= PKT_F_FAULTED;
	Link_PacketArrived_raise(p);
}

static void out_tx(void *ctx, struct pkt *p)
{
	(void)ctx;
	p->flags |= PKT_F_FAULTED;
	Link_SendPacket_raise(p);
}

int fault_attach(struct fault_node *f, enum fault_point at, uint16_t ifindex)
{
	if ((at != FAULT_LINK_RX && at != FAULT_LINK_TX) || ifindex > NG_IF_MAX)
		return FAULT_EINVAL;
	struct point *pt = &points[at];
	int err = FAULT_OK;
	lock();
	if (f->point || atomic_load(&pt->node[ifindex])) {
		err = FAULT_EEXIST;
		goto out;
	}
	if (!pt->binding) {
		int e;
		if (at == FAULT_LINK_RX) {
			struct Link_PacketArrived_spec s = {
				.handler = point_handler, .closure = pt,
				.guard = point_guard, .guard_closure = pt,
				.options = DISP_FIRST | DISP_CANCEL, .desc = "fault rx",
			};
			e = Link_PacketArrived_install(&fault_module, &s, &pt->binding);
		} else {
			struct Link_SendPacket_spec s = {
				.handler = point_handler, .closure = pt,
				.guard = point_guard, .guard_closure = pt,
				.options = DISP_FIRST | DISP_CANCEL, .desc = "fault tx",
			};
			e = Link_SendPacket_install(&fault_module, &s, &pt->binding);
		}
		if (e != DISP_OK) {
			sal_log(SAL_LOG_ERR, "fault: install: %s", disp_strerror(e));
			pt->binding = NULL;
			err = FAULT_EINVAL;
			goto out;
		}
	}
	f->point = at;
	f->ifindex = ifindex;
	f->out = at == FAULT_LINK_RX ? out_rx : out_tx;
	f->out_ctx = NULL;
	pt->nattached++;
	atomic_store_explicit(&pt->node[ifindex], f, memory_order_release);
out:
	unlock();
	return err;
}

int fault_detach(struct fault_node *f)
{
	if (!f->point)
		return FAULT_ENOENT;
	fault_release(f);
	struct point *pt = &points[f->point];
	struct disp_binding *gone = NULL;
	lock();
	atomic_store_explicit(&pt->node[f->ifindex], NULL, memory_order_release);
	if (--pt->nattached == 0) {
		gone = pt->binding;
		pt->binding = NULL;
	}
	f->point = 0;
	f->out = NULL;
	unlock();
	if (gone)
		disp_uninstall(gone);
	return FAULT_OK;
}

void fault_free(struct fault_node *f)
{
	if (!f)
		return;
	if (f->point)
		fault_detach(f);
	exec_timer_cancel(&f->timer);
	while (f->delayq.n) {
		struct pkt *p = ring_pop(&f->delayq).p;
		ng_drop(&p, &fault_ng_node, FAULT_DROP_FLUSHED);
	}
	while (f->reorderq.n) {
		struct pkt *p = ring_pop(&f->reorderq).p;
		ng_drop(&p, &fault_ng_node, FAULT_DROP_FLUSHED);
	}
	lock();
	for (int i = 0; i < FAULT_MAX_NODES; i++)
		if (fault_nodes[i] == f)
			fault_nodes[i] = NULL;
	unlock();
	/* The configuration may still be read by a loop that saw the node a
	 * moment ago only if the caller broke the threading rule; free it
	 * after a grace period anyway. */
	struct fault_cfg_box *box = atomic_load(&f->cfg);
	rcu_call(&box->rcu, box_free);
	sal_free(f->delayq.v);
	sal_free(f->reorderq.v);
	sal_free(f);
}
