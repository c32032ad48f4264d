/*
 * tcpsvc.c - the listener and connection slots every TCP service module
 * uses (tcpsvc_priv.h).  Control path except accept, release and close,
 * which run on the packet loop and only move slots between lists.
 */
#include "apps/tcpsvc/tcpsvc_priv.h"

#include "apps/echo/svc_args.h"
#include "kernel/sal/sal.h"

/* Listener handler: gives the new connection a slot and the service's own
 * handlers.  No slot left: refused (TCP resets it). */
static bool svc_accept(void *ctx, struct tcp_conn *c)
{
	struct tcpsvc *s = ctx;
	struct tcpsvc_conn *k = s->free;

	if (!k) {
		s->st.refused++;
		return false;
	}
	s->free = k->next_free;
	memset(k, 0, sizeof *k);
	k->svc = s;
	k->c = c;
	k->used = true;
	s->st.accepted++;
	s->st.active++;
	tcp_set_handlers(c, s->kind->h, k);
	if (s->kind->on_accept)
		s->kind->on_accept(k);
	return true;
}

static const struct tcp_handlers listen_handlers = {.accept = svc_accept};

void tcpsvc_release(struct tcpsvc_conn *k)
{
	struct tcpsvc *s = k->svc;

	if (!k->used)
		return;
	if (k->pending)
		pkt_free(k->pending);
	exec_timer_cancel(&k->retry);
	k->pending = NULL;
	k->used = false;
	k->c = NULL;
	k->next_free = s->free;
	s->free = k;
	s->st.active--;
}

void tcpsvc_close(struct tcpsvc_conn *k)
{
	if (!k->closing) {
		k->closing = true;
		tcp_close(k->c);
	}
}

int tcpsvc_start(const struct tcpsvc_kind *k, uint16_t port, struct tcpsvc **out)
{
	struct tcp_config tc;
	struct tcpsvc *s;
	int rc;

	*out = NULL;
	tcp_config_get(&tc);
	s = sal_calloc(1, sizeof *s);
	if (!s)
		return TCP_ENOMEM;
	s->kind = k;
	s->nslots = tc.max_conns ? tc.max_conns : 4096;
	s->slots = sal_calloc(s->nslots, sizeof *s->slots);
	if (!s->slots) {
		sal_free(s);
		return TCP_ENOMEM;
	}
	for (unsigned i = s->nslots; i-- > 0;) {
		s->slots[i].next_free = s->free;
		s->free = &s->slots[i];
	}
	s->st.port = port;
	struct tcp_listen_opts o = {
		.port = port,
		.conn = {.manual_recv = k->manual_recv, .nodelay = k->nodelay},
	};
	rc = tcp_listen(&o, &listen_handlers, s, &s->l);
	if (rc != TCP_OK) {
		sal_free(s->slots);
		sal_free(s);
		return rc;
	}
	sal_log(SAL_LOG_INFO, "%s listening on port %u", k->name, (unsigned)port);
	*out = s;
	return TCP_OK;
}

void tcpsvc_stop(struct tcpsvc *s)
{
	if (!s)
		return;
	tcp_unlisten(s->l);
	/* The slots go away with the service, so its connections end now:
	 * tcp_abort runs their closed handlers, which release the slots. */
	for (unsigned i = 0; i < s->nslots; i++)
		if (s->slots[i].used)
			tcp_abort(s->slots[i].c);
	sal_free(s->slots);
	sal_free(s);
}

void tcpsvc_stats(const struct tcpsvc *s, struct tcpsvc_stats *out)
{
	*out = s->st;
}

int tcpsvc_own_start(const struct tcpsvc_kind *k, struct tcpsvc_own *own, const char *args)
{
	uint16_t ports[TCPSVC_MAX_ARGS];
	int n = svc_args_ports(args, ports, TCPSVC_MAX_ARGS);

	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		int rc = tcpsvc_start(k, ports[i], &own->v[own->n]);

		if (rc != TCP_OK) {
			tcpsvc_own_stop(own);
			return rc;
		}
		own->n++;
	}
	return 0;
}

void tcpsvc_own_stop(struct tcpsvc_own *own)
{
	while (own->n)
		tcpsvc_stop(own->v[--own->n]);
}
