/* unit.h - the unit-test table: TEST(name) { ... } registers itself; CHECK fails the test. */
#ifndef SIPUAD_UNIT_H
#define SIPUAD_UNIT_H

#include <stdio.h>
#include <string.h>

typedef int (*unit_fn)(void);
void unit_register(const char *name, const char *file, unit_fn fn);

#define TEST(name)                                                          \
	static int name(void);                                              \
	__attribute__((constructor)) static void name##_register(void)      \
	{ unit_register(#name, __FILE__, name); }                           \
	static int name(void)

/* Each check logs where it failed and ends the test (STYLE: asserts goto out). */
#define CHECK(cond)                                                         \
	do { if (!(cond)) {                                                 \
		fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
		return 1; } } while (0)
#define CHECK_INT(a, b)                                                     \
	do { long long a_ = (long long)(a), b_ = (long long)(b);            \
	     if (a_ != b_) {                                                \
		fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", \
			__FILE__, __LINE__, #a, a_, #b, b_);                \
		return 1; } } while (0)
#define CHECK_STR(a, b)                                                     \
	do { const char *a_ = (a), *b_ = (b);                               \
	     if (!a_ || !b_ || strcmp(a_, b_) != 0) {                       \
		fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n",   \
			__FILE__, __LINE__, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
		return 1; } } while (0)

#endif
