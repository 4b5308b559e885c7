/* test_log.c - passwords never reach a log line (RULES D.13), however many lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "unit.h"

TEST(test_log_masks_every_configured_password)
{
	char path[] = "/tmp/sipuad-unit-log.XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	int saved = dup(STDERR_FILENO);
	CHECK(saved >= 0);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	log_init("unit", 1, LOG_LVL_INFO);
	char pw[32];
	/* more lines than the old fixed table of 64 held */
	for (int i = 0; i < CONF_LINES_MAX; i++) {
		snprintf(pw, sizeof pw, "Secret-%04d-pw", i);
		log_add_secret(pw);
	}
	log_info("first Secret-0000-pw, last Secret-%04d-pw", CONF_LINES_MAX - 1);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	log_clear_secrets();
	char buf[512] = "";
	FILE *f = fdopen(fd, "r");
	CHECK(f);
	rewind(f);
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	unlink(path);
	buf[n] = '\0';
	CHECK(strstr(buf, "first ") != NULL);
	CHECK(strstr(buf, "Secret-") == NULL);
	return 0;
}
