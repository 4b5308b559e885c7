/* xmalloc.h - allocation that cannot fail: sipuactl says so and exits 1. */
#ifndef SIPUACTL_XMALLOC_H
#define SIPUACTL_XMALLOC_H

#include <stddef.h>

void xoom(void) __attribute__((noreturn));
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
