/*
 * drv_replay.c - in-memory replay device.  Contract and costs in
 * drv_replay.h.
 */
#include "drivers/replay/drv_replay.h"

#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/drv_util.h"
#include "kernel/sal/sal.h"
#include "netgraph/pkt.h"

struct replay_frame {
	uint64_t off;     /* into the arena */
	uint32_t len;
};

struct replay_dev {
	struct drv_base base;     /* first: ifp->drv points here */
	uint8_t *arena;
	struct replay_frame *frames;
	uint64_t nframes, loops;
	uint64_t next;            /* index of the next frame to feed */
	struct drv_replay_stats st;
};

static struct replay_dev *rp_of(const struct ng_iface *ifp)
{
	return (struct replay_dev *)ifp->drv;
}

static bool rp_done(const struct replay_dev *r)
{
	return r->nframes == 0 || r->st.loops_done >= r->loops;
}

/* Every frame copied is handed to ng_iface_input, which consumes it. */
static int rp_poll(void *ctx, int budget)
{
	struct replay_dev *r = ctx;
	struct ng_iface *ifp = &r->base.ifp;
	int done = 0;
	while (done < budget && !rp_done(r)) {
		const struct replay_frame *f = &r->frames[r->next];
		struct pkt *p = pkt_from_bytes(ifp->pool, r->arena + f->off, f->len);
		if (!p) {
			r->st.nobuf++;
			break;
		}
		if (++r->next == r->nframes) {
			r->next = 0;
			r->st.loops_done++;
		}
		r->st.fed++;
		done++;
		ng_iface_input(ifp, p);
	}
	return done;
}

/* A sink: consumes p, counting it as sent. */
static int rp_xmit(struct ng_iface *ifp, struct pkt *p)
{
	return drv_xmit_done(ifp, p, true);
}

static void rp_close(struct ng_iface *ifp)
{
	struct replay_dev *r = rp_of(ifp);
	drv_base_detach(&r->base);
	free(r->arena);
	free(r->frames);
	free(r);
}

static const struct ng_iface_ops rp_ops = {
	.xmit = rp_xmit,
	.flush = NULL,
	.close = rp_close,
};

bool drv_replay_done(const struct ng_iface *ifp)
{
	return rp_done(rp_of(ifp));
}

void drv_replay_stats(const struct ng_iface *ifp, struct drv_replay_stats *out)
{
	*out = rp_of(ifp)->st;
}

/* Reads the whole file into the arena.  Control path: the arena and index
 * grow by doubling while loading and are trimmed to size at the end. */
static enum drv_err rp_load(struct replay_dev *r, const char *path)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline(path, err);
	if (!pc) {
		sal_log(SAL_LOG_WARN, "replay: %s", err);
		return DRV_ENODEV;
	}
	enum drv_err e = DRV_OK;
	if (pcap_datalink(pc) != DLT_EN10MB) {
		sal_log(SAL_LOG_WARN, "replay %s: link type %d is not Ethernet", path,
			pcap_datalink(pc));
		e = DRV_EINVAL;
		goto out;
	}
	uint64_t cap_bytes = 0, cap_frames = 0, used = 0;
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc;
	while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
		if (h->caplen < 14 || h->caplen < h->len) {
			/* Truncated records are not frames; the file is still
			 * played, without them. */
			continue;
		}
		if (r->nframes == cap_frames) {
			cap_frames = cap_frames ? cap_frames * 2 : 1024;
			void *n = realloc(r->frames, cap_frames * sizeof(*r->frames));
			if (!n) {
				e = DRV_ENOMEM;
				goto out;
			}
			r->frames = n;
		}
		if (used + h->caplen > cap_bytes) {
			cap_bytes = cap_bytes ? cap_bytes * 2 : 1u << 20;
			while (used + h->caplen > cap_bytes)
				cap_bytes *= 2;
			void *n = realloc(r->arena, cap_bytes);
			if (!n) {
				e = DRV_ENOMEM;
				goto out;
			}
			r->arena = n;
		}
		memcpy(r->arena + used, data, h->caplen);
		r->frames[r->nframes++] = (struct replay_frame){.off = used, .len = h->caplen};
		used += h->caplen;
	}
	if (rc == PCAP_ERROR) {
		sal_log(SAL_LOG_WARN, "replay %s: %s", path, pcap_geterr(pc));
		e = DRV_EIO;
		goto out;
	}
	if (used > 0) {
		void *n = realloc(r->arena, used);
		if (n)
			r->arena = n;
	}
	r->st.frames_per_loop = r->nframes;
	r->st.bytes_per_loop = used;
out:
	pcap_close(pc);
	return e;
}

enum drv_err drv_replay_open(const struct drv_replay_config *cfg, struct pkt_pool *pool,
			     struct exec_loop *loop, struct ng_iface **out)
{
	*out = NULL;
	if (!cfg || !pool || !cfg->path || cfg->loops == 0)
		return DRV_EINVAL;
	struct replay_dev *r = calloc(1, sizeof(*r));
	if (!r)
		return DRV_ENOMEM;
	r->base.ifp.drv = r;
	struct ng_iface *ifp = &r->base.ifp;
	enum drv_err e;
	if ((e = drv_base_name(&r->base, cfg->name, NULL)) != DRV_OK)
		goto fail;
	if ((e = rp_load(r, cfg->path)) != DRV_OK)
		goto fail;
	r->loops = cfg->loops;
	static const uint8_t zero[6];
	if (memcmp(cfg->mac, zero, 6) == 0)
		drv_random_mac(ifp->mac);
	else
		memcpy(ifp->mac, cfg->mac, 6);
	ifp->mtu = 1500;
	ifp->tx_csum_offload = true;   /* a sink: nothing to finish */
	ifp->ops = &rp_ops;
	ifp->pool = pool;
	ifp->driver = "replay";
	r->base.poller.poll = rp_poll;
	r->base.poller.ctx = r;
	r->base.poller.wait_handle = -1;
	if ((e = drv_base_attach(&r->base, loop)) != DRV_OK)
		goto fail;
	*out = ifp;
	return DRV_OK;
fail:
	rp_close(ifp);
	return e;
}
