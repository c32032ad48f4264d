/*
 * inet.h - the IPv4 addresses of each interface.
 *
 * One small table shared by ARP (which answers for these addresses and
 * announces them) and IP (which accepts packets for them and picks source
 * addresses from them).  It lives in its own folder because both protocols
 * need it and neither should own the other.
 *
 * Addresses are host-order integers, as everywhere in the protocol APIs:
 * 198.18.0.1 is 0xc6120001 (IP_ADDR in protocols/ip/ip_wire.h builds them).
 *
 * Concurrency and cost: every lookup may run on any thread, takes no lock
 * and allocates nothing; an entry is one 64-bit word read with one acquire
 * load, so a reader never sees half an entry.  A lookup scans the at most
 * INET_ADDRS_PER_IF entries of one interface (about 10 ns); inet_addr_ifindex
 * scans every interface that has an address.  Changes (add, del, flush) are
 * control-path calls; they serialize on a mutex and may run on any thread.
 *
 * Notification: a successful inet_addr_add raises Inet_AddrAdded on the
 * calling thread (ARP sends its gratuitous ARP from there), so add addresses
 * on the run loop's thread or before the loop starts.
 */
#ifndef SPIN_INET_H
#define SPIN_INET_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/dispatch/dispatch.h"

#define INET_ADDRS_PER_IF 8

enum inet_err {
	INET_OK = 0,
	INET_EINVAL,    /* ifindex out of range, prefix length > 32, address 0 */
	INET_EEXIST,    /* the address is already on that interface */
	INET_ENOENT,    /* no such address on that interface */
	INET_EFULL,     /* INET_ADDRS_PER_IF addresses already */
};

struct inet_ifaddr {
	uint16_t ifindex;
	uint8_t plen;
	uint32_t addr;
};

/* Control path. */
int inet_addr_add(uint16_t ifindex, uint32_t addr, unsigned plen);
int inet_addr_del(uint16_t ifindex, uint32_t addr);
/* Removes every address of ifindex, or of every interface when ifindex is 0. */
void inet_addr_flush(uint16_t ifindex);
const char *inet_strerror(int err);

/* Lookups (packet path). */
/* True if addr is one of ifindex's own addresses. */
bool inet_addr_is_local(uint16_t ifindex, uint32_t addr);
/* The interface that owns addr, or 0 when none does. */
uint16_t inet_addr_ifindex(uint32_t addr);
/* The interface's first address (the one added earliest still present);
 * false when it has none. */
bool inet_addr_primary(uint16_t ifindex, struct inet_ifaddr *out);
/* The interface's address whose subnet holds dst (the longest such prefix),
 * i.e. dst is on-link there; false when none does. */
bool inet_addr_onlink(uint16_t ifindex, uint32_t dst, struct inet_ifaddr *out);
/* True if addr is the limited broadcast or the directed broadcast of one
 * of ifindex's subnets (prefixes shorter than /31). */
bool inet_addr_is_bcast(uint16_t ifindex, uint32_t addr);
/* Copies up to max addresses of ifindex (every interface when 0) into out;
 * returns how many there are. */
unsigned inet_addr_list(uint16_t ifindex, struct inet_ifaddr *out, unsigned max);

/* Raised after an address was added, on the thread that added it. */
SPIN_EVENT_DECLARE_VOID(Inet_AddrAdded, (uint16_t, ifindex), (uint32_t, addr))

#endif
