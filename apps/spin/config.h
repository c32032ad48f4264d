/*
 * config.h - the appliance config file (format: docs/config.md).
 *
 * cfg_parse_* turn text into a struct spin_config and nothing else: they
 * open no device and touch no table, so a config can be checked completely
 * before anything is applied (start-up and reload use the same path).
 * Every element remembers the line it came from, so errors found later
 * (a device that will not open) still name FILE:LINE.
 *
 * Errors: a parse returns CFG_EINVAL and writes one line "FILE:LINE:
 * message" (no newline) into err.  Memory: a parsed config owns all its
 * strings; cfg_free releases it.
 */
#ifndef SPIN_APP_CONFIG_H
#define SPIN_APP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CFG_NAMESIZ 16          /* names: up to 15 characters */

enum cfg_err { CFG_OK = 0, CFG_EINVAL, CFG_ENOENT, CFG_ENOMEM };

enum cfg_driver { CFG_DRV_AFPACKET = 1, CFG_DRV_TAP, CFG_DRV_PCAP, CFG_DRV_REPLAY };
enum cfg_loop { CFG_LOOP_BLOCKING = 0, CFG_LOOP_BUSY };
enum cfg_log { CFG_LOG_INFO = 0, CFG_LOG_QUIET, CFG_LOG_DEBUG };
enum cfg_service_kind {
	CFG_SVC_UDP_ECHO = 1,
	CFG_SVC_TCP_ECHO,       /* apps/tcpsvc: RFC 862 over TCP */
	CFG_SVC_TCP_DISCARD,    /* RFC 863 */
	CFG_SVC_TCP_CHARGEN,    /* RFC 864 */
	CFG_SVC_IPERF3,         /* apps/iperf3: an iperf3 server */
};
enum cfg_fault_dir { CFG_FAULT_RX = 1, CFG_FAULT_TX = 2, CFG_FAULT_BOTH = 3 };

struct cfg_iface {
	char name[CFG_NAMESIZ];
	enum cfg_driver driver;
	char *dev;              /* afpacket, tap */
	char *in, *out, *live;  /* pcap */
	char *file;             /* replay */
	uint64_t loops;         /* replay; 1 when not given */
	uint8_t mac[6];
	bool has_mac;
	uint32_t mtu;           /* 0: the device's */
	bool promisc, capture, sw_csum, no_quiet;
	bool tso;               /* afpacket (latency), tap: segmentation offloads */
	bool gso;               /* the same, sending only (tso implies it) */
	int line;
};

/* IPv4 addresses are host-order integers here. */
struct cfg_addr {
	char ifname[CFG_NAMESIZ];
	uint32_t addr;
	uint8_t plen;
	int line;
};

struct cfg_route {
	uint32_t prefix;
	uint8_t plen;
	bool has_gw;
	uint32_t gw;
	char dev[CFG_NAMESIZ];  /* "" when not given */
	int line;
};

struct cfg_arp {
	char ifname[CFG_NAMESIZ];
	uint32_t ip;
	uint8_t mac[6];
	int line;
};

struct cfg_service {
	enum cfg_service_kind kind;
	uint16_t port;
	int line;
};

/* A fault-injection node (netgraph/fault) on an interface's receive and/or
 * send edge.  "both" makes two nodes, NAME.rx and NAME.tx, with the same
 * spec; otherwise the node is NAME.  ifname "all" means every interface
 * without a node of its own. */
struct cfg_fault {
	char name[CFG_NAMESIZ];
	char ifname[CFG_NAMESIZ];
	enum cfg_fault_dir dir;
	char *spec;             /* as fault_parse reads it; checked by the parser */
	int line;
};

struct spin_config {
	char *path;             /* as given to the parser */
	char name[CFG_NAMESIZ]; /* "" when not given */
	char *control;          /* NULL when not given */
	char *syscall;          /* `syscall PATH`: apps/syscall socket, or NULL */
	int syscall_line;
	enum cfg_loop loop;
	uint32_t loop_linger_us; /* `loop blocking linger USEC`; 0 when not given */
	uint32_t pool_bufs, pool_size;
	enum cfg_log log;
	bool forwarding;
	uint8_t tcp_cc;         /* `tcp cc`: 0 not given (newreno), else enum tcp_cc */
	bool tcp_sack_off;      /* `tcp sack off` */
	int name_line, control_line, pool_line;

	struct cfg_iface *ifaces;   unsigned n_ifaces;
	struct cfg_addr *addrs;     unsigned n_addrs;
	struct cfg_route *routes;   unsigned n_routes;
	struct cfg_arp *arps;       unsigned n_arps;
	struct cfg_service *svcs;   unsigned n_svcs;
	struct cfg_fault *faults;   unsigned n_faults;
	/* `trust KEYFILE` and `load OBJECT [ARGS]` lines, kept as written
	 * (words joined by one space); apps/spin/ctl_domain.c applies them. */
	struct cfg_domain_line { int line; char *text; } *domlines; unsigned n_domlines;
};

/* Parses a file.  CFG_ENOENT when it cannot be read (err says why). */
int cfg_parse_file(const char *path, struct spin_config **out, char *err, size_t errlen);
/* Parses text of length len (need not be NUL-terminated); path names it in
 * errors. */
int cfg_parse_text(const char *path, const char *text, size_t len,
		   struct spin_config **out, char *err, size_t errlen);
void cfg_free(struct spin_config *c);

/* Whether running config `old` may become `new` by reload: the name, the
 * control socket, the pool and every interface must be unchanged.  On
 * refusal writes "FILE:LINE: message" naming the line of `new` (or of its
 * first line) and returns CFG_EINVAL. */
int cfg_reload_check(const struct spin_config *old, const struct spin_config *new,
		     char *err, size_t errlen);

/* Lookup helpers. */
/* "udp-echo", "tcp-echo", ... */
const char *cfg_service_name(enum cfg_service_kind k);
static inline bool cfg_service_is_tcp(enum cfg_service_kind k) { return k != CFG_SVC_UDP_ECHO; }
const struct cfg_iface *cfg_iface_find(const struct spin_config *c, const char *name);
const char *cfg_driver_name(enum cfg_driver d);
/* "198.18.0.2" into buf (at least 16 bytes); returns buf. */
char *cfg_ip_str(uint32_t ip, char *buf);
/* The control socket path: control, or the default for the name. */
void cfg_control_path(const struct spin_config *c, char *buf, size_t size);

#endif
