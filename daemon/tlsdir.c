/* tlsdir.c - Sofia-SIP's certificate directory, made for the moment the
 * stack binds (tlsdir.h). */
#include "tlsdir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const names[] = { "cafile.pem", "agent.pem" };

/* Append file FROM to the open descriptor TO. */
static int append(int to, const char *from)
{
	char buf[4096];
	int fd = open(from, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n;
	int rc = 0;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(to, buf + off, (size_t)(n - off));
			if (w < 0) {
				rc = -1;
				break;
			}
			off += w;
		}
		if (rc)
			break;
	}
	if (n < 0)
		rc = -1;
	explicit_bzero(buf, sizeof buf); /* it held the key */
	close(fd);
	return rc;
}

int tlsdir_make(const struct conf_tls *t, char *dir, size_t dir_size, char *err, size_t err_size)
{
	const char *tmp = getenv("TMPDIR");
	char path[PATH_MAX], ca[PATH_MAX];
	snprintf(dir, dir_size, "%s/sipuad-tls.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) { /* mode 0700 */
		snprintf(err, err_size, "cannot make a directory %s: %s", dir, strerror(errno));
		dir[0] = '\0';
		return -1;
	}
	/* the CA bundle is only linked to: it holds nothing secret */
	if (!realpath(t->ca_file, ca)) {
		snprintf(err, err_size, "sip.tls.ca_file %s: %s", t->ca_file, strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof path, "%s/cafile.pem", dir);
	if (symlink(ca, path) != 0) {
		snprintf(err, err_size, "cannot link %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!*t->certificate)
		return 0; /* no client certificate: Sofia goes on without agent.pem */
	snprintf(path, sizeof path, "%s/agent.pem", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, err_size, "cannot write %s: %s", path, strerror(errno));
		goto fail;
	}
	const char *which = t->certificate;
	int rc = append(fd, t->certificate);
	if (rc == 0 && write(fd, "\n", 1) != 1)
		rc = -1, which = path;
	if (rc == 0)
		rc = append(fd, t->key), which = t->key;
	int saved = errno;
	close(fd);
	if (rc) {
		snprintf(err, err_size, "cannot copy %s: %s", which, strerror(saved));
		goto fail;
	}
	return 0;
fail:
	tlsdir_remove(dir);
	dir[0] = '\0';
	return -1;
}

void tlsdir_clear(const char *dir)
{
	char path[PATH_MAX];
	if (!dir || !*dir)
		return;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		unlink(path);
	}
}

void tlsdir_remove(const char *dir)
{
	if (!dir || !*dir)
		return;
	tlsdir_clear(dir);
	rmdir(dir);
}
