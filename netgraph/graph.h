/*
 * graph.h - graph nodes, the drop node, per-node counters, the packet trace
 * and the Graphviz dump of the live graph.
 *
 * A node is a protocol layer or an application: a `const` descriptor with
 * designated initializers registered by one line,
 *
 *   NG_NODE(ether_node,
 *           .name = "ether", .module = &ether_module,
 *           .arrived = &Ether_PacketArrived_event,
 *           .send = &Ether_SendPacket_event,
 *           .drop_names = ether_drop_names,
 *           .ndrops = NG_ARRAY_LEN(ether_drop_names),
 *           .doc = "Ethernet II and 802.1Q");
 *
 * The node's events are ordinary dispatcher events (kernel/dispatch) whose
 * first argument is the packet; define them with .subject = ng_pkt_subject
 * so that declarative guards read the current layer's header, or with
 * NG_PKT_EVENT_DEFINE, which also makes "nobody took it" a counted drop.
 * Edges of the graph are not declared: they are the bindings on the
 * events (a module installs its input handler on the layer below with a
 * guard), and ng_graph_dot draws them as they are.
 *
 * Ownership at every hand-off:
 *   - Raising a packet event (PacketArrived or SendPacket) passes the
 *     packet to the event: the raiser must not touch it afterwards.
 *   - The handler that the raise runs consumes it: passes it on (raises the
 *     next event, queues it) or frees it (pkt_free, or ng_drop with a
 *     reason).  Exactly one handler consumes.  A binding that only observes
 *     runs DISP_FIRST, does not free, and takes pkt_ref/pkt_clone if it
 *     keeps the packet; one that replaces what follows uses DISP_CANCEL.
 *   - If no handler ran, the event's default handler (NG_PKT_EVENT_DEFINE)
 *     drops the packet at the raising node with NG_DROP_NO_HANDLER.
 *   - An asynchronous (DISP_ASYNC) handler consumes the packet when it
 *     runs; the pointer stays valid because nobody else owns the packet.
 *
 * Counting and timing: a handler brackets its work with ng_enter(node, p)
 * and ng_leave(node).  ng_enter counts the packet and its bytes; when
 * timing is on it also reads the cycle counter and charges the time since
 * the last mark to the node on top of a per-thread stack, so each node's
 * time is exclusive of the nodes it raised into.  Timing off costs no rdtsc.
 * Counters live in per-thread slots (no locked instruction on the packet
 * path); reading sums the slots, clearing moves a baseline, so a clear never
 * races a writer.
 */
#ifndef SPIN_NG_GRAPH_H
#define SPIN_NG_GRAPH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/dispatch/dispatch.h"
#include "kernel/module/module.h"
#include "netgraph/pkt.h"

#define NG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Counter slots: threads past NG_MAX_THREADS share one slot, updated with
 * atomic adds. */
#define NG_MAX_THREADS 16
/* Drop reasons per node, common ones included; larger reasons count in the
 * last one ("other"). */
#define NG_MAX_REASONS 32
#define NG_STACK_MAX 16          /* nesting of ng_enter per thread */
#define NG_TRACE_LEN 512         /* records per thread ring */

/* --- drop reasons ---------------------------------------------------------- */
enum ng_drop_common {
#define NG_DROP_X(id, name, text) NG_DROP_##id,
#include "netgraph/ng_drop_common.def"
#undef NG_DROP_X
	NG_DROP_COMMON  /* a node's own reasons start here */
};

/* --- nodes ------------------------------------------------------------------- */
struct ng_pcount {
	_Atomic uint64_t calls;     /* ng_enter calls (a batch is one) */
	_Atomic uint64_t packets;
	_Atomic uint64_t bytes;
	_Atomic uint64_t drops;
	_Atomic uint64_t timed;     /* packets counted while timing was on */
	_Atomic uint64_t cycles;    /* exclusive cycles while timing was on */
	_Atomic uint64_t reason[NG_MAX_REASONS];
} __attribute__((aligned(64)));

/* Mutable state of a node: NG_NODE makes one beside the descriptor. */
struct ng_node_state {
	struct ng_pcount slot[NG_MAX_THREADS + 1];
	struct ng_pcount base;      /* totals at the last clear (control side) */
	bool registered;
	const struct ng_node *next; /* registry */
};

struct ng_node {
	const char *name;               /* unique: "link", "ether", "ip4", "udp" */
	spin_ident_t module;            /* the module that owns the node */
	struct disp_event *arrived;     /* its PacketArrived event, or NULL */
	struct disp_event *send;        /* its SendPacket event, or NULL */
	const char *const *drop_names;  /* own reasons from NG_DROP_COMMON on */
	unsigned ndrops;
	const char *doc;                /* one line */
	struct ng_node_state *state;    /* set by NG_NODE */
};

#ifdef SPIN_EXTENSION
#define NG_NODE(var, ...)                                                      \
	static struct ng_node_state var##__state;                              \
	const struct ng_node var = {.state = &var##__state, __VA_ARGS__}
#else
/* Built in: the descriptor goes into the spin_ng_nodes link section and
 * ng_graph_init registers it.  An extension calls ng_node_register from its
 * module init instead. */
#define NG_NODE(var, ...)                                                      \
	static struct ng_node_state var##__state;                              \
	const struct ng_node var = {.state = &var##__state, __VA_ARGS__};      \
	static const struct ng_node *const var##__reg                          \
	    __attribute__((used, section("spin_ng_nodes"))) = &var
#endif

enum ng_err { NG_OK = 0, NG_EINVAL, NG_EEXIST, NG_ENOENT, NG_ENOSPC };

/* Registers every built-in node and installs the netgraph module's primary
 * handlers (Link_SendPacket -> the interface's xmit).  Idempotent; the
 * netgraph module's init calls it.  Control path. */
int ng_graph_init(void);
/* Uninstalls the primary handlers (tests, shutdown). */
void ng_graph_fini(void);
int ng_node_register(const struct ng_node *n);
void ng_node_unregister(const struct ng_node *n);
const struct ng_node *ng_node_find(const char *name);
/* Registered nodes in registration order: i < ng_node_count(). */
unsigned ng_node_count(void);
const struct ng_node *ng_node_at(unsigned i);
/* The name of reason on node n ("no_handler", a node's own, or "other"). */
const char *ng_drop_name(const struct ng_node *n, unsigned reason);

/* The subject callback of packet events: the current layer's header is the
 * data start of the first segment, pkt_headlen bytes long. */
const void *ng_pkt_subject(const void *arg0, size_t *len);

/* Defines a void packet event with one (struct pkt *, p) parameter whose
 * guards read the current header and whose "no binding ran" case drops the
 * packet on node with NG_DROP_NO_HANDLER.  Further options (.owner, .doc,
 * ...) follow as for SPIN_EVENT_DEFINE. */
#define NG_PKT_EVENT_DEFINE(Name, node, ...)                                    \
	static void Name##__ng_nobody(struct pkt *p_)                          \
	{                                                                      \
		ng_drop(&p_, &(node), NG_DROP_NO_HANDLER);                     \
	}                                                                      \
	SPIN_EVENT_DEFINE(Name, .subject = ng_pkt_subject,                     \
			  .default_handler = Name##__ng_nobody, __VA_ARGS__)

/* --- the packet path ------------------------------------------------------------ */
/* Counts p (and its bytes) on n and opens n's timing bracket; records "rx"
 * in the trace.  Cost: a few stores with timing and trace off; one rdtsc
 * more with timing on. */
void ng_enter(const struct ng_node *n, const struct pkt *p);
/* The same for a send-side handler (traced as "tx"). */
void ng_enter_tx(const struct ng_node *n, const struct pkt *p);
/* One bracket for a batch of npkts packets of nbytes in all. */
void ng_enter_batch(const struct ng_node *n, uint32_t npkts, uint64_t nbytes);
/* Closes the bracket opened by the matching ng_enter. */
void ng_leave(const struct ng_node *n);

/* The drop node: counts the drop on node n under reason, records it in the
 * trace, sets p->drop_reason and frees the packet.  Consumes *pp (NULL is
 * fine) and clears it.  Never fails. */
void ng_drop(struct pkt **pp, const struct ng_node *n, unsigned reason);

/* --- counters: typed control messages with text names ------------------------------ */
enum ng_msg {
	NG_MSG_GETSTATS = 1,   /* "getstats" */
	NG_MSG_CLRSTATS,       /* "clrstats" */
	NG_MSG_GETCLRSTATS,    /* "getclrstats": read and clear at one instant */
};
struct ng_stats {
	uint64_t calls, packets, bytes, drops;
	uint64_t timed;        /* packets that were timed */
	uint64_t ns;           /* exclusive nanoseconds over the timed packets */
	uint64_t ns_per_pkt;   /* ns / timed, 0 if none */
	uint64_t reason[NG_MAX_REASONS];
	unsigned nreasons;     /* NG_DROP_COMMON + the node's own */
};
const char *ng_msg_name(enum ng_msg m);
int ng_msg_parse(const char *name, enum ng_msg *out);   /* NG_OK or NG_EINVAL */
/* Control path; out may be NULL for clrstats. */
int ng_node_msg(const struct ng_node *n, enum ng_msg m, struct ng_stats *out);
/* By names: ng_msg_send("udp", "getclrstats", &st).  NG_ENOENT: no node. */
int ng_msg_send(const char *node, const char *msg, struct ng_stats *out);
/* One line per counter and per nonzero reason, as text; returns the length
 * the full text needs (as sal_snprintf). */
int ng_stats_format(const struct ng_node *n, const struct ng_stats *st, char *buf,
		    size_t size);
/* Every registered node's getstats as text. */
int ng_stats_format_all(char *buf, size_t size);

/* A thread that ran packets calls this before it exits, so its counter slot
 * (and trace ring) can serve another thread; its counts stay. */
void ng_thread_exit(void);

/* Per-packet timing; off by default. */
void ng_timing_set(bool on);
bool ng_timing_enabled(void);

/* --- trace -------------------------------------------------------------------------- */
enum ng_trace_mode {
	NG_TRACE_OFF = 0,
	NG_TRACE_ALL,          /* every packet */
	NG_TRACE_FLAGGED,      /* packets with PKT_F_TRACE */
};
struct ng_trace_rec {
	uint64_t id;           /* pkt->id */
	uint64_t tsc;
	const struct ng_node *node;
	const char *event;     /* "rx", "tx", "drop", or a caller's word */
	uint32_t len;          /* pkt_len at the time */
	uint16_t reason;       /* drop reason for "drop" */
	uint16_t thread;       /* counter slot of the recording thread */
};
void ng_trace_set(enum ng_trace_mode m);
enum ng_trace_mode ng_trace_mode(void);
/* Adds a record for p at node n (when tracing covers p). */
void ng_trace(const struct ng_node *n, const char *event, const struct pkt *p);
/* Empties every ring (call while the loops are idle). */
void ng_trace_clear(void);
/* Copies up to max records, oldest first over all threads; returns how
 * many were copied.  Reading while loops run may see a record being
 * written. */
unsigned ng_trace_read(struct ng_trace_rec *out, unsigned max);
/* The trace as text, one record a line; returns the length needed. */
int ng_trace_dump(char *buf, size_t size);

/* --- the live graph ---------------------------------------------------------------------- */
/* Graphviz DOT of the registered nodes and of the bindings on their events:
 * an edge from the event's node to the installer's node, labelled with the
 * event and the binding's guard.  Returns the length the full text needs
 * (as sal_snprintf); the text is truncated to size. */
int ng_graph_dot(char *buf, size_t size);

/* --- the link layer: where interfaces meet the graph (netgraph/iface.h) ---------------------- */
SPIN_EVENT_DECLARE_VOID(Link_PacketArrived, (struct pkt *, p))
SPIN_EVENT_DECLARE_VOID(Link_SendPacket, (struct pkt *, p))

extern const struct spin_module ng_module;   /* "netgraph" */
extern const struct ng_node ng_link_node;    /* "link" */
extern const struct ng_node ng_drop_node;    /* "drop": counts every drop */

enum ng_link_drop {
	NG_LINK_DROP__BASE = NG_DROP_COMMON - 1,
#define NG_DROP_X(id, name, text) NG_LINK_DROP_##id,
#include "netgraph/link_drop.def"
#undef NG_DROP_X
	NG_LINK_DROP__END
};

#endif
