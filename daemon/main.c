/* main.c - arguments, daemonizing, pidfile, signals, start and stop order. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "calls.h"
#include "ctl.h"
#include "line.h"
#include "lines.h"
#include "log.h"
#include "loop.h"
#include "memtrim.h"
#include "notify.h"
#include "resolver.h"
#include "sip.h"
#include "store.h"
#include "version.h"

/* SIGTERM: every line's un-REGISTER must be done within this (issue 2),
 * then nua gets what is left of STOP_NUA_MS to close its transports. */
#define STOP_UNREGISTER_MS 4000
#define STOP_TOTAL_MS 5000

struct daemon {
	struct conf *conf;          /* until lines_init takes it */
	const char *conf_file;
	bool debug;
	struct lines *lines;
	struct store *store;
	struct event_base *base;
	struct loop *loop;
	struct sip *sip;
	struct resolver *res;
	struct ctl *ctl;
	struct calls *calls;
	struct event *sig_term, *sig_int, *sig_hup;
	struct event *stop_timer;
	bool stopping, sip_down, lines_down;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sipuad [-fndvV] [-c FILE] [-p PIDFILE]\n"
		"  -c FILE  configuration (default %s)\n"
		"  -f       stay in the foreground, log to stderr\n"
		"  -n       check the configuration and exit (0 ok, 1 errors)\n"
		"  -v       with -n: also print it in canonical form\n"
		"  -d       debug logging\n"
		"  -p FILE  write the daemon's PID to FILE\n"
		"  -V       print the version and exit\n",
		CONF_DEFAULT_FILE);
}

static void arm_ms(struct event *ev, long ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	evtimer_add(ev, &tv);
}

static void sip_down_cb(void *arg)
{
	struct daemon *d = arg;
	d->sip_down = true;
	event_base_loopexit(d->base, NULL);
}

/* Second phase: every line is quiet (or out of time); close the stack. */
static void stop_sip(struct daemon *d)
{
	if (!d->sip || d->lines_down)
		return;
	d->lines_down = true;
	ctl_free(d->ctl); /* subscribers have seen every line's last event */
	d->ctl = NULL;
	ctl_set_calls(NULL);
	calls_free(d->calls);
	d->calls = NULL;
	/* Handles go first: nua_shutdown would otherwise un-REGISTER again on
	 * its own, and wait out 64*T1 on a dead server. */
	lines_free(d->lines);
	d->lines = NULL;
	sip_shutdown(d->sip, sip_down_cb, d);
	arm_ms(d->stop_timer, STOP_TOTAL_MS - STOP_UNREGISTER_MS);
}

/* lines_stop() calls this from the loop, never from inside a line. */
static void lines_stopped_cb(void *arg)
{
	stop_sip(arg);
}

static void stop_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct daemon *d = arg;
	if (!d->lines_down) {
		log_warn("stop: un-REGISTER not finished in %d ms", STOP_UNREGISTER_MS);
		stop_sip(d);
	} else {
		log_warn("stop: SIP stack did not close in time");
		event_base_loopexit(d->base, NULL);
	}
}

static void begin_stop(struct daemon *d)
{
	if (d->stopping) {
		log_warn("stop: second signal, exiting now");
		event_base_loopexit(d->base, NULL);
		return;
	}
	d->stopping = true;
	notify_stopping();
	log_info("stopping: un-registering %d line(s)", lines_view(d->lines)->n);
	arm_ms(d->stop_timer, STOP_UNREGISTER_MS);
	calls_stop(d->calls); /* BYE, CANCEL or reject: the far ends are not left ringing */
	lines_stop(d->lines, lines_stopped_cb, d);
}

/* The whole file again, all or nothing, then only the lines that changed
 * are touched. */
static int reload(struct daemon *d, char *err, size_t size)
{
	struct conf *nc = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *ef = open_memstream(&text, &len);
	int rc = ef ? conf_load(d->conf_file, &nc, ef) : -1;
	if (ef)
		fclose(ef);
	if (rc != 0) {
		char *save = NULL;
		for (char *ln = strtok_r(text, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save))
			log_error("reload: %s", ln);
		snprintf(err, size, "reload refused, configuration unchanged: %s",
			 text && *text ? text : "cannot read the configuration");
		free(text);
		return -1;
	}
	free(text);
	const struct conf *c = nc;
	if (lines_reload(d->lines, nc, err, size) != 0) {
		log_error("%s", err);
		conf_free(nc);
		return -1;
	}
	for (int i = 0; i < c->n_lines; i++)
		log_add_secret(c->lines[i].password);
	calls_rebind(d->calls, lines_conf(d->lines));
	if (!d->debug)
		log_set_level((enum log_level)c->log_level);
	return 0;
}

/* SIGHUP and the control socket's reload, told to the service manager. */
static int reload_cb(void *arg, char *err, size_t size)
{
	struct daemon *d = arg;
	/* The manager holds other reload requests until READY=1 again,
	 * whether this one is applied or refused. */
	notify_reloading();
	int rc = reload(d, err, size);
	notify_ready();
	return rc;
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct daemon *d = arg;
	if (sig == SIGHUP) {
		char err[512];
		log_info("SIGHUP: reloading %s", d->conf_file);
		reload_cb(d, err, sizeof err);
		return;
	}
	begin_stop(d);
}

/* Detach, but let the parent exit only when the child is ready (or report
 * its failure), so init scripts see a real exit status. */
static int daemonize(int *ready_fd)
{
	int p[2];
	if (pipe(p) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		char status = 1;
		close(p[1]);
		if (read(p[0], &status, 1) != 1)
			status = 1;
		_exit(status);
	}
	close(p[0]);
	if (setsid() < 0)
		return -1;
	if (chdir("/") != 0)
		return -1;
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	*ready_fd = p[1];
	return 0;
}

static void tell_parent(int *ready_fd, char status)
{
	if (*ready_fd < 0)
		return;
	if (write(*ready_fd, &status, 1) != 1) {
		/* the parent is gone: nothing to tell */
	}
	close(*ready_fd);
	*ready_fd = -1;
}

static int write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "%ld\n", (long)getpid());
	return fclose(f);
}

static int start(struct daemon *d)
{
	d->base = event_base_new();
	if (!d->base)
		return -1;
	if (loop_init(&d->loop, d->base) != 0)
		return -1;
	if (sip_init(&d->sip, d->loop, d->conf) != 0)
		return -1;
	struct conf *c = d->conf;
	d->store = store_open(c->database); /* NULL: run from memory, said in the log */
	if (resolver_init(&d->res, d->base, d->loop, d->store, c->resolv_conf, c->dns_timeout,
			  strchr(c->listen, ':') != NULL) != 0)
		return -1;
	if (lines_init(&d->lines, d->base, d->sip, d->store, d->res, c) != 0) {
		d->conf = NULL; /* lines_free took it */
		return -1;
	}
	d->conf = NULL;
	if (calls_init(&d->calls, d->base, d->sip, lines_conf(d->lines), lines_view(d->lines)) != 0)
		return -1;
	ctl_set_calls(d->calls);
	if (ctl_init(&d->ctl, d->base, c, lines_view(d->lines), reload_cb, d) != 0)
		return -1;
	d->sig_term = evsignal_new(d->base, SIGTERM, signal_cb, d);
	d->sig_int = evsignal_new(d->base, SIGINT, signal_cb, d);
	d->sig_hup = evsignal_new(d->base, SIGHUP, signal_cb, d);
	d->stop_timer = evtimer_new(d->base, stop_timer_cb, d);
	if (!d->sig_term || !d->sig_int || !d->sig_hup || !d->stop_timer ||
	    event_add(d->sig_term, NULL) || event_add(d->sig_int, NULL) || event_add(d->sig_hup, NULL))
		return -1;
	lines_start(d->lines);
	return 0;
}

static void teardown(struct daemon *d)
{
	ctl_free(d->ctl);
	ctl_set_calls(NULL);
	calls_free(d->calls);
	d->calls = NULL;
	lines_free(d->lines);
	d->lines = NULL;
	if (d->sip && !d->sip_down && d->base) {
		/* Not shut down through the signal path (a start-up failure):
		 * nua must still be shut down before it can be destroyed. */
		struct timeval tv = { .tv_sec = 1 };
		sip_shutdown(d->sip, sip_down_cb, d);
		event_base_loopexit(d->base, &tv);
		event_base_dispatch(d->base);
	}
	memtrim_free();
	resolver_free(d->res); /* before the su_root its sockets live on */
	sip_free(d->sip);
	store_close(d->store);
	loop_free(d->loop);
	if (d->sig_term)
		event_free(d->sig_term);
	if (d->sig_int)
		event_free(d->sig_int);
	if (d->sig_hup)
		event_free(d->sig_hup);
	if (d->stop_timer)
		event_free(d->stop_timer);
	if (d->base)
		event_base_free(d->base);
	conf_free(d->conf);
}

int main(int argc, char **argv)
{
	const char *file = CONF_DEFAULT_FILE, *pidfile = NULL;
	bool foreground = false, check = false, verbose = false, debug = false;
	int opt;

	while ((opt = getopt(argc, argv, "c:fnvdp:Vh")) != -1) {
		switch (opt) {
		case 'c': file = optarg; break;
		case 'f': foreground = true; break;
		case 'n': check = true; break;
		case 'v': verbose = true; break;
		case 'd': debug = true; break;
		case 'p': pidfile = optarg; break;
		case 'V': printf("sipuad %s\n", SIPUAD_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}

	struct daemon d = { .conf_file = file, .debug = debug };
	if (conf_load(file, &d.conf, stderr) != 0)
		return 1; /* all or nothing: the errors are printed */
	if (check) {
		if (verbose)
			conf_print(d.conf, stdout);
		conf_free(d.conf);
		return 0;
	}

	enum log_level lvl = debug ? LOG_LVL_DEBUG : (enum log_level)d.conf->log_level;
	log_init("sipuad", foreground, lvl);
	for (int i = 0; i < d.conf->n_lines; i++)
		log_add_secret(d.conf->lines[i].password);
	log_redirect_sofia();
	int nerr = notify_init();
	if (nerr < 0)
		log_warn("NOTIFY_SOCKET unusable (%s): no readiness notification", strerror(-nerr));
	signal(SIGPIPE, SIG_IGN);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	srandom((unsigned)(ts.tv_nsec ^ ts.tv_sec ^ getpid()));

	int ready_fd = -1;
	if (!foreground && daemonize(&ready_fd) != 0) {
		fprintf(stderr, "sipuad: cannot daemonize: %s\n", strerror(errno));
		return 1;
	}
	if (pidfile && write_pidfile(pidfile) != 0) {
		log_error("cannot write pidfile %s: %s", pidfile, strerror(errno));
		tell_parent(&ready_fd, 1);
		conf_free(d.conf);
		return 1;
	}
	int rc = 0;
	if (start(&d) != 0) {
		log_error("start-up failed; exiting");
		rc = 1;
	} else {
		log_info("sipuad %s started: %d line(s) from %s", SIPUAD_VERSION,
			 lines_view(d.lines)->n, file);
		tell_parent(&ready_fd, 0);
		notify_ready(); /* after the control socket listens: it accepts */
		event_base_dispatch(d.base);
		log_info("sipuad stopped");
	}
	teardown(&d);
	notify_close();
	if (pidfile)
		unlink(pidfile);
	/* A failed start is reported only once nothing of it is left behind. */
	tell_parent(&ready_fd, (char)rc);
	log_close();
	return rc;
}
