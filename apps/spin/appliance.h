/*
 * appliance.h - one running appliance: the config applied to the graph,
 * the run loop, the control socket.  Used by `spin run` and `spin replay`.
 *
 * Threads: everything here runs on the calling thread, which also runs the
 * packet loop; control commands are executed between packet turns, so the
 * tables they change are never written while a packet is being handled on
 * this thread (the tables are RCU-published anyway).
 */
#ifndef SPIN_APP_APPLIANCE_H
#define SPIN_APP_APPLIANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apps/spin/config.h"

struct appliance;

enum app_flags {
	APP_NO_CONTROL = 1u << 0,   /* no control socket (spin replay) */
	APP_UNTIL_EOF = 1u << 1,    /* stop when every file input is exhausted */
	APP_NO_SIGNALS = 1u << 2,   /* leave signal handling alone (tests) */
};

/* Brings up cfg (takes ownership): modules, pool, loop, interfaces,
 * addresses, routes, ARP, services, control socket.  On failure writes
 * "FILE:LINE: message" into err and returns NULL (everything undone). */
struct appliance *app_start(struct spin_config *cfg, unsigned flags, char *err, size_t errlen);
/* Runs until SIGINT/SIGTERM, `spin ctl stop`, or (APP_UNTIL_EOF) the end of
 * the inputs.  Returns 0. */
int app_run(struct appliance *a);
/* Tears everything down; returns the number of packet buffers leaked. */
uint64_t app_stop(struct appliance *a);

/* Re-reads the config file and applies it (see docs/config.md); on refusal
 * err holds "FILE:LINE: message" and nothing changed. */
int app_reload(struct appliance *a, char *err, size_t errlen);
/* Applies an already parsed config (takes ownership of cfg in every case). */
int app_reload_cfg(struct appliance *a, struct spin_config *cfg, char *err, size_t errlen);

/* Executes one control command line; the reply text is written to a
 * malloc'ed string in *out.  Returns 0 (OK) or 1 (error: *out holds the
 * message). */
int app_ctl(struct appliance *a, const char *line, char **out);

/* A growing reply buffer for control commands: s is malloc'ed (NULL while
 * empty), len excludes the terminating NUL. */
struct ctl_buf {
	char *s;
	size_t len, cap;
};
void ctl_printf(struct ctl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for a reply kept as a malloc'ed string (*out may be NULL). */
void ctl_outf(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runs the loop until the inputs are exhausted (replay). */
void app_run_until_eof(struct appliance *a);

/* `spin ctl fault ...` (apps/spin/ctl_fault.c): writes a malloc'ed reply
 * into *out; returns 0 or 1 as app_ctl. */
int app_ctl_fault(char **out, int argc, char **argv);

/* `spin ctl tcp ...` (apps/spin/ctl_tcp.c) but `tcp services`, which
 * appliance.c answers; same contract as app_ctl_fault. */
int app_ctl_tcp(char **out, int argc, char **argv);

/* `spin ctl ip|icmp [clear]` (apps/spin/ctl_stats.c): protocol counters;
 * same contract as app_ctl_fault. */
bool app_ctl_is_stats(const char *cmd);
int app_ctl_stats(char **out, int argc, char **argv);

/* Domains and extensions (apps/spin/ctl_domain.c): `load`, `unload`,
 * `domains`, `exports`, `imports`; same contract as app_ctl_fault. */
bool app_ctl_is_domain(const char *cmd);
int app_ctl_domain(char **out, int argc, char **argv);
/* Applies the config's trust and load lines (start only); on failure err
 * holds "FILE:LINE: message".  app_domain_stop unloads every extension. */
int app_domain_start(const struct spin_config *c, char *err, size_t errlen);
void app_domain_stop(void);

const struct spin_config *app_config(const struct appliance *a);

#endif
