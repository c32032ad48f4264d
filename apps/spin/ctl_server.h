/*
 * ctl_server.h - the appliance's control socket (docs/spin-command.md).
 *
 * A Unix stream socket that takes one command line per connection and
 * answers "OK\n" or "ERR " followed by the command's output, then closes.
 * The socket I/O runs on a thread of its own, so a slow or stuck client
 * (one that connects and never sends its line, or never reads its reply)
 * stalls only the control socket, never the packet loop.  The command
 * itself runs on the loop, between two turns, through exec_defer: commands
 * touch the loop's state (tables, bindings, services) and so must not run
 * beside it.  Connections are served one at a time; each read and write
 * gives up after CTL_SERVER_TIMEOUT_MS.
 */
#ifndef SPIN_APPS_SPIN_CTL_SERVER_H
#define SPIN_APPS_SPIN_CTL_SERVER_H

#include <stddef.h>

struct exec_loop;

#define CTL_SERVER_TIMEOUT_MS 2000

/* Runs one command line on the loop; *out (malloc'd, may stay NULL) is the
 * reply's text.  Returns 0 for OK, nonzero for ERR. */
typedef int (*ctl_server_fn)(void *arg, const char *line, char **out);

struct ctl_server;

/* Binds PATH (making its directory; replacing a socket file that nobody
 * answers on, refusing one that a running appliance answers on) and starts
 * the I/O thread.  NULL with a one-line reason in err on failure. */
struct ctl_server *ctl_server_open(const char *path, struct exec_loop *loop, ctl_server_fn fn,
				   void *arg, char *err, size_t n);

/* Stops the thread (a connection being served is dropped), closes the
 * socket and removes its file.  Call it from the loop's thread when the loop
 * is not running, or from the loop itself only if no command is pending.
 * NULL is ignored. */
void ctl_server_close(struct ctl_server *s);

#endif
