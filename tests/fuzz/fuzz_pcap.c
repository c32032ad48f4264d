/*
 * fuzz_pcap.c - capture files from anywhere: the pcap driver reads the input
 * through libpcap and hands each frame to the graph (no handler is
 * installed, so every frame ends at the Link layer's default and is freed).
 * Also runs the checksum locator and the virtio-net header parser (both
 * ways, GSO fields included) on every frame, since those read frame bytes
 * too: the input's first 10 bytes are the header, the rest the frame.  Any crash, hang or leaked buffer
 * is a bug.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "drivers/drv_util.h"
#include "drivers/pcap/drv_pcap.h"
#include "kernel/exec/exec.h"
#include "kernel/sal/sal.h"
#include "netgraph/pkt.h"

static struct pkt_pool *pool;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!pool) {
		sal_init();
		pool = pkt_pool_new("fuzz", 256, PKT_BUF_DEFAULT);
	}
	int fd = memfd_create("fuzz-pcap", 0);
	if (fd < 0)
		abort();
	if (write(fd, data, size) != (ssize_t)size)
		abort();
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

	struct drv_pcap_config cfg = {.name = "fz0", .in_path = path};
	struct ng_iface *ifp = NULL;
	if (drv_pcap_open(&cfg, pool, NULL, &ifp) == DRV_OK) {
		struct exec_poller *p = drv_poller(ifp);
		for (int turns = 0; turns < 100000 && !drv_pcap_eof(ifp); turns++)
			p->poll(p->ctx, 64);
		drv_close(ifp);
	}
	close(fd);

	/* The frame parsers the drivers use, on the raw bytes as one frame. */
	uint16_t start, off;
	(void)drv_csum_locate(data, (uint32_t)size, &start, &off);
	if (size >= sizeof(struct virtio_net_hdr)) {
		struct virtio_net_hdr h;
		memcpy(&h, data, sizeof h);
		struct pkt *pk = pkt_from_bytes(pool, data + sizeof h, size - sizeof h);
		if (pk) {
			bool ok = drv_vnet_to_pkt(&h, pk);
			/* A refused header leaves no state; an accepted GSO
			 * frame has a size. */
			if (!ok && (pk->gso_type != PKT_GSO_NONE || pk->csum != PKT_CSUM_NONE))
				abort();
			if (ok && pk->gso_type != PKT_GSO_NONE && pk->gso_size == 0)
				abort();
			/* And back, as a driver sending it would: a GSO header
			 * it writes describes a frame longer than one piece. */
			struct virtio_net_hdr back;
			if (drv_vnet_from_pkt(pk, &back) &&
			    back.gso_type != VIRTIO_NET_HDR_GSO_NONE &&
			    (back.gso_size != pk->gso_size || back.hdr_len >= pkt_len(pk) ||
			     pkt_len(pk) - back.hdr_len <= back.gso_size))
				abort();
			if (pk->csum == PKT_CSUM_PARTIAL)
				(void)pkt_csum_complete(pk);
			pkt_free(pk);
		}
	}
	if (pkt_pools_outstanding() != 0)
		abort();
	return 0;
}
