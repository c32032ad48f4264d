/*
 * pkt.h - the packet buffer.
 *
 * A packet is a chain of segments.  Each segment is one pool buffer:
 *
 *   buf                     buf+off         buf+off+len          buf+cap
 *   | headroom ............ | data ......... | tailroom ......... |
 *
 * Invariants (checked by pkt_check in debug builds and by the unit tests):
 *   off + len <= cap; the first segment's pkt_len is the sum of len over the
 *   chain; only the first segment carries metadata (ifindex, csum, layer
 *   offsets, timestamps).
 *
 * Headroom: PKT_HEADROOM bytes are reserved at allocation, enough for the
 * deepest encapsulation (ATM LLC/SNAP or Ethernet + 802.1Q + IPv4 with
 * options + TCP with options, and a virtio-net header in front).  Tailroom
 * keeps PKT_TAILROOM for the AAL5 trailer.
 *
 * Ownership: a function that takes `struct pkt **pp` consumes the packet and
 * sets *pp to NULL; one named *_send or *_consume consumes its argument; any
 * other function that takes `struct pkt *` borrows it for the call only.
 * A consumer either passes the packet on or frees it (pkt_free, or the drop
 * node with a reason).  pkt_ref adds an owner; each owner frees once.
 * Data of a segment whose refcount is above 1 is shared: write to it only
 * after pkt_unshare.
 *
 * The per-packet functions here allocate nothing from the general heap and
 * take no lock; pools are per-thread caches over a shared free list.
 */
#ifndef SPIN_PKT_H
#define SPIN_PKT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PKT_HEADROOM 192
#define PKT_TAILROOM 64
#define PKT_BUF_DEFAULT 2048      /* data capacity of a standard buffer */
/* Data capacity of a large buffer: one GSO packet (an IPv4 datagram of up
 * to 65535 bytes) with its Ethernet and 802.1Q headers fits in one.
 * Drivers with TSO on keep a pool of these (ng_iface.gso_pool). */
#define PKT_BUF_GSO 65536

enum pkt_csum {
	PKT_CSUM_NONE = 0,  /* nothing known: the receiver verifies */
	PKT_CSUM_VERIFIED,  /* the device checked the L4 checksum */
	PKT_CSUM_PARTIAL,   /* L4 checksum unfinished: csum_start/csum_offset
			     * (from the frame start, i.e. the L2 header) say
			     * where summing starts and where the result goes;
			     * the field holds the pseudo-header sum.  Accept
			     * without verifying; complete before sending on
			     * a device without offload (pkt_csum_complete). */
};

/* Segmentation offload (TSO/GSO on send, coalesced frames on receive).
 * A packet with gso_type TCPV4 is one TCP/IPv4 super-segment whose payload
 * the device cuts into pieces of gso_size bytes, each with a copy of the
 * headers (IP total length, id and TCP sequence fixed up per piece).  Such
 * a packet is always PKT_CSUM_PARTIAL: its TCP checksum field holds the
 * pseudo-header sum over the whole super-segment's length.  On receive the
 * same fields say the frame was coalesced by the host from gso_size-byte
 * segments; the protocols accept it whole. */
enum pkt_gso {
	PKT_GSO_NONE = 0,
	PKT_GSO_TCPV4,
	PKT_GSO_TCPV6,    /* receive only: IPv6 is not parsed yet */
	PKT_GSO_UDP_L4,   /* receive only */
};

struct pkt_pool;

struct pkt {
	/* segment */
	uint8_t *buf;
	uint32_t cap;           /* bytes at buf */
	uint32_t off;           /* data start, from buf */
	uint32_t len;           /* data bytes in this segment */
	_Atomic uint32_t refcnt;
	struct pkt *next;       /* next segment, or NULL */
	struct pkt_pool *pool;

	/* packet (first segment only) */
	uint32_t pkt_len;       /* total data bytes over the chain */
	uint16_t ifindex;       /* receiving or sending interface */
	uint8_t csum;           /* enum pkt_csum */
	uint8_t flags;          /* PKT_F_* */
	uint16_t csum_start;    /* see PKT_CSUM_PARTIAL */
	uint16_t csum_offset;
	uint16_t gso_size;      /* payload bytes per segment; 0 without GSO */
	uint8_t gso_type;       /* enum pkt_gso */
	uint8_t l2_len;         /* filled by layers as they parse */
	int32_t l2_off, l3_off, l4_off; /* from buf of the first segment; -1 unset */
	uint16_t vlan_tci;      /* 802.1Q tag control (PCP, DEI, VLAN id); valid
				 * only with PKT_F_VLAN (protocols/ether) */
	uint64_t rx_tsc;        /* cycle counter at receive, 0 if not taken */
	uint64_t id;            /* trace id */
	uint32_t drop_reason;   /* set by the drop node */
	uint32_t user;          /* free for the current owner */
	struct pkt *qnext;      /* free for the current owner: queue link */
};

#define PKT_F_BCAST   0x01
#define PKT_F_MCAST   0x02
#define PKT_F_OTHERHOST 0x04
#define PKT_F_TRACE   0x08
#define PKT_F_VLAN    0x10  /* vlan_tci holds the stripped 802.1Q tag */
#define PKT_F_FAULTED 0x20  /* passed a fault node (netgraph/fault) */

/* --- pools ----------------------------------------------------------------- */
struct pkt_pool_stats {
	uint64_t allocs, frees, alloc_fails;
	uint64_t outstanding;    /* allocs - frees: the leak counter */
	uint32_t capacity;       /* buffers in the pool */
	uint32_t buf_size;
};
/* nbufs buffers of data capacity buf_size (plus head- and tailroom).
 * Memory comes from whole pages (sal_pages_alloc; the VM issue moves this
 * onto PhysAddr/VirtAddr). */
struct pkt_pool *pkt_pool_new(const char *name, uint32_t nbufs, uint32_t buf_size);
/* Frees the pool; returns the number of buffers still outstanding (leaked),
 * logging them.  A leaked buffer's memory stays mapped. */
uint64_t pkt_pool_free(struct pkt_pool *pool);
void pkt_pool_stats(const struct pkt_pool *pool, struct pkt_pool_stats *out);
const char *pkt_pool_name(const struct pkt_pool *pool);
/* Sum of outstanding buffers over every pool that exists (tests assert 0).
 * A pool freed with leaks stays counted here. */
uint64_t pkt_pools_outstanding(void);
/* Logs every pool with outstanding buffers (for a failing leak check). */
void pkt_pools_report(void);
/* A thread that handled packets calls this before it exits: its cached free
 * buffers go back to the shared lists and its cache slot is reused.  (A
 * thread that does not only strands its cached buffers; nothing leaks.) */
void pkt_pools_thread_exit(void);

/* --- allocation and freeing ------------------------------------------------ */
/* A packet with PKT_HEADROOM headroom and len 0; NULL when the pool is empty. */
struct pkt *pkt_alloc(struct pkt_pool *pool);
/* A packet holding a copy of data (chained when longer than a buffer). */
struct pkt *pkt_from_bytes(struct pkt_pool *pool, const void *data, size_t n);
/* Drops one reference to every segment of the chain; frees at zero. */
void pkt_free(struct pkt *p);
static inline void pkt_consume(struct pkt **pp)
{
	if (*pp) {
		pkt_free(*pp);
		*pp = NULL;
	}
}
struct pkt *pkt_ref(struct pkt *p);  /* returns p */
/* A new first segment sharing p's data (refcounts up): for multicast. */
struct pkt *pkt_clone(struct pkt *p);
/* Makes every segment private (copies shared ones); false if out of buffers,
 * p unchanged.  Costs one walk and nothing else when nothing is shared. */
bool pkt_unshare(struct pkt **pp);
/* Sharing tests: a segment is writable when its header has one owner and
 * no other header uses its data (a clone's first segment is not writable
 * even though its refcnt is 1).  pkt_is_shared: some segment is not. */
bool pkt_seg_writable(const struct pkt *seg);
bool pkt_is_shared(const struct pkt *p);
/* A deep copy into new buffers (NULL if out of buffers). */
struct pkt *pkt_copy(const struct pkt *p, struct pkt_pool *pool);

/* --- data access -------------------------------------------------------------- */
static inline uint8_t *pkt_data(const struct pkt *p) { return p->buf + p->off; }
static inline uint32_t pkt_headlen(const struct pkt *p) { return p->len; }
static inline uint32_t pkt_len(const struct pkt *p) { return p->pkt_len; }
static inline uint32_t pkt_headroom(const struct pkt *p) { return p->off; }
uint32_t pkt_tailroom(const struct pkt *p);   /* of the last segment */

/* Moves the start forward by n (strips a header); false if n > pkt_len. */
bool pkt_pull(struct pkt *p, uint32_t n);
/* Moves the start back by n (prepends room for a header) and returns the new
 * start; NULL without changing p when the headroom is short or the first
 * segment is shared (pkt_unshare first: e.g. after pkt_clone). */
uint8_t *pkt_push(struct pkt *p, uint32_t n);
/* Appends n bytes at the end of the last segment and returns them; NULL
 * without changing p when the tailroom is short or the last segment is
 * shared. */
uint8_t *pkt_put(struct pkt *p, uint32_t n);
/* Cuts the packet to n bytes (frees segments past it); false if n > len
 * (or, rarely, out of buffers for a private header on a shared segment). */
bool pkt_trim(struct pkt *p, uint32_t n);
/* Makes the first n bytes contiguous in the first segment, pulling them from
 * later segments; false (p unchanged) if the packet is shorter than n or n
 * does not fit the first buffer.  Call before every header cast.  Cost:
 * one compare when the bytes are already there (the common case). */
bool pkt_contig(struct pkt *p, uint32_t n);
/* Copies n bytes at off into dst across segments; false if out of range. */
bool pkt_copy_out(const struct pkt *p, uint32_t off, void *dst, uint32_t n);
/* Copies n bytes from src over the packet's bytes at off (the segments
 * written must be writable); false if out of range. */
bool pkt_copy_in(struct pkt *p, uint32_t off, const void *src, uint32_t n);
/* Appends tail's segments to p (consumes tail; tail's metadata is lost).
 * False only if a private header was needed and the pool is empty; tail
 * is then freed. */
bool pkt_chain(struct pkt *p, struct pkt **tail);
int pkt_segments(const struct pkt *p);

/* Layer offsets: set where a layer's header starts (the current data start),
 * read back as pointers.  Offsets are from the first segment's buf. */
static inline void pkt_set_l2(struct pkt *p) { p->l2_off = (int32_t)p->off; }
static inline void pkt_set_l3(struct pkt *p) { p->l3_off = (int32_t)p->off; }
static inline void pkt_set_l4(struct pkt *p) { p->l4_off = (int32_t)p->off; }

/* --- checksums ----------------------------------------------------------------- */
/* Checksum sums are the numeric value of the big-endian 16-bit words, as a
 * header shows them on the wire, on any host: store csum_fold's result
 * high byte first.
 * Ones'-complement sum of n bytes at off (across segments), folded to 16 bits,
 * not inverted.  Start with sum 0. */
uint32_t pkt_csum_partial(const struct pkt *p, uint32_t off, uint32_t n, uint32_t sum);
uint16_t csum_fold(uint32_t sum);               /* fold and invert */
uint32_t csum_add(uint32_t sum, const void *data, size_t n); /* contiguous; folded */
/* Finishes a PKT_CSUM_PARTIAL packet in place (csum_start/offset relative to
 * the current data start, which must be the L2 header); sets csum NONE.
 * True (nothing done) for other states; false if the offsets are outside
 * the packet.  A computed zero is written as 0xffff.  The packet must be
 * unshared (pkt_unshare); a shared one is logged once. */
bool pkt_csum_complete(struct pkt *p);

/* Checks the invariants; returns NULL or a message naming the broken one. */
const char *pkt_check(const struct pkt *p);

#endif
