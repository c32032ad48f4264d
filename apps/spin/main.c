/*
 * main.c - the spin command.
 *
 *   spin run CONFIG [--until-eof]      run an appliance in the foreground
 *   spin ctl [--socket PATH] CMD ...   talk to a running appliance
 *   spin replay FILE [--loops N] [--dot OUT.dot] [--png OUT.png] [--config CONF]
 *   spin modules                       list the built-in modules
 *
 * Exit status: 0 success; 1 a command failed (ctl error, leak at exit);
 * 2 bad usage or a config that cannot be used (FILE:LINE: message).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apps/spin/appliance.h"
#include "apps/spin/config.h"
#include "kernel/module/module.h"
#include "kernel/sal/sal.h"
#include "netgraph/graph.h"

static int usage(void)
{
	fprintf(stderr,
		"usage: spin run CONFIG [--until-eof]\n"
		"       spin ctl [--socket PATH] CMD [ARGS...] [--png FILE]\n"
		"         CMD: status | interfaces | routes | arp | counters [NODE|clear|getclear [NODE]]\n"
		"              | bindings [EVENT] | dot | trace on|off|flagged|clear|dump\n"
		"              | timing on|off | tcp [stats|conns|services|fetch ...] | fault ...\n"
		"              | reload | stop\n"
		"       spin replay FILE [--loops N] [--dot OUT.dot] [--png OUT.png] [--config CONF]\n"
		"       spin modules\n");
	return 2;
}

static int cmd_run(int argc, char **argv)
{
	struct spin_config *c;
	struct appliance *a;
	char err[512];
	unsigned flags = 0;
	const char *path = NULL;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--until-eof"))
			flags |= APP_UNTIL_EOF;
		else if (!path)
			path = argv[i];
		else
			return usage();
	}
	if (!path)
		return usage();
	if (cfg_parse_file(path, &c, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	a = app_start(c, flags, err, sizeof err);
	if (!a) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	/* Tests and scripts wait for this line. */
	printf("spin: running %s\n", path);
	app_run(a);
	int leaked = app_stop(a) != 0;
	printf("spin: stopped%s\n", leaked ? " (buffers leaked)" : "");
	return leaked;
}

/* Runs `dot -Tpng -o png` over the DOT text. */
static int write_png(const char *dot, const char *png)
{
	char cmd[1200];
	FILE *f;

	snprintf(cmd, sizeof cmd, "dot -Tpng -o '%s'", png);
	f = popen(cmd, "w");
	if (!f) {
		fprintf(stderr, "spin: cannot run dot: %s\n", strerror(errno));
		return 1;
	}
	fputs(dot, f);
	int st = pclose(f);
	if (st != 0) {
		fprintf(stderr, "spin: dot -Tpng failed (is graphviz installed?)\n");
		return 1;
	}
	return 0;
}

static int cmd_ctl(int argc, char **argv)
{
	const char *sock = getenv("SPIN_SOCKET"), *png = NULL;
	char line[1024] = "";
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char *reply = NULL;
	size_t len = 0, cap = 0;
	int fd, i;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			sock = argv[++i];
		} else if (!strcmp(argv[i], "--png") && i + 1 < argc) {
			png = argv[++i];
		} else {
			size_t l = strlen(line);
			snprintf(line + l, sizeof line - l, "%s%s", l ? " " : "", argv[i]);
		}
	}
	if (!line[0])
		return usage();
	if (png && strncmp(line, "dot", 3))
		return usage();
	if (!sock)
		sock = geteuid() == 0 ? "/run/spin/spin.sock" : "/tmp/spin.sock";
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
		fprintf(stderr, "spin ctl: %s: %s\n", sock, strerror(errno));
		return 1;
	}
	size_t l = strlen(line);
	line[l] = '\n';
	if (write(fd, line, l + 1) != (ssize_t)(l + 1)) {
		fprintf(stderr, "spin ctl: write: %s\n", strerror(errno));
		close(fd);
		return 1;
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 65536;
			char *r = realloc(reply, cap);
			if (!r)
				break;
			reply = r;
		}
		ssize_t n = read(fd, reply + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (!reply || len < 3) {
		fprintf(stderr, "spin ctl: no reply from %s\n", sock);
		free(reply);
		return 1;
	}
	reply[len] = 0;
	if (!strncmp(reply, "OK\n", 3)) {
		int rc = 0;
		if (png)
			rc = write_png(reply + 3, png);
		else
			fputs(reply + 3, stdout);
		free(reply);
		return rc;
	}
	fprintf(stderr, "%s", !strncmp(reply, "ERR ", 4) ? reply + 4 : reply);
	free(reply);
	return 1;
}

static const char default_replay_conf[] =
	"name replay\n"
	"interface rp0 driver replay file - mac 02:00:c6:12:00:02\n"
	"address rp0 198.19.0.1/16\n"
	"route 198.18.0.0/15 via 198.19.0.254\n"
	"arp rp0 198.19.0.254 02:00:c6:12:00:01\n"
	"service udp-echo port 7\n";

static int cmd_replay(int argc, char **argv)
{
	const char *file = NULL, *dot = NULL, *png = NULL, *conf = NULL;
	uint64_t loops = 1;
	struct spin_config *c;
	struct appliance *a;
	char err[512];
	int rc;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--loops") && i + 1 < argc)
			loops = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--dot") && i + 1 < argc)
			dot = argv[++i];
		else if (!strcmp(argv[i], "--png") && i + 1 < argc)
			png = argv[++i];
		else if (!strcmp(argv[i], "--config") && i + 1 < argc)
			conf = argv[++i];
		else if (!file && argv[i][0] != '-')
			file = argv[i];
		else
			return usage();
	}
	if (!file || loops == 0)
		return usage();
	rc = conf ? cfg_parse_file(conf, &c, err, sizeof err)
		  : cfg_parse_text("(built-in replay config)", default_replay_conf,
				   sizeof default_replay_conf - 1, &c, err, sizeof err);
	if (rc) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	/* The first replay interface plays FILE. */
	for (unsigned i = 0; i < c->n_ifaces; i++)
		if (c->ifaces[i].driver == CFG_DRV_REPLAY) {
			free(c->ifaces[i].file);
			c->ifaces[i].file = strdup(file);
			c->ifaces[i].loops = loops;
			break;
		}
	c->log = CFG_LOG_QUIET;
	a = app_start(c, APP_NO_CONTROL | APP_NO_SIGNALS, err, sizeof err);
	if (!a) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	ng_timing_set(true);
	uint64_t t0 = sal_now_ns();
	app_run_until_eof(a);
	uint64_t t1 = sal_now_ns();

	char *out = NULL;
	app_ctl(a, "counters", &out);
	printf("# spin replay %s, %llu loop(s), %.3f s\n", file, (unsigned long long)loops,
	       (double)(t1 - t0) / 1e9);
	printf("%s", out ? out : "");
	free(out);
	out = NULL;
	app_ctl(a, "dot", &out);
	if (dot) {
		FILE *f = fopen(dot, "w");
		if (!f || fputs(out, f) < 0) {
			fprintf(stderr, "spin replay: %s: %s\n", dot, strerror(errno));
			rc = 1;
		}
		if (f)
			fclose(f);
	} else {
		printf("%s", out);
	}
	if (png && write_png(out, png))
		rc = 1;
	free(out);
	if (app_stop(a))
		rc = 1;
	return rc;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 2, argv + 2);
	if (!strcmp(argv[1], "ctl"))
		return cmd_ctl(argc - 2, argv + 2);
	if (!strcmp(argv[1], "replay"))
		return cmd_replay(argc - 2, argv + 2);
	if (!strcmp(argv[1], "modules")) {
		for (unsigned i = 0; i < spin_builtin_count(); i++)
			printf("%s %u.%u %s\n", spin_builtin(i)->name,
			       SPIN_VERSION_MAJOR(spin_builtin(i)->version),
			       SPIN_VERSION_MINOR(spin_builtin(i)->version),
			       spin_builtin(i)->doc ? spin_builtin(i)->doc : "");
		return 0;
	}
	return usage();
}
