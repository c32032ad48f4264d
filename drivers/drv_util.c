/*
 * drv_util.c - helpers shared by the hosted drivers: interface bookkeeping,
 * virtio-net headers, checksum location, Linux netdev queries.
 */
#include "drivers/drv_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_ether.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kernel/sal/sal.h"
#include "netgraph/pkt.h"

const char *drv_strerror(enum drv_err e)
{
	switch (e) {
	case DRV_OK: return "ok";
	case DRV_EINVAL: return "invalid configuration";
	case DRV_ENODEV: return "no such device or file";
	case DRV_EPERM: return "not permitted";
	case DRV_ENOMEM: return "out of memory";
	case DRV_EIO: return "device error";
	case DRV_EEXIST: return "interface name taken";
	}
	return "?";
}

enum drv_err drv_errno(int err)
{
	switch (err) {
	case 0: return DRV_OK;
	case ENOENT: case ENODEV: case ENXIO: return DRV_ENODEV;
	case EPERM: case EACCES: return DRV_EPERM;
	case ENOMEM: case ENOBUFS: return DRV_ENOMEM;
	case EINVAL: return DRV_EINVAL;
	case EEXIST: case EBUSY: return DRV_EEXIST;
	default: return DRV_EIO;
	}
}

/* --- interface bookkeeping ------------------------------------------------- */
struct exec_poller *drv_poller(struct ng_iface *ifp)
{
	return &((struct drv_base *)ifp->drv)->poller;
}

void drv_close(struct ng_iface *ifp)
{
	if (ifp && ifp->ops && ifp->ops->close)
		ifp->ops->close(ifp);
}

enum drv_err drv_base_name(struct drv_base *b, const char *name, const char *devname)
{
	const char *n = name && name[0] ? name : devname;
	if (!n || !n[0] || strlen(n) >= NG_IFNAMSIZ)
		return DRV_EINVAL;
	snprintf(b->ifp.name, sizeof(b->ifp.name), "%s", n);
	return DRV_OK;
}

enum drv_err drv_base_attach(struct drv_base *b, struct exec_loop *loop)
{
	b->ifp.drv = b;
	b->poller.name = b->ifp.name;
	if (ng_iface_register(&b->ifp) != 0)
		return DRV_EEXIST;
	b->registered = true;
	if (loop) {
		if (exec_poller_add(loop, &b->poller) != 0) {
			drv_base_detach(b);
			return DRV_EIO;
		}
		b->loop = loop;
	}
	return DRV_OK;
}

void drv_base_detach(struct drv_base *b)
{
	if (b->loop) {
		exec_poller_del(b->loop, &b->poller);
		b->loop = NULL;
	}
	if (b->registered) {
		ng_iface_unregister(&b->ifp);
		b->registered = false;
	}
}

/* --- virtio-net header -----------------------------------------------------
 * Older uapi headers lack the UDP segmentation type (Linux 5.18). */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

bool drv_vnet_to_pkt(const struct virtio_net_hdr *h, struct pkt *p)
{
	p->csum = PKT_CSUM_NONE;
	p->gso_type = PKT_GSO_NONE;
	p->gso_size = 0;
	if (h->gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		uint8_t t;
		switch (h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN) {
		case VIRTIO_NET_HDR_GSO_TCPV4: t = PKT_GSO_TCPV4; break;
		case VIRTIO_NET_HDR_GSO_TCPV6: t = PKT_GSO_TCPV6; break;
		case VIRTIO_NET_HDR_GSO_UDP_L4: t = PKT_GSO_UDP_L4; break;
		default: return false;   /* UFO or unknown: nothing we parse */
		}
		if (h->gso_size == 0)
			return false;
		p->gso_type = t;
		p->gso_size = h->gso_size;
	}
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if ((uint32_t)h->csum_start + h->csum_offset + 2 > pkt_len(p)) {
			p->gso_type = PKT_GSO_NONE;
			p->gso_size = 0;
			return false;
		}
		p->csum = PKT_CSUM_PARTIAL;
		p->csum_start = h->csum_start;
		p->csum_offset = h->csum_offset;
	} else if (h->flags & VIRTIO_NET_HDR_F_DATA_VALID) {
		p->csum = PKT_CSUM_VERIFIED;
	}
	return true;
}

bool drv_vnet_from_pkt(const struct pkt *p, struct virtio_net_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->gso_type = VIRTIO_NET_HDR_GSO_NONE;
	if (p->csum == PKT_CSUM_PARTIAL) {
		h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h->csum_start = p->csum_start;
		h->csum_offset = p->csum_offset;
	}
	if (p->gso_type == PKT_GSO_NONE)
		return true;
	/* Linux cuts only what it can finish the checksum of, and needs
	 * the TCP header's length to copy the headers into every piece. */
	uint8_t off_rsv;
	if (p->gso_type != PKT_GSO_TCPV4 || p->gso_size == 0 || p->csum != PKT_CSUM_PARTIAL ||
	    p->csum_offset != 16 || !pkt_copy_out(p, (uint32_t)p->csum_start + 12, &off_rsv, 1))
		return false;
	uint32_t hdr_len = (uint32_t)p->csum_start + (uint32_t)(off_rsv >> 4) * 4;
	if ((off_rsv >> 4) < 5 || hdr_len >= pkt_len(p))
		return false;
	if (pkt_len(p) - hdr_len <= p->gso_size)
		return true;    /* one piece: an ordinary frame */
	h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h->gso_size = p->gso_size;
	h->hdr_len = (uint16_t)hdr_len;
	return true;
}

/* --- checksum location ----------------------------------------------------- */
bool drv_csum_locate(const uint8_t *f, uint32_t len, uint16_t *start, uint16_t *offset)
{
	uint32_t off = 12;
	if (len < 14)
		return false;
	uint16_t type = (uint16_t)(f[off] << 8 | f[off + 1]);
	for (int tags = 0; tags < 2 && (type == ETH_P_8021Q || type == ETH_P_8021AD); tags++) {
		off += 4;
		if (len < off + 2)
			return false;
		type = (uint16_t)(f[off] << 8 | f[off + 1]);
	}
	off += 2;   /* first byte of the network header */

	uint8_t proto;
	if (type == ETH_P_IP) {
		if (len < off + 20 || (f[off] >> 4) != 4)
			return false;
		uint32_t ihl = (uint32_t)(f[off] & 0x0f) * 4;
		if (ihl < 20)
			return false;
		proto = f[off + 9];
		off += ihl;
	} else if (type == ETH_P_IPV6) {
		if (len < off + 40 || (f[off] >> 4) != 6)
			return false;
		proto = f[off + 6];
		off += 40;
		/* Hop-by-hop, routing, fragment and destination options may sit
		 * in front of the transport header; eight is plenty. */
		for (int i = 0; i < 8; i++) {
			if (proto != 0 && proto != 43 && proto != 44 && proto != 60)
				break;
			if (len < off + 8)
				return false;
			uint32_t hlen = proto == 44 ? 8 : ((uint32_t)f[off + 1] + 1) * 8;
			proto = f[off];
			off += hlen;
		}
	} else {
		return false;
	}

	uint16_t where;
	if (proto == IPPROTO_TCP)
		where = 16;
	else if (proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE)
		where = 6;
	else
		return false;
	if (off + where + 2 > len || off > UINT16_MAX)
		return false;
	*start = (uint16_t)off;
	*offset = where;
	return true;
}

/* --- TSO ------------------------------------------------------------------------- */
enum drv_err drv_gso_init(struct ng_iface *ifp)
{
	char name[NG_IFNAMSIZ + 8];
	snprintf(name, sizeof(name), "%s.gso", ifp->name);
	ifp->gso_pool = pkt_pool_new(name, DRV_GSO_BUFS, PKT_BUF_GSO);
	if (!ifp->gso_pool)
		return DRV_ENOMEM;
	ifp->gso_max = DRV_GSO_MAX;
	return DRV_OK;
}

void drv_gso_fini(struct ng_iface *ifp)
{
	struct pkt_pool_stats st;

	if (ifp->gso_pool) {
		/* Coalesced frames can outlive the interface in a layer's
		 * queue (a TCP connection that has not been torn down yet).
		 * Their owner frees them later, so the pool must stay: it is
		 * left registered (still counted by pkt_pools_outstanding
		 * until they come back) instead of being freed as leaking. */
		pkt_pool_stats(ifp->gso_pool, &st);
		if (st.outstanding == 0)
			pkt_pool_free(ifp->gso_pool);
		else
			sal_log(SAL_LOG_INFO, "%s: %llu large buffers still held in the graph; "
				"their pool stays", ifp->name, (unsigned long long)st.outstanding);
	}
	ifp->gso_pool = NULL;
	ifp->gso_max = 0;
}

bool drv_tx_prepare(struct ng_iface *ifp, struct pkt **pp, bool sw_csum,
		    struct virtio_net_hdr *vh, const struct drv_tx_counts *c)
{
	if ((*pp)->csum == PKT_CSUM_PARTIAL) {
		if (sw_csum) {
			if (!drv_csum_finish(pp))
				return false;
			(*c->csum_sw)++;
		} else {
			(*c->csum_offloaded)++;
		}
	}
	if (!vh)
		return true;
	if (!drv_vnet_from_pkt(*pp, vh)) {
		(*c->bad_gso)++;
		return false;
	}
	if (vh->gso_type != VIRTIO_NET_HDR_GSO_NONE)
		ifp->stats.tx_gso++;
	return true;
}

int drv_xmit_done(struct ng_iface *ifp, struct pkt *p, bool sent)
{
	if (sent) {
		ifp->stats.tx_packets++;
		ifp->stats.tx_bytes += pkt_len(p);
	} else {
		ifp->stats.tx_drops++;
	}
	pkt_free(p);
	return sent ? 0 : -1;
}

bool drv_csum_finish(struct pkt **pp)
{
	if ((*pp)->csum != PKT_CSUM_PARTIAL)
		return true;
	/* pkt_unshare costs one pass over the segments when none is shared. */
	if (!pkt_unshare(pp))
		return false;
	return pkt_csum_complete(*pp);
}

/* --- Linux network devices ------------------------------------------------- */
static int ifreq_ioctl(const char *ifname, unsigned long req, struct ifreq *ifr)
{
	if (strlen(ifname) >= IFNAMSIZ)
		return -EINVAL;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	memset(ifr, 0, sizeof(*ifr));
	memcpy(ifr->ifr_name, ifname, strlen(ifname));
	int rc = ioctl(s, req, ifr) == 0 ? 0 : -errno;
	close(s);
	return rc;
}

int drv_netdev_index(const char *ifname)
{
	return (int)if_nametoindex(ifname);
}

int drv_netdev_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr;
	int rc = ifreq_ioctl(ifname, SIOCGIFHWADDR, &ifr);
	if (rc == 0)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return rc;
}

int drv_netdev_mtu(const char *ifname, uint32_t *mtu)
{
	struct ifreq ifr;
	int rc = ifreq_ioctl(ifname, SIOCGIFMTU, &ifr);
	if (rc == 0)
		*mtu = (uint32_t)ifr.ifr_mtu;
	return rc;
}

void drv_random_mac(uint8_t mac[6])
{
	if (getrandom(mac, 6, 0) != 6) {
		uint64_t x = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;
		memcpy(mac, &x, 6);
	}
	mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02);
}

static int write_sysctl(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, val, strlen(val));
	int rc = n == (ssize_t)strlen(val) ? 0 : -errno;
	close(fd);
	return rc;
}

/* One RTM_DELADDR for an IPv4 address, answered with an ack. */
static int del_ipv4(int nl, int ifindex, struct in_addr addr, unsigned prefixlen)
{
	struct {
		struct nlmsghdr nh;
		struct ifaddrmsg ifa;
		struct rtattr rta;
		struct in_addr local;
	} req;
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = RTM_DELADDR;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req.nh.nlmsg_seq = 1;
	req.ifa.ifa_family = AF_INET;
	req.ifa.ifa_prefixlen = (unsigned char)prefixlen;
	req.ifa.ifa_index = (unsigned)ifindex;
	req.rta.rta_type = IFA_LOCAL;
	req.rta.rta_len = RTA_LENGTH(sizeof(struct in_addr));
	req.local = addr;
	if (send(nl, &req, sizeof(req), 0) < 0)
		return -errno;
	char buf[512];
	ssize_t n = recv(nl, buf, sizeof(buf), 0);
	if (n < (ssize_t)sizeof(struct nlmsghdr))
		return n < 0 ? -errno : -EIO;
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;
	if (nh->nlmsg_type == NLMSG_ERROR) {
		struct nlmsgerr *e = NLMSG_DATA(nh);
		return e->error == -EADDRNOTAVAIL ? 0 : e->error;
	}
	return 0;
}

int drv_netdev_quiet(const char *ifname)
{
	int ifindex = drv_netdev_index(ifname);
	if (ifindex <= 0)
		return -ENODEV;
	char path[128];
	int rc = 0;

	/* IPv6 may be absent from the kernel; then there is nothing to quiet. */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
	int r = write_sysctl(path, "1");
	if (r != 0 && r != -ENOENT)
		rc = r;
	/* arp_ignore 8: never answer ARP on this interface, whatever the
	 * addresses elsewhere in the namespace. */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/arp_ignore", ifname);
	r = write_sysctl(path, "8");
	if (r != 0 && rc == 0)
		rc = r;

	struct ifaddrs *ifa0;
	if (getifaddrs(&ifa0) != 0)
		return rc ? rc : -errno;
	int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl < 0) {
		freeifaddrs(ifa0);
		return rc ? rc : -errno;
	}
	for (struct ifaddrs *a = ifa0; a; a = a->ifa_next) {
		if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET ||
		    strcmp(a->ifa_name, ifname) != 0)
			continue;
		struct in_addr ip = ((struct sockaddr_in *)(void *)a->ifa_addr)->sin_addr;
		unsigned plen = 32;
		if (a->ifa_netmask)
			plen = (unsigned)__builtin_popcount(
			    ((struct sockaddr_in *)(void *)a->ifa_netmask)->sin_addr.s_addr);
		r = del_ipv4(nl, ifindex, ip, plen);
		if (r != 0 && rc == 0)
			rc = r;
	}
	close(nl);
	freeifaddrs(ifa0);
	return rc;
}
