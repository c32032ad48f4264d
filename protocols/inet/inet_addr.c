/*
 * inet_addr.c - the per-interface IPv4 address table (see inet.h).
 *
 * Each slot is one atomic 64-bit word: bit 63 says the slot is in use, bits
 * 32..37 hold the prefix length and bits 0..31 the address.  Readers load a
 * word once and decode it, so an entry can never be seen half written; a
 * writer holds the mutex and stores whole words.  Slots of one interface
 * are kept packed in insertion order, so the first one is the primary
 * address and a scan stops at the first empty slot.
 */
#include "protocols/inet/inet.h"

#include "kernel/module/module.h"
#include "kernel/sal/sal.h"
#include "netgraph/iface.h"

#define SLOT_USED (1ull << 63)

static _Atomic uint64_t inet_tab[NG_IF_MAX + 1][INET_ADDRS_PER_IF];
static _Atomic(struct sal_mutex *) inet_mu_once;

SPIN_MODULE(inet_module, .name = "inet", .version = SPIN_VERSION(1, 0),
	    .doc = "IPv4 addresses of each interface");

SPIN_EVENT_DEFINE(Inet_AddrAdded, .owner = &inet_module,
		  .doc = "an IPv4 address was added to an interface");

static inline uint64_t slot_make(uint32_t addr, unsigned plen)
{
	return SLOT_USED | ((uint64_t)plen << 32) | addr;
}

static inline bool slot_decode(uint64_t w, uint16_t ifindex, struct inet_ifaddr *out)
{
	if (!(w & SLOT_USED))
		return false;
	if (out) {
		out->ifindex = ifindex;
		out->plen = (uint8_t)((w >> 32) & 0x3f);
		out->addr = (uint32_t)w;
	}
	return true;
}

static inline uint64_t slot_load(uint16_t ifindex, unsigned i)
{
	return atomic_load_explicit(&inet_tab[ifindex][i], memory_order_acquire);
}

static inline uint32_t mask_of(unsigned plen)
{
	return plen == 0 ? 0 : 0xffffffffu << (32 - plen);
}

/* The mutex is made on first use so the table works before any module
 * init ran (tests and the config loader add addresses early). */
static void lock(void)
{
	struct sal_mutex *m = atomic_load_explicit(&inet_mu_once, memory_order_acquire);
	if (!m) {
		struct sal_mutex *n = sal_mutex_new();
		struct sal_mutex *expect = NULL;
		if (atomic_compare_exchange_strong(&inet_mu_once, &expect, n)) {
			m = n;
		} else {
			sal_mutex_free(n);
			m = expect;
		}
	}
	sal_mutex_lock(m);
}

static void unlock(void)
{
	sal_mutex_unlock(atomic_load_explicit(&inet_mu_once, memory_order_relaxed));
}

const char *inet_strerror(int err)
{
	switch (err) {
	case INET_OK: return "ok";
	case INET_EINVAL: return "invalid interface, address or prefix length";
	case INET_EEXIST: return "address already on the interface";
	case INET_ENOENT: return "no such address on the interface";
	case INET_EFULL: return "too many addresses on the interface";
	}
	return "unknown error";
}

int inet_addr_add(uint16_t ifindex, uint32_t addr, unsigned plen)
{
	if (ifindex == 0 || ifindex > NG_IF_MAX || plen > 32 || addr == 0)
		return INET_EINVAL;
	int err = INET_EFULL;
	lock();
	for (unsigned i = 0; i < INET_ADDRS_PER_IF; i++) {
		struct inet_ifaddr a;
		if (!slot_decode(slot_load(ifindex, i), ifindex, &a)) {
			atomic_store_explicit(&inet_tab[ifindex][i], slot_make(addr, plen),
					      memory_order_release);
			err = INET_OK;
			break;
		}
		if (a.addr == addr) {
			err = INET_EEXIST;
			break;
		}
	}
	unlock();
	if (err == INET_OK)
		Inet_AddrAdded_raise(ifindex, addr);
	return err;
}

int inet_addr_del(uint16_t ifindex, uint32_t addr)
{
	if (ifindex == 0 || ifindex > NG_IF_MAX)
		return INET_EINVAL;
	int err = INET_ENOENT;
	lock();
	for (unsigned i = 0; i < INET_ADDRS_PER_IF; i++) {
		struct inet_ifaddr a;
		if (!slot_decode(slot_load(ifindex, i), ifindex, &a))
			break;
		if (a.addr != addr)
			continue;
		/* Close the gap so the slots stay packed; a reader racing this
		 * may see an entry twice or miss a moving one for an instant,
		 * never a torn one. */
		for (unsigned j = i; j + 1 < INET_ADDRS_PER_IF; j++)
			atomic_store_explicit(&inet_tab[ifindex][j], slot_load(ifindex, j + 1),
					      memory_order_release);
		atomic_store_explicit(&inet_tab[ifindex][INET_ADDRS_PER_IF - 1], 0,
				      memory_order_release);
		err = INET_OK;
		break;
	}
	unlock();
	return err;
}

void inet_addr_flush(uint16_t ifindex)
{
	if (ifindex > NG_IF_MAX)
		return;
	lock();
	for (uint16_t k = ifindex ? ifindex : 1; k <= (ifindex ? ifindex : NG_IF_MAX); k++)
		for (unsigned i = 0; i < INET_ADDRS_PER_IF; i++)
			atomic_store_explicit(&inet_tab[k][i], 0, memory_order_release);
	unlock();
}

bool inet_addr_is_local(uint16_t ifindex, uint32_t addr)
{
	if (ifindex == 0 || ifindex > NG_IF_MAX)
		return false;
	for (unsigned i = 0; i < INET_ADDRS_PER_IF; i++) {
		uint64_t w = slot_load(ifindex, i);
		if (!(w & SLOT_USED))
			return false;
		if ((uint32_t)w == addr)
			return true;
	}
	return false;
}

uint16_t inet_addr_ifindex(uint32_t addr)
{
	for (uint16_t k = 1; k <= NG_IF_MAX; k++)
		if (inet_addr_is_local(k, addr))
			return k;
	return 0;
}

bool inet_addr_primary(uint16_t ifindex, struct inet_ifaddr *out)
{
	if (ifindex == 0 || ifindex > NG_IF_MAX)
		return false;
	return slot_decode(slot_load(ifindex, 0), ifindex, out);
}

bool inet_addr_onlink(uint16_t ifindex, uint32_t dst, struct inet_ifaddr *out)
{
	if (ifindex == 0 || ifindex > NG_IF_MAX)
		return false;
	bool found = false;
	struct inet_ifaddr best = {0};
	for (unsigned i = 0; i < INET_ADDRS_PER_IF; i++) {
		struct inet_ifaddr a;
		if (!slot_decode(slot_load(ifindex, i), ifindex, &a))
			break;
		uint32_t m = mask_of(a.plen);
		if ((a.addr & m) == (dst & m) && (!found || a.plen > best.plen)) {
			best = a;
			found = true;
		}
	}
	if (found && out)
		*out = best;
	return found;
}

bool inet_addr_is_bcast(uint16_t ifindex, uint32_t addr)
{
	if (addr == 0xffffffffu)
		return true;
	if (ifindex == 0 || ifindex > NG_IF_MAX)
		return false;
	for (unsigned i = 0; i < INET_ADDRS_PER_IF; i++) {
		struct inet_ifaddr a;
		if (!slot_decode(slot_load(ifindex, i), ifindex, &a))
			break;
		if (a.plen >= 31)
			continue;
		uint32_t m = mask_of(a.plen);
		if ((a.addr & m) == (addr & m) && (addr | m) == 0xffffffffu)
			return true;
	}
	return false;
}

unsigned inet_addr_list(uint16_t ifindex, struct inet_ifaddr *out, unsigned max)
{
	if (ifindex > NG_IF_MAX)
		return 0;
	unsigned n = 0;
	for (uint16_t k = ifindex ? ifindex : 1; k <= (ifindex ? ifindex : NG_IF_MAX); k++)
		for (unsigned i = 0; i < INET_ADDRS_PER_IF; i++) {
			struct inet_ifaddr a;
			if (!slot_decode(slot_load(k, i), k, &a))
				break;
			if (n < max && out)
				out[n] = a;
			n++;
		}
	return n;
}
