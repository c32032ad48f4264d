/*
 * drv_tap.c - TAP device driver.  Contract and costs in drv_tap.h.
 */
#include "drivers/tap/drv_tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "drivers/drv_util.h"
#include "kernel/sal/sal.h"
#include "netgraph/pkt.h"

/* Frames longer than a pool buffer land here first when no large buffer is
 * at hand; this covers the largest frame a TAP hands over, a coalesced
 * 64 KiB datagram with its Ethernet and 802.1Q headers included. */
#define TAP_SPILL (65536 + 64)
/* A packet with more segments than this is linearised by being dropped:
 * the graph never builds such chains for one frame. */
#define TAP_MAX_IOV 32

struct tap_dev {
	struct drv_base base;     /* first: ifp->drv points here */
	int fd;
	bool sw_csum;
	bool tso;
	struct drv_tap_stats st;
	uint8_t *spill;
};

static struct tap_dev *tap_of(const struct ng_iface *ifp)
{
	return (struct tap_dev *)ifp->drv;
}

/* Data room of a fresh buffer, keeping the tailroom reserve for trailers. */
static uint32_t rx_room(const struct pkt *p)
{
	uint32_t t = pkt_tailroom(p);
	return t > PKT_TAILROOM ? t - PKT_TAILROOM : 0;
}

/* Ownership: every frame read is either handed to ng_iface_input (which
 * consumes it) or freed here after counting the drop; nothing is kept. */
static int tap_poll(void *ctx, int budget)
{
	struct tap_dev *t = ctx;
	struct ng_iface *ifp = &t->base.ifp;
	int done = 0;

	while (done < budget) {
		struct pkt *p = pkt_alloc(ifp->pool);
		if (!p) {
			/* Leave the frame in the TAP's queue: Linux drops when
			 * the queue overflows, which is the right place. */
			t->st.rx_nobuf++;
			break;
		}
		/* With TSO a frame can be a coalesced 64 KiB datagram: what
		 * does not fit the first buffer is read straight into a large
		 * one, which is chained behind it (no copy).  Without a large
		 * buffer it spills and is copied into chained small ones. */
		struct pkt *big = t->tso ? pkt_alloc(ifp->gso_pool) : NULL;
		if (big)
			big->off = 0;
		struct virtio_net_hdr vh;
		uint32_t room = rx_room(p);
		uint32_t big_room = big ? rx_room(big) : 0;
		struct iovec iov[3] = {
			{.iov_base = &vh, .iov_len = sizeof(vh)},
			{.iov_base = pkt_data(p), .iov_len = room},
			{.iov_base = big ? pkt_data(big) : t->spill,
			 .iov_len = big ? big_room : TAP_SPILL},
		};
		ssize_t n = readv(t->fd, iov, 3);
		if (n < (ssize_t)sizeof(vh)) {
			pkt_free(p);
			pkt_free(big);
			if (n < 0 && errno == EINTR)
				continue;
			/* EAGAIN: the queue is empty.  Other errors (the TAP
			 * went down) look the same to the loop: no work. */
			break;
		}
		done++;
		uint32_t flen = (uint32_t)n - (uint32_t)sizeof(vh);
		uint32_t head = flen < room ? flen : room;
		if (!pkt_put(p, head)) {
			pkt_free(p);
			pkt_free(big);
			ifp->stats.rx_drops++;
			continue;
		}
		if (flen > room) {
			struct pkt *tail = big;
			big = NULL;
			if (tail) {
				pkt_put(tail, flen - room);
			} else {
				tail = pkt_from_bytes(ifp->pool, t->spill, flen - room);
				t->st.rx_spill++;
			}
			if (!tail) {
				pkt_free(p);
				t->st.rx_nobuf++;
				ifp->stats.rx_drops++;
				continue;
			}
			pkt_chain(p, &tail);
		}
		pkt_free(big);
		if (!drv_vnet_to_pkt(&vh, p)) {
			SAL_LOG_ONCE(SAL_LOG_WARN, "tap %s: bad vnet header (gso type %u size %u, "
				     "csum start %u offset %u, frame %u bytes); dropping such frames",
				     ifp->name, vh.gso_type, vh.gso_size, vh.csum_start,
				     vh.csum_offset, flen);
			t->st.rx_bad_vnet++;
			ifp->stats.rx_drops++;
			pkt_free(p);
			continue;
		}
		if (p->csum == PKT_CSUM_PARTIAL)
			t->st.rx_csum_partial++;
		else if (p->csum == PKT_CSUM_VERIFIED)
			t->st.rx_csum_verified++;
		if (p->gso_type != PKT_GSO_NONE)
			ifp->stats.rx_gso++;
		ng_iface_input(ifp, p);
	}
	return done;
}

/* Consumes p in every case. */
static int tap_xmit(struct ng_iface *ifp, struct pkt *p)
{
	struct tap_dev *t = tap_of(ifp);
	const struct drv_tx_counts c = {.csum_sw = &t->st.tx_csum_sw,
					.csum_offloaded = &t->st.tx_csum_offloaded,
					.bad_gso = &t->st.tx_bad_gso};
	struct virtio_net_hdr vh;
	if (!drv_tx_prepare(ifp, &p, t->sw_csum, &vh, &c))
		goto drop;
	struct iovec iov[TAP_MAX_IOV + 1];
	int n = 0;
	iov[n++] = (struct iovec){.iov_base = &vh, .iov_len = sizeof(vh)};
	for (struct pkt *s = p; s; s = s->next) {
		if (s->len == 0)
			continue;
		if (n == TAP_MAX_IOV + 1)
			goto drop;
		iov[n++] = (struct iovec){.iov_base = pkt_data(s), .iov_len = s->len};
	}
	ssize_t w;
	do
		w = writev(t->fd, iov, n);
	while (w < 0 && errno == EINTR);
	return drv_xmit_done(ifp, p, w == (ssize_t)(pkt_len(p) + sizeof(vh)));
drop:
	return drv_xmit_done(ifp, p, false);
}

static void tap_close(struct ng_iface *ifp)
{
	struct tap_dev *t = tap_of(ifp);
	drv_base_detach(&t->base);
	if (t->fd >= 0)
		close(t->fd);
	drv_gso_fini(ifp);
	free(t->spill);
	free(t);
}

static const struct ng_iface_ops tap_ops = {
	.xmit = tap_xmit,
	.flush = NULL,
	.close = tap_close,
};

void drv_tap_stats(const struct ng_iface *ifp, struct drv_tap_stats *out)
{
	*out = tap_of(ifp)->st;
}

static enum drv_err tap_setup(struct tap_dev *t, const struct drv_tap_config *cfg)
{
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0)
		return drv_errno(errno);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	memcpy(ifr.ifr_name, cfg->ifname, strlen(cfg->ifname));
	if (ioctl(t->fd, TUNSETIFF, &ifr) != 0)
		return drv_errno(errno);
	int hdrsz = (int)sizeof(struct virtio_net_hdr);
	if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdrsz) != 0)
		return drv_errno(errno);
	/* Partial checksums always.  Segmentation offloads only with tso:
	 * Linux then hands over TCP datagrams of up to 64 KiB (its own TSO
	 * sends, and what GRO coalesced) with the GSO fields set; without,
	 * every frame fits the MTU. */
	unsigned long off = TUN_F_CSUM;
	if (cfg->tso)
		off |= TUN_F_TSO4 | TUN_F_TSO6;
	if (ioctl(t->fd, TUNSETOFFLOAD, off) != 0)
		return drv_errno(errno);
	return DRV_OK;
}

enum drv_err drv_tap_open(const struct drv_tap_config *cfg, struct pkt_pool *pool,
			  struct exec_loop *loop, struct ng_iface **out)
{
	*out = NULL;
	if (!cfg || !pool || !cfg->ifname || !cfg->ifname[0] ||
	    strlen(cfg->ifname) >= IFNAMSIZ || ((cfg->tso || cfg->gso) && cfg->sw_csum))
		return DRV_EINVAL;
	struct tap_dev *t = calloc(1, sizeof(*t));
	if (!t)
		return DRV_ENOMEM;
	t->fd = -1;
	t->base.ifp.drv = t;
	enum drv_err e = DRV_ENOMEM;
	t->spill = malloc(TAP_SPILL);
	if (!t->spill)
		goto fail;
	if ((e = drv_base_name(&t->base, cfg->name, cfg->ifname)) != DRV_OK)
		goto fail;
	if ((e = tap_setup(t, cfg)) != DRV_OK)
		goto fail;

	struct ng_iface *ifp = &t->base.ifp;
	static const uint8_t zero[6];
	if (memcmp(cfg->mac, zero, 6) == 0)
		drv_random_mac(ifp->mac);
	else
		memcpy(ifp->mac, cfg->mac, 6);
	ifp->mtu = cfg->mtu;
	if (ifp->mtu == 0 && drv_netdev_mtu(cfg->ifname, &ifp->mtu) != 0)
		ifp->mtu = 1500;
	t->sw_csum = cfg->sw_csum;
	ifp->tx_csum_offload = !cfg->sw_csum;
	if ((cfg->tso || cfg->gso) && (e = drv_gso_init(ifp)) != DRV_OK)
		goto fail;
	t->tso = cfg->tso;
	ifp->ops = &tap_ops;
	ifp->pool = pool;
	ifp->driver = "tap";
	t->base.poller.poll = tap_poll;
	t->base.poller.ctx = t;
	t->base.poller.wait_handle = t->fd;
	if ((e = drv_base_attach(&t->base, loop)) != DRV_OK)
		goto fail;
	*out = ifp;
	return DRV_OK;
fail:
	tap_close(&t->base.ifp);
	return e;
}
