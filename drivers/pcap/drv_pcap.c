/*
 * drv_pcap.c - pcap driver.  Contract and costs in drv_pcap.h.
 */
#include "drivers/pcap/drv_pcap.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drivers/drv_util.h"
#include "kernel/sal/sal.h"
#include "netgraph/pkt.h"

#define PCAP_LINEAR 262144   /* largest chained packet written to a file */

struct pcap_dev {
	struct drv_base base;     /* first: ifp->drv points here */
	pcap_t *in;               /* file or live handle, or NULL */
	pcap_t *dead;             /* template for the dumper */
	pcap_dumper_t *dump;
	bool live, eof;
	enum drv_pcap_ts ts_mode;
	int precision;            /* PCAP_TSTAMP_PRECISION_* of the output */
	uint64_t last_sec, last_frac; /* timestamp of the last frame read */
	struct pcap_pkthdr *pend_h;   /* a record read but not yet handed on */
	const u_char *pend_data;
	uint8_t *linear;          /* for chained packets, allocated on first need */
	struct drv_pcap_stats st;
};

static struct pcap_dev *pd_of(const struct ng_iface *ifp)
{
	return (struct pcap_dev *)ifp->drv;
}

/* Hands one record to the graph: copied into a pool buffer, then consumed
 * by ng_iface_input.  false when the pool is empty. */
static bool pd_input(struct pcap_dev *d, const struct pcap_pkthdr *h, const u_char *data)
{
	struct ng_iface *ifp = &d->base.ifp;
	d->last_sec = (uint64_t)h->ts.tv_sec;
	d->last_frac = (uint64_t)h->ts.tv_usec;
	if (h->caplen < h->len || h->caplen < 14) {
		/* A record cut by the capture's snaplen is not a frame. */
		d->st.rx_skipped++;
		ifp->stats.rx_drops++;
		return true;
	}
	struct pkt *p = pkt_from_bytes(ifp->pool, data, h->caplen);
	if (!p) {
		d->st.rx_nobuf++;
		return false;
	}
	d->st.rx_frames++;
	ng_iface_input(ifp, p);
	return true;
}

/* File input: each record read is handed on or counted as dropped.  When
 * the pool is empty the record stays pending (libpcap keeps its bytes until
 * the next read) and is retried at the next poll, so no frame of a file is
 * lost to a small pool. */
static int pd_poll_file(void *ctx, int budget)
{
	struct pcap_dev *d = ctx;
	int done = 0;
	while (d->in && !d->eof && done < budget) {
		struct pcap_pkthdr *h = d->pend_h;
		const u_char *data = d->pend_data;
		d->pend_h = NULL;
		if (h) {
			if (!pd_input(d, h, data)) {
				d->pend_h = h;
				break;
			}
			done++;
			continue;
		}
		int rc = pcap_next_ex(d->in, &h, &data);
		if (rc != 1) {
			if (rc == PCAP_ERROR)
				sal_log(SAL_LOG_WARN, "pcap %s: %s; input ends here",
					d->base.ifp.name, pcap_geterr(d->in));
			d->eof = true;
			break;
		}
		if (!pd_input(d, h, data)) {
			d->pend_h = h;
			d->pend_data = data;
			break;
		}
		done++;
	}
	return done;
}

/* libpcap cannot take a frame back: with the pool empty it is dropped. */
static void pd_live_cb(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
	struct pcap_dev *d = (struct pcap_dev *)(void *)user;
	if (!pd_input(d, h, data))
		d->base.ifp.stats.rx_drops++;
}

static int pd_poll_live(void *ctx, int budget)
{
	struct pcap_dev *d = ctx;
	int n = pcap_dispatch(d->in, budget, pd_live_cb, (u_char *)d);
	return n > 0 ? n : 0;
}

/* Consumes p in every case. */
static int pd_xmit(struct ng_iface *ifp, struct pkt *p)
{
	struct pcap_dev *d = pd_of(ifp);
	if (!d->dump && !d->live)
		goto drop;
	if (p->csum == PKT_CSUM_PARTIAL) {
		if (!drv_csum_finish(&p))
			goto drop;
		d->st.tx_csum_sw++;
	}
	uint32_t len = pkt_len(p);
	const uint8_t *bytes = pkt_data(p);
	if (p->next) {
		if (len > PCAP_LINEAR)
			goto drop;
		if (!d->linear && !(d->linear = malloc(PCAP_LINEAR)))
			goto drop;
		if (!pkt_copy_out(p, 0, d->linear, len))
			goto drop;
		bytes = d->linear;
	}
	if (d->live) {
		if (pcap_inject(d->in, bytes, len) != (int)len)
			goto drop;
	} else {
		struct pcap_pkthdr h = {.caplen = len, .len = len};
		if (d->ts_mode == DRV_PCAP_TS_INPUT && d->in) {
			h.ts.tv_sec = (time_t)d->last_sec;
			h.ts.tv_usec = (suseconds_t)d->last_frac;
		} else {
			struct timespec now;
			clock_gettime(CLOCK_REALTIME, &now);
			h.ts.tv_sec = now.tv_sec;
			h.ts.tv_usec = d->precision == PCAP_TSTAMP_PRECISION_NANO
					   ? now.tv_nsec
					   : now.tv_nsec / 1000;
		}
		pcap_dump((u_char *)d->dump, &h, bytes);
	}
	d->st.tx_written++;
	return drv_xmit_done(ifp, p, true);
drop:
	return drv_xmit_done(ifp, p, false);
}

static void pd_flush(struct ng_iface *ifp)
{
	struct pcap_dev *d = pd_of(ifp);
	if (d->dump)
		pcap_dump_flush(d->dump);
}

static void pd_close(struct ng_iface *ifp)
{
	struct pcap_dev *d = pd_of(ifp);
	drv_base_detach(&d->base);
	if (d->dump)
		pcap_dump_close(d->dump);
	if (d->dead)
		pcap_close(d->dead);
	if (d->in)
		pcap_close(d->in);
	free(d->linear);
	free(d);
}

static const struct ng_iface_ops pd_ops = {
	.xmit = pd_xmit,
	.flush = pd_flush,
	.close = pd_close,
};

bool drv_pcap_eof(const struct ng_iface *ifp)
{
	const struct pcap_dev *d = pd_of(ifp);
	return !d->live && (d->eof || !d->in);
}

void drv_pcap_stats(const struct ng_iface *ifp, struct drv_pcap_stats *out)
{
	*out = pd_of(ifp)->st;
}

/* The precision a classic pcap file was written with, from its magic; micro
 * for anything else (pcapng, unreadable). */
static int file_precision(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint32_t magic = 0;
	if (!f)
		return PCAP_TSTAMP_PRECISION_MICRO;
	size_t n = fread(&magic, sizeof(magic), 1, f);
	fclose(f);
	if (n == 1 && (magic == 0xa1b23c4d || magic == 0x4d3cb2a1))
		return PCAP_TSTAMP_PRECISION_NANO;
	return PCAP_TSTAMP_PRECISION_MICRO;
}

static enum drv_err pd_open_input(struct pcap_dev *d, const struct drv_pcap_config *cfg)
{
	char err[PCAP_ERRBUF_SIZE];
	if (cfg->live_ifname) {
		d->live = true;
		d->in = pcap_create(cfg->live_ifname, err);
		if (!d->in)
			return DRV_ENODEV;
		pcap_set_snaplen(d->in, 65535);
		pcap_set_immediate_mode(d->in, 1);
		pcap_set_promisc(d->in, cfg->promisc ? 1 : 0);
		int rc = pcap_activate(d->in);
		if (rc < 0) {
			sal_log(SAL_LOG_WARN, "pcap %s: %s", cfg->live_ifname, pcap_geterr(d->in));
			return rc == PCAP_ERROR_PERM_DENIED ? DRV_EPERM
			       : rc == PCAP_ERROR_NO_SUCH_DEVICE ? DRV_ENODEV
								 : DRV_EIO;
		}
		if (pcap_datalink(d->in) != DLT_EN10MB || pcap_setnonblock(d->in, 1, err) != 0)
			return DRV_EINVAL;
		(void)pcap_setdirection(d->in, PCAP_D_IN);
		return DRV_OK;
	}
	if (cfg->in_path) {
		d->precision = file_precision(cfg->in_path);
		d->in = pcap_open_offline_with_tstamp_precision(cfg->in_path,
								(u_int)d->precision, err);
		if (!d->in) {
			sal_log(SAL_LOG_WARN, "pcap: %s", err);
			return DRV_ENODEV;
		}
		if (pcap_datalink(d->in) != DLT_EN10MB) {
			sal_log(SAL_LOG_WARN, "pcap %s: link type %d is not Ethernet", cfg->in_path,
				pcap_datalink(d->in));
			return DRV_EINVAL;
		}
	}
	return DRV_OK;
}

enum drv_err drv_pcap_open(const struct drv_pcap_config *cfg, struct pkt_pool *pool,
			   struct exec_loop *loop, struct ng_iface **out)
{
	*out = NULL;
	if (!cfg || !pool || (cfg->live_ifname && cfg->in_path))
		return DRV_EINVAL;
	struct pcap_dev *d = calloc(1, sizeof(*d));
	if (!d)
		return DRV_ENOMEM;
	d->base.ifp.drv = d;
	d->precision = PCAP_TSTAMP_PRECISION_MICRO;
	d->ts_mode = cfg->ts;
	struct ng_iface *ifp = &d->base.ifp;
	enum drv_err e;
	if ((e = drv_base_name(&d->base, cfg->name, NULL)) != DRV_OK)
		goto fail;
	if ((e = pd_open_input(d, cfg)) != DRV_OK)
		goto fail;
	if (cfg->out_path && !d->live) {
		int snap = d->in ? pcap_snapshot(d->in) : 65535;
		d->dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, snap,
							       (u_int)d->precision);
		if (!d->dead) {
			e = DRV_ENOMEM;
			goto fail;
		}
		d->dump = pcap_dump_open(d->dead, cfg->out_path);
		if (!d->dump) {
			sal_log(SAL_LOG_WARN, "pcap: %s", pcap_geterr(d->dead));
			e = DRV_EIO;
			goto fail;
		}
	}
	static const uint8_t zero[6];
	ifp->mtu = 1500;
	if (memcmp(cfg->mac, zero, 6) != 0) {
		memcpy(ifp->mac, cfg->mac, 6);
	} else if (!d->live || drv_netdev_mac(cfg->live_ifname, ifp->mac) != 0) {
		drv_random_mac(ifp->mac);
	}
	if (d->live)
		(void)drv_netdev_mtu(cfg->live_ifname, &ifp->mtu);
	ifp->tx_csum_offload = false;
	ifp->ops = &pd_ops;
	ifp->pool = pool;
	ifp->driver = "pcap";
	d->base.poller.poll = d->live ? pd_poll_live : pd_poll_file;
	d->base.poller.ctx = d;
	d->base.poller.wait_handle = d->live ? pcap_get_selectable_fd(d->in) : -1;
	if ((e = drv_base_attach(&d->base, loop)) != DRV_OK)
		goto fail;
	*out = ifp;
	return DRV_OK;
fail:
	pd_close(ifp);
	return e;
}
