/* hook.c - the media hook's processes (SPEC F: media.hook): start, time out, reap, bound. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "hook.h"
#include "log.h"
#include "timeutil.h"

/* Under a flood of dropped runs, one warning per this long, with a count. */
#define HOOK_DROP_WARN_MS 10000
/* hook_free waits this long for the killed hooks to be reaped: SIGKILL is
 * immediate unless a process sleeps in the kernel (a dead NFS mount);
 * stopping the daemon must not hang on that. */
#define HOOK_REAP_AT_FREE_MS 2000

/* One run: everything copied, so the caller's strings may go at once. */
struct hook_req {
	char *program; /* the path found when it was asked for */
	char *arg1, *arg2;
	char **env;    /* "NAME=value", NULL-terminated */
};

struct hook_slot {
	struct hook *h;
	struct event *timer; /* the timeout; made once in hook_new */
	pid_t pid;           /* 0: the slot is free */
	bool killed;         /* by us, at the timeout */
	int64_t started;     /* ms, monotonic */
	struct hook_req req;
};

struct hook {
	struct event_base *base;
	struct event *sigchld;
	int timeout_ms;
	bool no_close_range; /* tests: the loop of old kernels instead */
	struct hook_slot slot[HOOK_RUNNING_MAX];
	struct hook_req queue[HOOK_QUEUE_MAX]; /* FIFO, oldest first */
	int n_queued;
	int64_t drop_warned;        /* ms of the last drop warning, 0: none yet */
	unsigned long drop_unsaid;  /* dropped since, not in any warning yet */
	struct hook_stats stats;
};

static void req_free(struct hook_req *r)
{
	free(r->program);
	free(r->arg1);
	free(r->arg2);
	if (r->env)
		for (char **e = r->env; *e; e++)
			free(*e);
	free(r->env);
	memset(r, 0, sizeof *r);
}

static int req_copy(struct hook_req *r, const char *path, const char *arg1, const char *arg2,
		    char *const env[])
{
	size_t n = 0;
	while (env && env[n])
		n++;
	memset(r, 0, sizeof *r);
	r->program = strdup(path);
	r->arg1 = strdup(arg1);
	r->arg2 = strdup(arg2);
	r->env = calloc(n + 1, sizeof *r->env);
	if (!r->program || !r->arg1 || !r->arg2 || !r->env)
		goto nomem;
	for (size_t i = 0; i < n; i++)
		if (!(r->env[i] = strdup(env[i])))
			goto nomem;
	return 0;
nomem:
	req_free(r);
	return -ENOMEM;
}

/* 0 when PATH names a regular file we may execute, else -errno. */
static int check_exec(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EACCES;
	if (access(path, X_OK) != 0)
		return -errno;
	return 0;
}

/* PROGRAM as execve will run it: a name with a slash is a path; a bare name
 * is looked up in $PATH here, in the parent, so that "not found" is said
 * in our log instead of by an exit status 127. */
static int find_program(const char *program, char *out, size_t size)
{
	if (strchr(program, '/')) {
		if (strlen(program) >= size)
			return -ENAMETOOLONG;
		strcpy(out, program);
		return check_exec(out);
	}
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	int rc = -ENOENT;
	for (const char *p = path; ; p++) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		/* an empty element is the current directory (POSIX) */
		int n = snprintf(out, size, "%.*s%s%s", (int)len, len ? p : ".", "/", program);
		if (n > 0 && (size_t)n < size) {
			int r = check_exec(out);
			if (r == 0)
				return 0;
			if (r != -ENOENT && r != -ENOTDIR)
				rc = r; /* found but unusable: say so rather than "not found" */
		}
		if (!end)
			break;
		p = end;
	}
	return rc;
}

static bool is_running(const struct hook *h, const char *arg1)
{
	for (int i = 0; i < HOOK_RUNNING_MAX; i++)
		if (h->slot[i].pid && strcmp(h->slot[i].req.arg1, arg1) == 0)
			return true;
	return false;
}

static struct hook_slot *free_slot(struct hook *h)
{
	for (int i = 0; i < HOOK_RUNNING_MAX; i++)
		if (!h->slot[i].pid)
			return &h->slot[i];
	return NULL;
}

/* The daemon's environment with REQ's variables added (theirs win), as
 * pointers into both: built before fork, as the child may not allocate. */
static char **make_envp(const struct hook_req *r)
{
	extern char **environ;
	size_t n_env = 0, n_add = 0;
	while (environ && environ[n_env])
		n_env++;
	while (r->env[n_add])
		n_add++;
	char **envp = calloc(n_env + n_add + 1, sizeof *envp);
	if (!envp)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n_env; i++) {
		bool replaced = false;
		for (size_t j = 0; j < n_add && !replaced; j++) {
			size_t name = strcspn(r->env[j], "=") + 1; /* with the '=' */
			replaced = strncmp(environ[i], r->env[j], name) == 0;
		}
		if (!replaced)
			envp[k++] = environ[i];
	}
	for (size_t j = 0; j < n_add; j++)
		envp[k++] = r->env[j];
	return envp;
}

/* The child, between fork and exec: only async-signal-safe calls (the
 * daemon's other state, locks included, is a copy that may be mid-change). */
static _Noreturn void child(int devnull, unsigned max_fd, bool use_close_range, char *const argv[],
			    char *const envp[])
{
	/* Its own process group: the timeout kills a shell hook's children
	 * with it (the parent sets it too, so neither order races). */
	setpgid(0, 0);
	/* Every disposition back to default: an ignored signal stays ignored
	 * across exec (SIGPIPE is ignored in the daemon, and a shell pipeline
	 * needs it), and our handlers must not run here before exec. */
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL); /* SIGKILL, SIGSTOP: EINVAL, harmless */
	if (devnull <= 2)
		devnull = fcntl(devnull, F_DUPFD, 3); /* the daemon had closed a std fd */
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0)
		_exit(127);
	/* Nothing else of ours goes along: SIP sockets, the control socket,
	 * SQLite, epoll, libevent's signal pipe. */
	bool closed = false;
#ifdef SYS_close_range
	closed = use_close_range && syscall(SYS_close_range, 3U, ~0U, 0U) == 0;
#else
	(void)use_close_range;
#endif
	for (unsigned fd = 3; !closed && fd < max_fd; fd++)
		close((int)fd); /* a kernel before 5.9 (many a device's 4.x) */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(argv[0], argv, envp);
	_exit(127); /* as a shell says "could not run"; the reap logs it */
}

/* Fork and exec R in SLOT, which takes R over (freed on failure). */
static int start(struct hook *h, struct hook_slot *s, struct hook_req *r)
{
	char *argv[] = { r->program, r->arg1, r->arg2, NULL };
	int rc = 0;
	char **envp = make_envp(r);
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	/* Where the close loop stops on a kernel without close_range (the
	 * child cannot ask: sysconf is not async-signal-safe). */
	struct rlimit rl;
	unsigned max_fd = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		max_fd = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1U << 20) ? 1U << 20 : (unsigned)rl.rlim_cur;
	if (!envp || devnull < 0) {
		rc = envp ? -errno : -ENOMEM;
		log_warn("hook: cannot start %s %s %s: %s%s", r->program, r->arg1, r->arg2,
			 envp ? "/dev/null: " : "", strerror(-rc));
		goto fail;
	}
	/* Signals stay blocked from fork until the child has reset its
	 * dispositions: a signal landing in between would run libevent's
	 * handler in the child, which writes into the daemon's signal pipe. */
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid_t pid = fork();
	if (pid == 0)
		child(devnull, max_fd, !h->no_close_range, argv, envp);
	int fork_errno = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		rc = -fork_errno;
		log_warn("hook: cannot start %s %s %s: fork: %s", r->program, r->arg1, r->arg2,
			 strerror(fork_errno));
		goto fail;
	}
	setpgid(pid, pid); /* EACCES once it has exec'd: it did it itself */
	close(devnull);
	free(envp);
	s->pid = pid;
	s->killed = false;
	s->started = timeutil_now_ms();
	s->req = *r;
	memset(r, 0, sizeof *r);
	struct timeval tv = timeutil_tv(h->timeout_ms);
	evtimer_add(s->timer, &tv);
	h->stats.started++;
	log_debug("hook: started %s %s %s (pid %ld)", s->req.program, s->req.arg1, s->req.arg2,
		  (long)pid);
	return 0;
fail:
	if (devnull >= 0)
		close(devnull);
	free(envp);
	req_free(r);
	return rc;
}

static void say_unsaid_drops(struct hook *h)
{
	if (!h->drop_unsaid)
		return;
	log_warn("hook: %lu more runs were dropped while the queue was full", h->drop_unsaid);
	h->drop_unsaid = 0;
}

/* Start queued runs while there is room: the oldest first, except that a
 * run waits while an earlier run of its call is running or waiting. */
static void pump(struct hook *h)
{
	struct hook_slot *s;
	while (h->n_queued && (s = free_slot(h))) {
		int i;
		for (i = 0; i < h->n_queued; i++) {
			const char *call = h->queue[i].arg1;
			bool earlier = is_running(h, call);
			for (int j = 0; j < i && !earlier; j++)
				earlier = strcmp(h->queue[j].arg1, call) == 0;
			if (!earlier)
				break;
		}
		if (i == h->n_queued)
			return; /* every waiting run waits for its call */
		struct hook_req r = h->queue[i];
		memmove(&h->queue[i], &h->queue[i + 1], sizeof r * (size_t)(h->n_queued - i - 1));
		h->n_queued--;
		memset(&h->queue[h->n_queued], 0, sizeof r);
		start(h, s, &r); /* a failure is logged; the next one may start */
	}
	if (!h->n_queued)
		say_unsaid_drops(h);
}

/* SLOT's process ended with STATUS. */
static void reaped(struct hook *h, struct hook_slot *s, int status)
{
	const struct hook_req *r = &s->req;
	long ms = (long)(timeutil_now_ms() - s->started);
	evtimer_del(s->timer);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		h->stats.ok++;
		log_debug("hook: %s %s %s: done in %ld ms", r->program, r->arg1, r->arg2, ms);
	} else if (s->killed) {
		h->stats.failed++; /* the timeout said it already */
		log_debug("hook: %s %s %s: reaped after the timeout", r->program, r->arg1, r->arg2);
	} else if (WIFEXITED(status)) {
		h->stats.failed++;
		log_warn("hook: %s %s %s: exited with %d after %ld ms%s", r->program, r->arg1, r->arg2,
			 WEXITSTATUS(status), ms,
			 WEXITSTATUS(status) == 127 ? " (could not be run, or it could not run a command)" : "");
	} else {
		int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
		h->stats.failed++;
		log_warn("hook: %s %s %s: killed by signal %d (%s) after %ld ms", r->program, r->arg1,
			 r->arg2, sig, strsignal(sig), ms);
	}
	req_free(&s->req);
	s->pid = 0;
	s->killed = false;
}

/* SIGCHLD: reap our own children only, by pid (a waitpid(-1) would take
 * another module's). Signals merge, so every slot is asked each time. */
static void sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	struct hook *h = arg;
	for (int i = 0; i < HOOK_RUNNING_MAX; i++) {
		struct hook_slot *s = &h->slot[i];
		if (!s->pid)
			continue;
		int status;
		pid_t r;
		while ((r = waitpid(s->pid, &status, WNOHANG)) < 0 && errno == EINTR)
			;
		if (r == s->pid) {
			reaped(h, s, status);
		} else if (r < 0) {
			/* ECHILD: reaped elsewhere (SIGCHLD set to SIG_IGN?) */
			log_warn("hook: %s %s %s: lost (pid %ld): %s", s->req.program, s->req.arg1,
				 s->req.arg2, (long)s->pid, strerror(errno));
			evtimer_del(s->timer);
			req_free(&s->req);
			s->pid = 0;
		}
	}
	pump(h);
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct hook_slot *s = arg;
	/* The pid is not reaped yet, so the group cannot be another's. */
	if (kill(-s->pid, SIGKILL) != 0)
		kill(s->pid, SIGKILL);
	s->killed = true;
	s->h->stats.timed_out++;
	log_warn("hook: %s %s %s: still running after %d ms: killed (with its process group)",
		 s->req.program, s->req.arg1, s->req.arg2, s->h->timeout_ms);
}

struct hook *hook_new(struct event_base *base)
{
	struct hook *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->base = base;
	h->timeout_ms = HOOK_TIMEOUT_MS;
	/* Beside main.c's TERM/INT/HUP handlers on the same base: libevent
	 * keeps one pipe for every signal of a base. */
	h->sigchld = evsignal_new(base, SIGCHLD, sigchld_cb, h);
	if (!h->sigchld || event_add(h->sigchld, NULL) != 0)
		goto fail;
	for (int i = 0; i < HOOK_RUNNING_MAX; i++) {
		h->slot[i].h = h;
		if (!(h->slot[i].timer = evtimer_new(base, timeout_cb, &h->slot[i])))
			goto fail;
	}
	return h;
fail:
	log_error("hook: cannot set up (libevent)");
	hook_free(h);
	return NULL;
}

void hook_free(struct hook *h)
{
	if (!h)
		return;
	int running = 0;
	for (int i = 0; i < HOOK_RUNNING_MAX; i++) {
		struct hook_slot *s = &h->slot[i];
		if (!s->pid)
			continue;
		if (kill(-s->pid, SIGKILL) != 0)
			kill(s->pid, SIGKILL);
		running++;
	}
	if (running)
		log_info("hook: stopping: %d still running, killed", running);
	/* Reap them here, bounded: the loop that would see SIGCHLD is ending. */
	int64_t deadline = timeutil_now_ms() + HOOK_REAP_AT_FREE_MS;
	while (running) {
		running = 0;
		for (int i = 0; i < HOOK_RUNNING_MAX; i++) {
			struct hook_slot *s = &h->slot[i];
			int status;
			if (!s->pid)
				continue;
			pid_t r = waitpid(s->pid, &status, WNOHANG);
			if (r == s->pid || (r < 0 && errno != EINTR)) {
				req_free(&s->req);
				s->pid = 0;
			} else {
				running++;
			}
		}
		if (!running)
			break;
		if (timeutil_now_ms() >= deadline) {
			log_warn("hook: %d killed hooks not reaped after %d ms, left behind",
				 running, HOOK_REAP_AT_FREE_MS);
			break;
		}
		struct timespec ts = { .tv_nsec = 2 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < HOOK_RUNNING_MAX; i++) {
		req_free(&h->slot[i].req);
		if (h->slot[i].timer)
			event_free(h->slot[i].timer);
	}
	if (h->n_queued)
		log_info("hook: stopping: %d queued runs not started", h->n_queued);
	for (int i = 0; i < h->n_queued; i++)
		req_free(&h->queue[i]);
	say_unsaid_drops(h);
	if (h->sigchld)
		event_free(h->sigchld);
	free(h);
}

static void drop(struct hook *h, const char *program, const char *arg1, const char *arg2)
{
	int64_t now = timeutil_now_ms();
	h->stats.dropped++;
	if (h->drop_warned && now - h->drop_warned < HOOK_DROP_WARN_MS) {
		h->drop_unsaid++;
		return;
	}
	if (h->drop_unsaid)
		log_warn("hook: %d running, %d waiting: dropped %s %s %s (and %lu more since the last warning)",
			 HOOK_RUNNING_MAX, h->n_queued, program, arg1, arg2, h->drop_unsaid);
	else
		log_warn("hook: %d running, %d waiting: dropped %s %s %s", HOOK_RUNNING_MAX,
			 h->n_queued, program, arg1, arg2);
	h->drop_warned = now ? now : 1;
	h->drop_unsaid = 0;
}

int hook_run(struct hook *h, const char *program, const char *arg1, const char *arg2, char *const env[])
{
	char path[4096];
	struct hook_req r;
	int rc;
	if (!h || !program || !*program || !arg1 || !arg2) {
		log_warn("hook: run without a program or its arguments");
		rc = -EINVAL;
		goto refused;
	}
	for (size_t i = 0; env && env[i]; i++) {
		if (!strchr(env[i], '=') || env[i][0] == '=') {
			log_warn("hook: %s %s %s: not NAME=value: \"%s\"", program, arg1, arg2, env[i]);
			rc = -EINVAL;
			goto refused;
		}
	}
	/* Asked before forking, so the log names the problem. */
	if ((rc = find_program(program, path, sizeof path)) != 0) {
		log_warn("hook: %s %s %s: %s", program, arg1, arg2,
			 rc == -ENOENT ? "not found" : rc == -EACCES ? "not executable" : strerror(-rc));
		goto refused;
	}
	struct hook_slot *s = free_slot(h);
	bool behind = is_running(h, arg1);
	for (int i = 0; i < h->n_queued && !behind; i++)
		behind = strcmp(h->queue[i].arg1, arg1) == 0;
	if (!behind && s) {
		if ((rc = req_copy(&r, path, arg1, arg2, env)) != 0)
			goto nomem;
		return start(h, s, &r);
	}
	if (h->n_queued == HOOK_QUEUE_MAX) {
		drop(h, path, arg1, arg2);
		return -ENOBUFS;
	}
	if ((rc = req_copy(&h->queue[h->n_queued], path, arg1, arg2, env)) != 0)
		goto nomem;
	h->n_queued++;
	log_debug("hook: %s %s %s: queued (%d waiting)", path, arg1, arg2, h->n_queued);
	return 0;
nomem:
	log_warn("hook: %s %s %s: out of memory", program, arg1, arg2);
refused:
	if (h)
		h->stats.refused++;
	return rc;
}

int hook_running(const struct hook *h)
{
	int n = 0;
	for (int i = 0; h && i < HOOK_RUNNING_MAX; i++)
		if (h->slot[i].pid)
			n++;
	return n;
}

int hook_queued(const struct hook *h)
{
	return h ? h->n_queued : 0;
}

void hook_get_stats(const struct hook *h, struct hook_stats *out)
{
	memset(out, 0, sizeof *out);
	if (h)
		*out = h->stats;
}

void hook_set_timeout_ms(struct hook *h, int ms)
{
	h->timeout_ms = ms > 0 ? ms : HOOK_TIMEOUT_MS;
}

void hook_set_close_range(struct hook *h, bool use)
{
	h->no_close_range = !use;
}
