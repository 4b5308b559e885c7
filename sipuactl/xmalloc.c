/* xmalloc.c - allocation that cannot fail: a short-lived CLI has nothing
 * better to do on out of memory than say so and exit. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_proto.h"
#include "xmalloc.h"

void xoom(void)
{
	fputs("sipuactl: out of memory\n", stderr);
	exit(CTL_EXIT_ERROR);
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		xoom();
	return p;
}

char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		xoom();
	return d;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		xoom();
	return s;
}
