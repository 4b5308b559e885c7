/* main.c - runs every registered unit test (or those whose name contains argv[1]). */
#include <stdlib.h>
#include "unit.h"

#define UNIT_MAX 1024
static struct { const char *name, *file; unit_fn fn; } tests[UNIT_MAX];
static int n_tests;

void unit_register(const char *name, const char *file, unit_fn fn)
{
	if (n_tests == UNIT_MAX) {
		fprintf(stderr, "unit: more than %d tests\n", UNIT_MAX);
		exit(2);
	}
	tests[n_tests].name = name;
	tests[n_tests].file = file;
	tests[n_tests].fn = fn;
	n_tests++;
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0;
	for (int i = 0; i < n_tests; i++) {
		if (argc > 1 && !strstr(tests[i].name, argv[1]))
			continue;
		int rc = tests[i].fn();
		printf("%s %s (%s)\n", rc ? "FAIL" : "ok  ", tests[i].name, tests[i].file);
		if (rc)
			failed++;
		else
			passed++;
	}
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
