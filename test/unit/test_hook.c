/* test_hook.c - the media hook (SPEC F): its arguments and SIPUAD_* variables
 * arrive, a hook that hangs is killed at the timeout while the loop goes on,
 * failures are logged, the bounds hold, and nothing of ours leaks into it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "hook.h"
#include "log.h"
#include "timeutil.h"
#include "unit.h"

struct fx {
	char dir[64];
	struct event_base *base;
	struct hook *h;
};

static int fx_init(struct fx *f)
{
	memset(f, 0, sizeof *f);
	strcpy(f->dir, "/tmp/sipuad-unit-hook.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	log_init("unit", 1, LOG_LVL_INFO);
	f->base = event_base_new();
	f->h = f->base ? hook_new(f->base) : NULL;
	return f->h ? 0 : -1;
}

static void fx_free(struct fx *f)
{
	hook_free(f->h);
	f->h = NULL;
	if (f->base)
		event_base_free(f->base);
	f->base = NULL;
	DIR *d = opendir(f->dir);
	struct dirent *e;
	char path[512];
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", f->dir, e->d_name);
		unlink(path);
		rmdir(path);
	}
	if (d)
		closedir(d);
	rmdir(f->dir);
}

/* F->dir/NAME, into PATH. */
static char *fx_path(const struct fx *f, const char *name, char *path, size_t size)
{
	snprintf(path, size, "%s/%s", f->dir, name);
	return path;
}

/* A shell hook F->dir/NAME running BODY; "@" in BODY stands for F->dir. */
static char *fx_script(const struct fx *f, const char *name, const char *body, char *path, size_t size)
{
	fx_path(f, name, path, size);
	FILE *out = fopen(path, "w");
	if (!out)
		return NULL;
	fputs("#!/bin/sh\n", out);
	for (const char *p = body; *p; p++) {
		if (*p == '@')
			fputs(f->dir, out);
		else
			fputc(*p, out);
	}
	fclose(out);
	chmod(path, 0755);
	return path;
}

/* The whole of PATH, or NULL; the caller frees. */
static char *slurp(const char *path)
{
	FILE *in = fopen(path, "r");
	if (!in)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	size_t got;
	while (buf && (got = fread(buf + n, 1, cap - n - 1, in)) > 0) {
		n += got;
		if (n + 1 == cap) {
			char *b = realloc(buf, cap *= 2);
			if (!b) {
				free(buf);
				buf = NULL;
			}
			buf = b;
		}
	}
	fclose(in);
	if (buf)
		buf[n] = '\0';
	return buf;
}

struct waiter {
	bool (*cond)(void *);
	void *arg;
	int64_t deadline;
	struct event_base *base;
};

static void wait_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct waiter *w = arg;
	if (w->cond(w->arg) || timeutil_now_ms() >= w->deadline)
		event_base_loopbreak(w->base);
}

/* Run BASE until COND(ARG) holds, at most MS; COND's last answer. */
static bool run_until(struct event_base *base, bool (*cond)(void *), void *arg, int ms)
{
	struct waiter w = { cond, arg, timeutil_now_ms() + ms, base };
	struct event *tick = event_new(base, -1, EV_PERSIST, wait_tick_cb, &w);
	struct timeval tv = { .tv_usec = 2000 };
	if (!tick)
		return false;
	event_add(tick, &tv);
	if (!cond(arg))
		event_base_dispatch(base);
	event_free(tick);
	return cond(arg);
}

static bool idle(void *arg)
{
	struct hook *h = arg;
	return hook_running(h) == 0 && hook_queued(h) == 0;
}

/* Our log lines (stderr) go to a file meanwhile. */
struct capture {
	char path[64];
	int fd, saved;
};

static int capture_start(struct capture *c)
{
	strcpy(c->path, "/tmp/sipuad-unit-hooklog.XXXXXX");
	c->fd = mkstemp(c->path);
	fflush(stderr);
	c->saved = dup(STDERR_FILENO);
	if (c->fd < 0 || c->saved < 0)
		return -1;
	dup2(c->fd, STDERR_FILENO);
	return 0;
}

static char *capture_end(struct capture *c)
{
	fflush(stderr);
	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	close(c->fd);
	char *text = slurp(c->path);
	unlink(c->path);
	return text;
}

static int count(const char *text, const char *what)
{
	int n = 0;
	for (const char *p = text; p && (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

struct ticks {
	int n;
};

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	((struct ticks *)arg)->n++;
}

TEST(test_hook_gets_call_and_state_and_sipuad_env_in_order)
{
	struct fx f;
	char script[256], out[256];
	CHECK(fx_init(&f) == 0);
	fx_script(&f, "hook", "printf '%s|%s\\n' \"$1\" \"$2\" >>@/out\n"
		  "env | grep '^SIPUAD_' | LC_ALL=C sort >>@/out\n", script, sizeof script);
	/* the daemon's own environment goes along; the call's values win */
	setenv("SIPUAD_STATE", "stale", 1);
	setenv("SIPUAD_UNIT_INHERITED", "yes", 1);
	const char *states[] = { "ringing", "established" };
	int rc[2];
	for (int i = 0; i < 2; i++) {
		char state[64];
		snprintf(state, sizeof state, "SIPUAD_STATE=%s", states[i]);
		/* the caller's strings go as soon as hook_run returns */
		char *env[] = { strdup("SIPUAD_CALL=c7"), strdup("SIPUAD_LINE=line1"), strdup(state),
				strdup("SIPUAD_PEER=sip:100@example.test"),
				strdup("SIPUAD_REASON=Busy Here; it's \"quoted\""), NULL };
		char *arg1 = strdup("c7"), *arg2 = strdup(states[i]);
		rc[i] = hook_run(f.h, script, arg1, arg2, env);
		for (char **e = env; *e; e++)
			free(*e);
		free(arg1);
		free(arg2);
	}
	int running = hook_running(f.h), queued = hook_queued(f.h);
	/* main.c's handlers live on the same base: SIGHUP and SIGCHLD both arrive */
	struct ticks hups = { 0 };
	struct event *hup = evsignal_new(f.base, SIGHUP, tick_cb, &hups);
	CHECK(hup && event_add(hup, NULL) == 0);
	raise(SIGHUP);
	bool done = run_until(f.base, idle, f.h, 3000);
	event_free(hup);
	unsetenv("SIPUAD_STATE");
	unsetenv("SIPUAD_UNIT_INHERITED");
	char *text = slurp(fx_path(&f, "out", out, sizeof out));
	struct hook_stats st;
	hook_get_stats(f.h, &st);
	fx_free(&f);
	const char *block = "SIPUAD_CALL=c7\nSIPUAD_LINE=line1\nSIPUAD_PEER=sip:100@example.test\n"
			    "SIPUAD_REASON=Busy Here; it's \"quoted\"\n";
	char want[1024];
	snprintf(want, sizeof want, "c7|ringing\n%sSIPUAD_STATE=ringing\nSIPUAD_UNIT_INHERITED=yes\n"
		 "c7|established\n%sSIPUAD_STATE=established\nSIPUAD_UNIT_INHERITED=yes\n", block, block);
	int same = text && strcmp(text, want) == 0;
	if (!same)
		fprintf(stderr, "  got:\n%s  wanted:\n%s", text ? text : "(nothing)\n", want);
	free(text);
	CHECK_INT(rc[0], 0);
	CHECK_INT(rc[1], 0);
	CHECK_INT(running, 1); /* the same call: the second waits for the first */
	CHECK_INT(queued, 1);
	CHECK(done);
	CHECK_INT(hups.n, 1);
	CHECK(same);
	CHECK_INT(st.started, 2);
	CHECK_INT(st.ok, 2);
	CHECK_INT(st.failed, 0);
	return 0;
}

struct pid_file {
	const char *path;
	long pid;
};

/* The hook's background child is gone (or a zombie left to init). */
static bool grandchild_gone(void *arg)
{
	struct pid_file *p = arg;
	char path[64], *stat;
	snprintf(path, sizeof path, "/proc/%ld/stat", p->pid);
	if (!(stat = slurp(path)))
		return true;
	const char *paren = strrchr(stat, ')');
	bool zombie = paren && paren[1] == ' ' && paren[2] == 'Z';
	free(stat);
	return zombie;
}

TEST(test_hook_hanging_is_killed_with_its_children_while_the_loop_runs)
{
	struct fx f;
	struct capture cap;
	char script[256], pidpath[256];
	struct ticks ticks = { 0 };
	CHECK(fx_init(&f) == 0);
	fx_script(&f, "hang", "sleep 60 & echo $! >@/pid\nwait\n", script, sizeof script);
	hook_set_timeout_ms(f.h, 300);
	struct event *tick = event_new(f.base, -1, EV_PERSIST, tick_cb, &ticks);
	struct timeval tv = { .tv_usec = 10000 };
	CHECK(tick && event_add(tick, &tv) == 0);
	CHECK(capture_start(&cap) == 0);
	int64_t t0 = timeutil_now_ms();
	int rc = hook_run(f.h, script, "c2", "established", NULL);
	bool done = run_until(f.base, idle, f.h, 3000);
	int64_t took = timeutil_now_ms() - t0;
	int ticks_meanwhile = ticks.n;
	char *log = capture_end(&cap);
	event_free(tick);
	char *pid = slurp(fx_path(&f, "pid", pidpath, sizeof pidpath));
	struct pid_file pf = { pidpath, pid ? atol(pid) : 0 };
	free(pid);
	bool gone = pf.pid > 0 && run_until(f.base, grandchild_gone, &pf, 2000);
	struct hook_stats st;
	hook_get_stats(f.h, &st);
	fx_free(&f);
	fprintf(stderr, "  killed after %lld ms, %d ticks of 10 ms meanwhile\n", (long long)took,
		ticks_meanwhile);
	int said = log && strstr(log, "hang c2 established: still running after 300 ms: killed") &&
		   strstr(log, "warn:");
	free(log);
	CHECK_INT(rc, 0);
	CHECK(done);
	CHECK(took >= 300 && took < 2000);
	CHECK(ticks_meanwhile >= 15); /* the loop went on while the hook hung */
	CHECK(gone);                  /* its process group went with it */
	CHECK(said);
	CHECK_INT(st.timed_out, 1);
	CHECK_INT(st.failed, 1);
	return 0;
}

TEST(test_hook_missing_or_not_executable_is_refused_and_said)
{
	struct fx f;
	struct capture cap;
	char plain[256], dir[256], path[512];
	CHECK(fx_init(&f) == 0);
	fx_script(&f, "plain", "exit 0\n", plain, sizeof plain);
	chmod(plain, 0644);
	fx_path(&f, "dir", dir, sizeof dir);
	mkdir(dir, 0755);
	CHECK(capture_start(&cap) == 0);
	int rc_missing = hook_run(f.h, "/nonexistent/hook", "c1", "ringing", NULL);
	int rc_plain = hook_run(f.h, plain, "c1", "ringing", NULL);
	int rc_dir = hook_run(f.h, dir, "c1", "ringing", NULL);
	int rc_bare = hook_run(f.h, "sipuad-no-such-hook", "c1", "ringing", NULL);
	char *bad_env[] = { "SIPUAD_CALL", NULL };
	int rc_env = hook_run(f.h, "/bin/true", "c1", "ringing", bad_env);
	int forked = hook_running(f.h);
	/* a bare name is looked up in $PATH */
	int rc_true = hook_run(f.h, "true", "c1", "ringing", NULL);
	bool done = run_until(f.base, idle, f.h, 3000);
	char *log = capture_end(&cap);
	struct hook_stats st;
	hook_get_stats(f.h, &st);
	snprintf(path, sizeof path, "%s c1 ringing: not executable", plain);
	int said = log && strstr(log, "/nonexistent/hook c1 ringing: not found") && strstr(log, path) &&
		   strstr(log, "sipuad-no-such-hook c1 ringing: not found") &&
		   strstr(log, "not NAME=value");
	free(log);
	fx_free(&f);
	CHECK(rc_missing < 0);
	CHECK(rc_plain < 0);
	CHECK(rc_dir < 0);
	CHECK(rc_bare < 0);
	CHECK(rc_env < 0);
	CHECK_INT(forked, 0); /* refused before any fork */
	CHECK_INT(rc_true, 0);
	CHECK(done);
	CHECK(said);
	CHECK_INT(st.refused, 5);
	CHECK_INT(st.started, 1);
	CHECK_INT(st.ok, 1);
	return 0;
}

TEST(test_hook_exit_status_signal_and_exec_failure_are_warned)
{
	struct fx f;
	struct capture cap;
	char s_exit[256], s_sig[256], s_interp[256];
	CHECK(fx_init(&f) == 0);
	fx_script(&f, "exit3", "exit 3\n", s_exit, sizeof s_exit);
	fx_script(&f, "term", "kill -TERM $$\n", s_sig, sizeof s_sig);
	/* executable, but its interpreter is missing: execve fails in the child */
	FILE *out = fopen(fx_path(&f, "interp", s_interp, sizeof s_interp), "w");
	CHECK(out);
	fputs("#!/nonexistent/interpreter\n", out);
	fclose(out);
	chmod(s_interp, 0755);
	CHECK(capture_start(&cap) == 0);
	int rc = hook_run(f.h, s_exit, "c1", "closed", NULL);
	rc |= hook_run(f.h, s_sig, "c2", "closed", NULL);
	rc |= hook_run(f.h, s_interp, "c3", "closed", NULL);
	bool done = run_until(f.base, idle, f.h, 3000);
	char *log = capture_end(&cap);
	struct hook_stats st;
	hook_get_stats(f.h, &st);
	fx_free(&f);
	int said = log && strstr(log, "exit3 c1 closed: exited with 3 after") &&
		   strstr(log, "term c2 closed: killed by signal 15 (") &&
		   strstr(log, "interp c3 closed: exited with 127 after") && count(log, "warn:") == 3;
	if (!said)
		fprintf(stderr, "  log:\n%s", log ? log : "(none)\n");
	free(log);
	CHECK_INT(rc, 0);
	CHECK(done);
	CHECK(said);
	CHECK_INT(st.started, 3);
	CHECK_INT(st.failed, 3);
	CHECK_INT(st.ok, 0);
	return 0;
}

TEST(test_hook_bounds_running_and_queued_and_drops_quietly)
{
	struct fx f;
	struct capture cap;
	char script[256], call[16];
	int rc_start = 0, rc_queue = 0, n_dropped = 0;
	CHECK(fx_init(&f) == 0);
	fx_script(&f, "sleeper", "exec sleep 60\n", script, sizeof script);
	CHECK(capture_start(&cap) == 0);
	int n = 0;
	for (int i = 0; i < HOOK_RUNNING_MAX; i++, n++) {
		snprintf(call, sizeof call, "c%d", n + 1);
		rc_start |= hook_run(f.h, script, call, "ringing", NULL);
	}
	for (int i = 0; i < HOOK_QUEUE_MAX; i++, n++) {
		snprintf(call, sizeof call, "c%d", n + 1);
		rc_queue |= hook_run(f.h, script, call, "ringing", NULL);
	}
	int running = hook_running(f.h), queued = hook_queued(f.h);
	for (int i = 0; i < 500; i++, n++) {
		snprintf(call, sizeof call, "c%d", n + 1);
		if (hook_run(f.h, script, call, "ringing", NULL) < 0)
			n_dropped++;
	}
	struct hook_stats st;
	hook_get_stats(f.h, &st);
	int64_t t0 = timeutil_now_ms();
	fx_free(&f); /* kills the 16 sleepers and reaps them */
	int64_t took = timeutil_now_ms() - t0;
	char *log = capture_end(&cap);
	int left = waitpid(-1, NULL, WNOHANG);
	int left_errno = errno;
	int drop_lines = count(log, "dropped");
	int said = log && strstr(log, "16 running, 64 waiting: dropped ") &&
		   strstr(log, "499 more runs were dropped") && strstr(log, "16 still running, killed");
	if (!said || drop_lines != 2)
		fprintf(stderr, "  log:\n%s", log ? log : "(none)\n");
	free(log);
	CHECK_INT(rc_start, 0);
	CHECK_INT(rc_queue, 0);
	CHECK_INT(running, HOOK_RUNNING_MAX);
	CHECK_INT(queued, HOOK_QUEUE_MAX);
	CHECK_INT(n_dropped, 500);
	CHECK_INT(st.dropped, 500);
	CHECK_INT(st.started, HOOK_RUNNING_MAX);
	CHECK_INT(drop_lines, 2); /* one warning and one count, not 500 lines */
	CHECK(said);
	CHECK(left == -1 && left_errno == ECHILD); /* hook_free reaped every child */
	CHECK(took < 1000);
	return 0;
}

TEST(test_hook_queue_drains_and_keeps_each_calls_order)
{
	struct fx f;
	char quick[256], slow[256], outpath[256];
	char call[16];
	int rc = 0;
	CHECK(fx_init(&f) == 0);
	fx_script(&f, "quick", "exit 0\n", quick, sizeof quick);
	fx_script(&f, "slow", "echo \"start $1 $2\" >>@/out\n"
		  "[ \"$2\" = ringing ] && sleep 0.1\n"
		  "echo \"end $1 $2\" >>@/out\n", slow, sizeof slow);
	rc |= hook_run(f.h, slow, "c1", "ringing", NULL);
	rc |= hook_run(f.h, slow, "c1", "established", NULL);
	rc |= hook_run(f.h, slow, "c1", "closed", NULL);
	int running_c1 = hook_running(f.h), queued_c1 = hook_queued(f.h);
	for (int i = 0; i < 40; i++) {
		snprintf(call, sizeof call, "q%d", i);
		rc |= hook_run(f.h, quick, call, "closed", NULL);
	}
	bool done = run_until(f.base, idle, f.h, 5000);
	struct hook_stats st;
	hook_get_stats(f.h, &st);
	char *text = slurp(fx_path(&f, "out", outpath, sizeof outpath));
	fx_free(&f);
	const char *want = "start c1 ringing\nend c1 ringing\nstart c1 established\nend c1 established\n"
			   "start c1 closed\nend c1 closed\n";
	int same = text && strcmp(text, want) == 0;
	if (!same)
		fprintf(stderr, "  got:\n%s", text ? text : "(nothing)\n");
	free(text);
	CHECK_INT(rc, 0);
	CHECK_INT(running_c1, 1);
	CHECK_INT(queued_c1, 2);
	CHECK(done);
	CHECK(same);
	CHECK_INT(st.started, 43);
	CHECK_INT(st.ok, 43);
	return 0;
}

static int child_is_clean(bool use_close_range)
{
	struct fx f;
	char script[256], fdpath[256], statpath[256];
	int p[2] = { -1, -1 };
	CHECK(fx_init(&f) == 0);
	hook_set_close_range(f.h, use_close_range);
	/* The mask is read first, with builtins only: dash blocks every
	 * signal around each fork it makes, so it would read as that. */
	fx_script(&f, "fds", "while read -r key val; do case $key in SigBlk:|SigIgn:) echo \"$key $val\";; esac; done"
		  " </proc/$$/status >@/status\n"
		  "read -r pid comm state ppid pgrp rest </proc/$$/stat\n"
		  "echo \"pid $pid pgrp $pgrp\" >>@/status\n"
		  "for fd in /proc/$$/fd/*; do printf '%s ' \"${fd##*/}\"; readlink \"$fd\" || echo; done >@/fds\n"
		  "exit 0\n",
		  script, sizeof script);
	/* what a daemon holds without O_CLOEXEC: a pipe, a socket, a file */
	CHECK(pipe(p) == 0);
	int sock = socket(AF_INET, SOCK_DGRAM, 0);
	char marker[256];
	int file = open(fx_path(&f, "marker", marker, sizeof marker), O_RDWR | O_CREAT, 0600);
	/* and what it does to signals: SIGPIPE ignored, some blocked */
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_pipe;
	sigaction(SIGPIPE, &ign, &old_pipe);
	sigset_t usr, old_mask;
	sigemptyset(&usr);
	sigaddset(&usr, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr, &old_mask);
	int rc = hook_run(f.h, script, "c1", "established", NULL);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	bool done = run_until(f.base, idle, f.h, 3000);
	close(p[0]);
	close(p[1]);
	close(sock);
	close(file);
	char *fds = slurp(fx_path(&f, "fds", fdpath, sizeof fdpath));
	char *status = slurp(fx_path(&f, "status", statpath, sizeof statpath));
	/* What /dev/null reads as here: qemu-user (the cross build's tests)
	 * opens it in its sysroot. */
	char null_target[512] = "/dev/null", link[64];
	int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	snprintf(link, sizeof link, "/proc/self/fd/%d", null_fd);
	ssize_t nl = null_fd >= 0 ? readlink(link, null_target, sizeof null_target - 1) : -1;
	null_target[nl > 0 ? nl : 0] = '\0';
	if (null_fd >= 0)
		close(null_fd);
	/* Every descriptor the shell has is its own: /dev/null (ours, or a
	 * copy it saved), its output file, its script. (No $(...) in the
	 * script: the shell's own pipe for it would show.) */
	int bad = !fds, seen0 = 0, seen2 = 0;
	for (char *line = fds ? strtok(fds, "\n") : NULL; line; line = strtok(NULL, "\n")) {
		int fd = atoi(line);
		const char *target = strchr(line, ' ');
		target = target ? target + 1 : "";
		if (fd == 0)
			seen0 = strcmp(target, null_target) == 0;
		if (fd == 2)
			seen2 = strcmp(target, null_target) == 0;
		/* "": gone by the time it was read (the glob's own directory) */
		if (*target && strcmp(target, null_target) != 0 && strcmp(target, fdpath) != 0 &&
		    strcmp(target, script) != 0) {
			fprintf(stderr, "  leaked into the hook: fd %s\n", line);
			bad = 1;
		}
	}
	/* Signals the C library keeps for itself (glibc: 32, 33) cannot be
	 * reset by anyone; one ignored where the test runs stays so. */
	unsigned long long reserved = 0, ignored = ~0ULL;
	for (int sg = 1; sg <= 64; sg++) {
		struct sigaction probe;
		if (sigaction(sg, NULL, &probe) != 0)
			reserved |= 1ULL << (sg - 1);
	}
	const char *si = status ? strstr(status, "SigIgn: ") : NULL;
	if (si)
		ignored = strtoull(si + 8, NULL, 16);
	int clean = status && strstr(status, "SigBlk: 0000000000000000\n") && (ignored & ~reserved) == 0;
	int own_group = 0;
	const char *pg = status ? strstr(status, "pid ") : NULL;
	if (pg) {
		long pid = 0, pgrp = -1;
		own_group = sscanf(pg, "pid %ld pgrp %ld", &pid, &pgrp) == 2 && pid == pgrp;
	}
	if (!clean || !own_group)
		fprintf(stderr, "  status:\n%s", status ? status : "(none)\n");
	free(fds);
	free(status);
	fx_free(&f);
	CHECK_INT(rc, 0);
	CHECK(done);
	CHECK(sock >= 0 && file >= 0);
	CHECK(!bad);
	CHECK(seen0 && seen2);
	CHECK(clean);
	CHECK(own_group);
	return 0;
}

TEST(test_hook_child_gets_no_descriptor_and_clean_signals_and_own_group)
{
	return child_is_clean(true);
}

/* The loop a kernel before 5.9 gets (close_range is ENOSYS there). */
TEST(test_hook_child_gets_no_descriptor_without_close_range)
{
	return child_is_clean(false);
}
