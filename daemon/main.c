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
#include "ctl.h"
#include "line.h"
#include "log.h"
#include "loop.h"
#include "sip.h"
#include "version.h"

/* SIGTERM: every line's un-REGISTER must be done within this (issue 2),
 * then nua gets what is left of STOP_NUA_MS to close its transports. */
#define STOP_UNREGISTER_MS 4000
#define STOP_TOTAL_MS 5000

struct daemon {
	struct conf *conf;
	struct event_base *base;
	struct loop *loop;
	struct sip *sip;
	struct ctl *ctl;
	struct line_set lines;
	struct event *sig_term, *sig_int, *sig_hup;
	struct event *stop_timer;
	struct event *stop_next;   /* runs stop_sip() from the loop, not from a line's callback */
	int pending_stops;
	bool stopping, sip_down;
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
	if (!d->sip || d->pending_stops < 0)
		return;
	d->pending_stops = -1;
	/* Handles go first: nua_shutdown would otherwise un-REGISTER again on
	 * its own, and wait out 64*T1 on a dead server. */
	for (int i = 0; i < d->lines.n; i++)
		line_free(d->lines.v[i]);
	d->lines.n = 0;
	sip_shutdown(d->sip, sip_down_cb, d);
	arm_ms(d->stop_timer, STOP_TOTAL_MS - STOP_UNREGISTER_MS);
}

static void stop_next_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	stop_sip(arg);
}

static void line_stopped_cb(void *arg)
{
	struct daemon *d = arg;
	/* Called from inside a line's own step: the lines are freed on the
	 * next loop iteration, never under their own feet. */
	if (d->pending_stops > 0 && --d->pending_stops == 0)
		event_active(d->stop_next, EV_TIMEOUT, 0);
}

static void stop_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct daemon *d = arg;
	if (d->pending_stops > 0) {
		log_warn("stop: %d line(s) did not finish un-REGISTER in %d ms",
			 d->pending_stops, STOP_UNREGISTER_MS);
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
	log_info("stopping: un-registering %d line(s)", d->lines.n);
	ctl_free(d->ctl);
	d->ctl = NULL;
	d->pending_stops = d->lines.n + 1; /* +1 held until every stop is issued */
	arm_ms(d->stop_timer, STOP_UNREGISTER_MS);
	for (int i = 0; i < d->lines.n; i++)
		line_stop(d->lines.v[i], line_stopped_cb, d);
	line_stopped_cb(d);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct daemon *d = arg;
	if (sig == SIGHUP) {
		log_warn("SIGHUP: reload is not implemented yet; configuration unchanged");
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
	d->lines.v = calloc((size_t)d->conf->n_lines + 1, sizeof *d->lines.v);
	if (!d->lines.v)
		return -1;
	for (int i = 0; i < d->conf->n_lines; i++) {
		d->lines.v[i] = line_new(d->base, d->sip, d->conf, &d->conf->lines[i]);
		if (!d->lines.v[i]) {
			log_error("%s: cannot create the line", d->conf->lines[i].id);
			return -1;
		}
		d->lines.n++;
	}
	if (ctl_init(&d->ctl, d->base, d->conf, &d->lines) != 0)
		return -1;
	d->sig_term = evsignal_new(d->base, SIGTERM, signal_cb, d);
	d->sig_int = evsignal_new(d->base, SIGINT, signal_cb, d);
	d->sig_hup = evsignal_new(d->base, SIGHUP, signal_cb, d);
	d->stop_timer = evtimer_new(d->base, stop_timer_cb, d);
	d->stop_next = evtimer_new(d->base, stop_next_cb, d);
	if (!d->sig_term || !d->sig_int || !d->sig_hup || !d->stop_timer || !d->stop_next ||
	    event_add(d->sig_term, NULL) || event_add(d->sig_int, NULL) || event_add(d->sig_hup, NULL))
		return -1;
	for (int i = 0; i < d->lines.n; i++)
		line_start(d->lines.v[i]);
	return 0;
}

static void teardown(struct daemon *d)
{
	ctl_free(d->ctl);
	for (int i = 0; i < d->lines.n; i++)
		line_free(d->lines.v[i]);
	free(d->lines.v);
	if (d->sip && !d->sip_down && d->base) {
		/* Not shut down through the signal path (a start-up failure):
		 * nua must still be shut down before it can be destroyed. */
		struct timeval tv = { .tv_sec = 1 };
		sip_shutdown(d->sip, sip_down_cb, d);
		event_base_loopexit(d->base, &tv);
		event_base_dispatch(d->base);
	}
	sip_free(d->sip);
	loop_free(d->loop);
	if (d->sig_term)
		event_free(d->sig_term);
	if (d->sig_int)
		event_free(d->sig_int);
	if (d->sig_hup)
		event_free(d->sig_hup);
	if (d->stop_timer)
		event_free(d->stop_timer);
	if (d->stop_next)
		event_free(d->stop_next);
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

	struct daemon d = { .pending_stops = 0 };
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
		tell_parent(&ready_fd, 1);
		rc = 1;
	} else {
		log_info("sipuad %s started: %d line(s) from %s", SIPUAD_VERSION, d.lines.n, file);
		tell_parent(&ready_fd, 0);
		event_base_dispatch(d.base);
		log_info("sipuad stopped");
	}
	teardown(&d);
	if (pidfile)
		unlink(pidfile);
	log_close();
	return rc;
}
