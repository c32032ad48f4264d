/*
 * drv_afpacket.c - AF_PACKET driver.  Contract, modes and costs in
 * drv_afpacket.h.
 *
 * Ring protocol: a slot (V2) or block (V3) belongs to user space while its
 * status has TP_STATUS_USER and to the kernel while it is TP_STATUS_KERNEL.
 * The status is read with acquire order before the slot's contents, and
 * written back to KERNEL with release order after the last read of them.
 * A slot is released only after its frame has been copied out, so the graph
 * never sees ring memory.
 */
#include "drivers/afpacket/drv_afpacket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "drivers/drv_util.h"
#include "kernel/exec/exec.h"
#include "kernel/sal/sal.h"
#include "netgraph/pkt.h"

#define AFP_MAX_IOV 32
/* Frames one sendmmsg takes (see "Transmit batches" below). */
#define AFP_TX_BATCH 32
/* With tso: ring slots (about 64 KiB each, so 16 MiB of ring) and the
 * block size for slots that large. */
#define AFP_TSO_FRAMES 240
#define AFP_BIG_BLOCK ((size_t)1 << 20)

struct afp_dev {
	struct drv_base base;     /* first: ifp->drv points here */
	int fd;                   /* receives (the ring); in the loop's wait set */
	int txfd;                 /* sends (see afp_setup) */
	enum drv_afp_mode mode;
	bool vnet;                /* PACKET_VNET_HDR on (LATENCY mode) */
	bool sw_csum;
	uint8_t *ring;
	size_t ring_bytes;
	/* V2: slot i at slots[i]; V3: block i at blocks[i]. */
	uint8_t **slots;
	uint32_t nslots, head;
	/* V3 walk position: inside block head, packet pos of npkts at cur. */
	uint32_t blk_pos, blk_npkts;
	uint8_t *blk_cur;
	struct drv_afp_stats st;
	/* Transmit batch: single-buffer frames afp_xmit queued, sent with one
	 * sendmmsg by afp_flush. */
	unsigned ntx;
	struct exec_timer flush_timer;
	struct mmsghdr msgs[AFP_TX_BATCH];
	struct iovec iovs[AFP_TX_BATCH][2];
	struct virtio_net_hdr vhs[AFP_TX_BATCH];
	struct pkt *txp[AFP_TX_BATCH];
};

static struct afp_dev *afp_of(const struct ng_iface *ifp)
{
	return (struct afp_dev *)ifp->drv;
}

static void afp_flush(struct ng_iface *ifp);

/* Copies one frame out of the ring into a new packet and sets its
 * checksum state.  Returns NULL when the pool is empty (the caller leaves
 * the frame in the ring).  *drop is set when the frame is unusable (the
 * caller releases it and counts the drop). */
static struct pkt *afp_frame(struct afp_dev *a, uint8_t *frame, uint32_t snaplen,
			     uint32_t wirelen, uint32_t status, uint16_t vlan_tci,
			     uint16_t vlan_tpid, const struct virtio_net_hdr *vh, bool *drop)
{
	struct ng_iface *ifp = &a->base.ifp;
	*drop = false;
	if (snaplen < wirelen || snaplen < 14) {
		SAL_LOG_ONCE(SAL_LOG_WARN, "afpacket %s: frame of %u bytes does not fit a "
			     "ring slot (GSO from the peer? see tso); dropping such frames",
			     ifp->name, wirelen);
		a->st.rx_truncated++;
		*drop = true;
		return NULL;
	}
	/* A frame longer than a standard buffer (a coalesced one, with tso)
	 * is copied into one large buffer when one is free, else chained over
	 * standard ones. */
	struct pkt *p = NULL;
	if (snaplen > PKT_BUF_DEFAULT && ifp->gso_pool)
		p = pkt_from_bytes(ifp->gso_pool, frame, snaplen);
	if (!p)
		p = pkt_from_bytes(ifp->pool, frame, snaplen);
	if (!p) {
		a->st.rx_nobuf++;
		return NULL;
	}

	/* VLAN acceleration took the tag out of the frame; put it back after
	 * the two MAC addresses so the graph sees the frame as sent. */
	uint16_t shift = 0;
	if (status & TP_STATUS_VLAN_VALID) {
		if (!pkt_contig(p, 12)) {
			pkt_free(p);
			*drop = true;
			return NULL;
		}
		uint8_t *d = pkt_push(p, 4);
		if (!d) {
			pkt_free(p);
			*drop = true;
			return NULL;
		}
		memmove(d, d + 4, 12);
		uint16_t tpid = (status & TP_STATUS_VLAN_TPID_VALID) && vlan_tpid ? vlan_tpid
										  : ETH_P_8021Q;
		d[12] = (uint8_t)(tpid >> 8);
		d[13] = (uint8_t)tpid;
		d[14] = (uint8_t)(vlan_tci >> 8);
		d[15] = (uint8_t)vlan_tci;
		shift = 4;
		a->st.rx_vlan++;
	}

	if (vh) {
		struct virtio_net_hdr h = *vh;
		if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			h.csum_start = (uint16_t)(h.csum_start + shift);
		if (!drv_vnet_to_pkt(&h, p)) {
			pkt_free(p);
			*drop = true;
			return NULL;
		}
		if (p->csum == PKT_CSUM_NONE && (status & TP_STATUS_CSUM_VALID))
			p->csum = PKT_CSUM_VERIFIED;
		if (p->gso_type != PKT_GSO_NONE)
			ifp->stats.rx_gso++;
	} else if (status & TP_STATUS_CSUMNOTREADY) {
		uint16_t start, off;
		uint32_t n = pkt_headlen(p) < 256 ? pkt_headlen(p) : 256;
		if (drv_csum_locate(pkt_data(p), n, &start, &off)) {
			p->csum = PKT_CSUM_PARTIAL;
			p->csum_start = start;
			p->csum_offset = off;
		} else {
			/* The field holds only the pseudo-header sum, so the
			 * receiver's verification will fail; counted here. */
			a->st.rx_csum_unlocated++;
		}
	} else if (status & TP_STATUS_CSUM_VALID) {
		p->csum = PKT_CSUM_VERIFIED;
	}
	if (p->csum == PKT_CSUM_PARTIAL)
		a->st.rx_csum_partial++;
	else if (p->csum == PKT_CSUM_VERIFIED)
		a->st.rx_csum_verified++;
	return p;
}

/* V2: one slot per frame.  Every frame taken from the ring is handed to
 * ng_iface_input (which consumes it) or dropped and counted here. */
static int afp_poll_v2(void *ctx, int budget)
{
	struct afp_dev *a = ctx;
	struct ng_iface *ifp = &a->base.ifp;
	int done = 0;
	/* What was sent since the last poll (ACKs owed from the previous
	 * batch, timers) leaves before this batch is taken in. */
	if (a->ntx)
		afp_flush(ifp);
	while (done < budget) {
		struct tpacket2_hdr *h = (struct tpacket2_hdr *)a->slots[a->head];
		uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
		if (!(status & TP_STATUS_USER))
			break;
		uint8_t *frame = (uint8_t *)h + h->tp_mac;
		const struct virtio_net_hdr *vh =
		    a->vnet ? (const struct virtio_net_hdr *)(frame - sizeof(*vh)) : NULL;
		bool drop;
		struct pkt *p = afp_frame(a, frame, h->tp_snaplen, h->tp_len, status,
					  h->tp_vlan_tci, h->tp_vlan_tpid, vh, &drop);
		if (!p && !drop)
			break;
		__atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		a->head = a->head + 1 == a->nslots ? 0 : a->head + 1;
		done++;
		if (p)
			ng_iface_input(ifp, p);
		else
			ifp->stats.rx_drops++;
	}
	if (a->ntx)
		afp_flush(ifp);
	return done;
}

/* V3: blocks of frames.  The walk position survives across polls, so a
 * budget smaller than a block is honoured; a block goes back to the kernel
 * when its last frame has been copied out. */
static int afp_poll_v3(void *ctx, int budget)
{
	struct afp_dev *a = ctx;
	struct ng_iface *ifp = &a->base.ifp;
	int done = 0;
	while (done < budget) {
		struct tpacket_block_desc *b = (struct tpacket_block_desc *)a->slots[a->head];
		if (!a->blk_cur) {
			uint32_t st = __atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE);
			if (!(st & TP_STATUS_USER))
				break;
			a->blk_npkts = b->hdr.bh1.num_pkts;
			a->blk_pos = 0;
			a->blk_cur = (uint8_t *)b + b->hdr.bh1.offset_to_first_pkt;
		}
		if (a->blk_pos < a->blk_npkts) {
			struct tpacket3_hdr *h = (struct tpacket3_hdr *)a->blk_cur;
			bool drop;
			struct pkt *p = afp_frame(a, (uint8_t *)h + h->tp_mac, h->tp_snaplen,
						  h->tp_len, h->tp_status, h->hv1.tp_vlan_tci,
						  h->hv1.tp_vlan_tpid, NULL, &drop);
			if (!p && !drop)
				break;
			a->blk_pos++;
			a->blk_cur = (uint8_t *)h + h->tp_next_offset;
			done++;
			if (p)
				ng_iface_input(ifp, p);
			else
				ifp->stats.rx_drops++;
		}
		if (a->blk_pos >= a->blk_npkts) {
			__atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL,
					 __ATOMIC_RELEASE);
			a->blk_cur = NULL;
			a->head = a->head + 1 == a->nslots ? 0 : a->head + 1;
		}
	}
	return done;
}

/* --- Transmit batches ----------------------------------------------------------------
 * One sendmsg per frame costs a kernel entry per frame, and on a veth each
 * call also runs the receiver's whole input path and wakes its reader, one
 * frame at a time.  So afp_xmit queues single-buffer frames (with their
 * vnet headers) and afp_flush hands them to the kernel with one sendmmsg:
 * at the start and the end of every receive poll (a reply to what the poll
 * brought leaves at once; an ACK owed since the last poll does not wait
 * behind the next batch), when AFP_TX_BATCH are queued, and otherwise from a
 * zero-delay timer, which fires at the start of the loop's next turn (a
 * transmit from a timer or a command between polls).  Chained packets and
 * devices without vnet headers take the direct path after the queue is
 * flushed, so frames leave in the order they were sent.  Without a run
 * loop (tests driving the graph by hand) every frame leaves at once. */
static void afp_flush(struct ng_iface *ifp)
{
	struct afp_dev *a = afp_of(ifp);
	unsigned n = a->ntx, done = 0;

	if (exec_timer_armed(&a->flush_timer))
		exec_timer_cancel(&a->flush_timer);
	while (done < n) {
		int r = sendmmsg(a->txfd, a->msgs + done, n - done, MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		a->st.tx_batches++;
		if (r <= 0) {
			/* The first frame left was refused (ring or queue
			 * full): it is dropped and counted, the rest tried. */
			drv_xmit_done(ifp, a->txp[done++], false);
			continue;
		}
		for (int i = 0; i < r; i++)
			drv_xmit_done(ifp, a->txp[done + (unsigned)i], true);
		done += (unsigned)r;
	}
	a->ntx = 0;
}

static void afp_flush_fired(struct exec_timer *t, void *arg)
{
	(void)t;
	afp_flush(arg);
}

static int afp_xmit_direct(struct ng_iface *ifp, struct pkt *p);

/* Finishes the checksum the device will not (sw_csum, or no vnet header
 * to ask with) and fills *vh when vnet headers are on (drv_tx_prepare). */
static bool afp_tx_prepare(struct afp_dev *a, struct pkt **pp, struct virtio_net_hdr *vh)
{
	const struct drv_tx_counts c = {.csum_sw = &a->st.tx_csum_sw,
					.csum_offloaded = &a->st.tx_csum_offloaded,
					.bad_gso = &a->st.tx_bad_gso};
	return drv_tx_prepare(&a->base.ifp, pp, a->sw_csum || !a->vnet, a->vnet ? vh : NULL, &c);
}

/* Consumes p in every case. */
static int afp_xmit(struct ng_iface *ifp, struct pkt *p)
{
	struct afp_dev *a = afp_of(ifp);
	struct exec_loop *l = exec_current();

	if (p->next || !a->vnet || !l) {
		if (a->ntx)
			afp_flush(ifp);
		return afp_xmit_direct(ifp, p);
	}
	unsigned i = a->ntx;
	if (!afp_tx_prepare(a, &p, &a->vhs[i]))
		return drv_xmit_done(ifp, p, false);
	a->iovs[i][0] = (struct iovec){.iov_base = &a->vhs[i], .iov_len = sizeof(a->vhs[i])};
	a->iovs[i][1] = (struct iovec){.iov_base = pkt_data(p), .iov_len = p->len};
	a->msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = a->iovs[i], .msg_iovlen = 2}};
	a->txp[i] = p;
	a->ntx = i + 1;
	if (a->ntx == AFP_TX_BATCH)
		afp_flush(ifp);
	else if (!exec_timer_armed(&a->flush_timer))
		exec_timer_arm(l, &a->flush_timer, 0);
	return 0;
}

/* One frame, one sendmsg.  Consumes p in every case. */
static int afp_xmit_direct(struct ng_iface *ifp, struct pkt *p)
{
	struct afp_dev *a = afp_of(ifp);
	struct virtio_net_hdr vh;
	struct iovec iov[AFP_MAX_IOV + 1];
	int n = 0;
	if (!afp_tx_prepare(a, &p, &vh))
		goto drop;
	if (a->vnet)
		iov[n++] = (struct iovec){.iov_base = &vh, .iov_len = sizeof(vh)};
	for (struct pkt *s = p; s; s = s->next) {
		if (s->len == 0)
			continue;
		if (n == AFP_MAX_IOV + 1)
			goto drop;
		iov[n++] = (struct iovec){.iov_base = pkt_data(s), .iov_len = s->len};
	}
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
	ssize_t w;
	do
		w = sendmsg(a->txfd, &mh, MSG_DONTWAIT);
	while (w < 0 && errno == EINTR);
	return drv_xmit_done(ifp, p, w >= 0);
drop:
	return drv_xmit_done(ifp, p, false);
}

static void afp_close(struct ng_iface *ifp)
{
	struct afp_dev *a = afp_of(ifp);
	if (a->ntx)
		afp_flush(ifp);
	if (exec_timer_armed(&a->flush_timer))
		exec_timer_cancel(&a->flush_timer);
	drv_base_detach(&a->base);
	if (a->ring)
		munmap(a->ring, a->ring_bytes);
	if (a->fd >= 0)
		close(a->fd);
	if (a->txfd >= 0)
		close(a->txfd);
	drv_gso_fini(ifp);
	free(a->slots);
	free(a);
}

static const struct ng_iface_ops afp_ops = {
	.xmit = afp_xmit,
	.flush = afp_flush,
	.close = afp_close,
};

void drv_afp_stats(struct ng_iface *ifp, struct drv_afp_stats *out)
{
	struct afp_dev *a = afp_of(ifp);
	struct tpacket_stats_v3 ks;
	socklen_t len = sizeof(ks);
	if (getsockopt(a->fd, SOL_PACKET, PACKET_STATISTICS, &ks, &len) == 0)
		a->st.ring_drops += ks.tp_drops;
	*out = a->st;
}

static int setopt(int fd, int name, int val)
{
	return setsockopt(fd, SOL_PACKET, name, &val, sizeof(val)) == 0 ? 0 : -1;
}

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

/* V2 ring: slots of frame_size bytes, as many per block as fit, blocks of
 * at least a page. */
static enum drv_err afp_ring_v2(struct afp_dev *a, const struct drv_afp_config *cfg)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint32_t fsz = cfg->frame_size;
	if (fsz == 0) {
		/* Slot header, vnet header and alignment take under 128 bytes;
		 * with tso a slot holds a coalesced 64 KiB datagram. */
		fsz = (cfg->tso ? DRV_GSO_MAX : a->base.ifp.mtu) + 14 + 8 + 128;
		if (fsz < 2048)
			fsz = 2048;
	}
	fsz = (uint32_t)round_up(fsz, TPACKET_ALIGNMENT);
	uint32_t nframes = cfg->ring_frames ? cfg->ring_frames : cfg->tso ? AFP_TSO_FRAMES : 1024;
	size_t bsz = round_up(fsz, page);
	/* The kernel allocates a block as a power-of-two run of pages: large
	 * slots go many to a 1 MiB block, so the rounding wastes little. */
	if (bsz > (size_t)16 * page && bsz < AFP_BIG_BLOCK)
		bsz = AFP_BIG_BLOCK;
	uint32_t per_block = (uint32_t)(bsz / fsz);
	uint32_t nblocks = (nframes + per_block - 1) / per_block;
	struct tpacket_req req = {
		.tp_block_size = (unsigned)bsz,
		.tp_block_nr = nblocks,
		.tp_frame_size = fsz,
		.tp_frame_nr = nblocks * per_block,
	};
	if (setsockopt(a->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) != 0)
		return drv_errno(errno);
	a->ring_bytes = bsz * nblocks;
	a->nslots = req.tp_frame_nr;
	a->slots = calloc(a->nslots, sizeof(*a->slots));
	if (!a->slots)
		return DRV_ENOMEM;
	a->ring = mmap(NULL, a->ring_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		       a->fd, 0);
	if (a->ring == MAP_FAILED) {
		a->ring = NULL;
		return drv_errno(errno);
	}
	for (uint32_t i = 0; i < a->nslots; i++)
		a->slots[i] = a->ring + (size_t)(i / per_block) * bsz + (size_t)(i % per_block) * fsz;
	return DRV_OK;
}

static enum drv_err afp_ring_v3(struct afp_dev *a, const struct drv_afp_config *cfg)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t bsz = round_up(cfg->block_size ? cfg->block_size : 1u << 20, page);
	uint32_t nblocks = cfg->blocks ? cfg->blocks : 8;
	uint32_t fsz = 2048;
	struct tpacket_req3 req = {
		.tp_block_size = (unsigned)bsz,
		.tp_block_nr = nblocks,
		.tp_frame_size = fsz,
		.tp_frame_nr = (unsigned)(bsz / fsz) * nblocks,
		.tp_retire_blk_tov = cfg->block_timeout_ms ? cfg->block_timeout_ms : 1,
		.tp_sizeof_priv = 0,
		.tp_feature_req_word = 0,
	};
	if (setsockopt(a->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) != 0)
		return drv_errno(errno);
	a->ring_bytes = bsz * nblocks;
	a->nslots = nblocks;
	a->slots = calloc(a->nslots, sizeof(*a->slots));
	if (!a->slots)
		return DRV_ENOMEM;
	a->ring = mmap(NULL, a->ring_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		       a->fd, 0);
	if (a->ring == MAP_FAILED) {
		a->ring = NULL;
		return drv_errno(errno);
	}
	for (uint32_t i = 0; i < a->nslots; i++)
		a->slots[i] = a->ring + (size_t)i * bsz;
	return DRV_OK;
}

static enum drv_err afp_setup(struct afp_dev *a, const struct drv_afp_config *cfg, int ifindex)
{
	/* Protocol 0 until bind: no frame is queued before the ring exists. */
	a->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->fd < 0)
		return drv_errno(errno);
	bool v3 = cfg->mode == DRV_AFP_CAPTURE;
	if (setopt(a->fd, PACKET_VERSION, v3 ? TPACKET_V3 : TPACKET_V2) != 0)
		return drv_errno(errno);
	a->vnet = !v3;
	if (a->vnet && setopt(a->fd, PACKET_VNET_HDR, 1) != 0)
		return drv_errno(errno);
	if (setopt(a->fd, PACKET_IGNORE_OUTGOING, 1) != 0)
		return drv_errno(errno);
	/* Bypassing the qdisc saves a queue and a lock on send; losing the
	 * option on an old kernel costs only that. */
	(void)setopt(a->fd, PACKET_QDISC_BYPASS, 1);
	enum drv_err e = v3 ? afp_ring_v3(a, cfg) : afp_ring_v2(a, cfg);
	if (e != DRV_OK)
		return e;
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = ifindex,
	};
	if (bind(a->fd, (struct sockaddr *)&sll, sizeof(sll)) != 0)
		return drv_errno(errno);
	if (cfg->promisc) {
		struct packet_mreq mr = {.mr_ifindex = ifindex, .mr_type = PACKET_MR_PROMISC};
		if (setsockopt(a->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) != 0)
			return drv_errno(errno);
	}
	/* Frames leave through a second socket, bound with protocol 0 so it
	 * receives nothing, and never in a wait set.  Each sent buffer, when
	 * the kernel frees it, wakes its socket's writers; on the receiving
	 * socket that would run the loop's wait-set callback (under an
	 * interrupt-disabling lock) for every frame sent, in a blocking loop
	 * as in a busy one.  Frame for frame the kernel's send path is the
	 * same: the protocol comes from the Ethernet header. */
	a->txfd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->txfd < 0)
		return drv_errno(errno);
	if (a->vnet && setopt(a->txfd, PACKET_VNET_HDR, 1) != 0)
		return drv_errno(errno);
	/* Sending GSO packets (tso, gso) the frames go through the device's
	 * queue path instead: where the device has TSO and GSO off, that is
	 * where Linux cuts a GSO frame in software (validate_xmit_skb), as it
	 * does for its own TCP, whose packets are GSO packets whatever the
	 * device offers.  The bypass (__dev_direct_xmit) drops a frame that
	 * would need cutting. */
	if (!cfg->tso && !cfg->gso)
		(void)setopt(a->txfd, PACKET_QDISC_BYPASS, 1);
	struct sockaddr_ll tll = {.sll_family = AF_PACKET, .sll_ifindex = ifindex};
	if (bind(a->txfd, (struct sockaddr *)&tll, sizeof(tll)) != 0)
		return drv_errno(errno);
	return DRV_OK;
}

enum drv_err drv_afp_open(const struct drv_afp_config *cfg, struct pkt_pool *pool,
			  struct exec_loop *loop, struct ng_iface **out)
{
	*out = NULL;
	if (!cfg || !pool || !cfg->ifname || !cfg->ifname[0] ||
	    (cfg->mode != DRV_AFP_LATENCY && cfg->mode != DRV_AFP_CAPTURE) ||
	    ((cfg->tso || cfg->gso) && (cfg->sw_csum || cfg->mode != DRV_AFP_LATENCY)))
		return DRV_EINVAL;
	int ifindex = drv_netdev_index(cfg->ifname);
	if (ifindex <= 0)
		return DRV_ENODEV;
	struct afp_dev *a = calloc(1, sizeof(*a));
	if (!a)
		return DRV_ENOMEM;
	a->fd = a->txfd = -1;
	a->base.ifp.drv = a;
	struct ng_iface *ifp = &a->base.ifp;
	a->flush_timer.fn = afp_flush_fired;
	a->flush_timer.arg = ifp;
	enum drv_err e;
	if ((e = drv_base_name(&a->base, cfg->name, cfg->ifname)) != DRV_OK)
		goto fail;
	if (drv_netdev_mac(cfg->ifname, ifp->mac) != 0 ||
	    drv_netdev_mtu(cfg->ifname, &ifp->mtu) != 0) {
		e = DRV_ENODEV;
		goto fail;
	}
	if (!cfg->no_quiet) {
		int rc = drv_netdev_quiet(cfg->ifname);
		if (rc != 0) {
			e = drv_errno(-rc);
			goto fail;
		}
	}
	a->mode = cfg->mode;
	if ((e = afp_setup(a, cfg, ifindex)) != DRV_OK)
		goto fail;
	a->sw_csum = cfg->sw_csum;
	ifp->tx_csum_offload = a->vnet && !cfg->sw_csum;
	if ((cfg->tso || cfg->gso) && (e = drv_gso_init(ifp)) != DRV_OK)
		goto fail;
	ifp->ops = &afp_ops;
	ifp->pool = pool;
	ifp->driver = "afpacket";
	a->base.poller.poll = a->mode == DRV_AFP_CAPTURE ? afp_poll_v3 : afp_poll_v2;
	a->base.poller.ctx = a;
	a->base.poller.wait_handle = a->fd;
	if ((e = drv_base_attach(&a->base, loop)) != DRV_OK)
		goto fail;
	*out = ifp;
	return DRV_OK;
fail:
	afp_close(ifp);
	return e;
}
