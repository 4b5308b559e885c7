/* show.h - sipuactl's output: the daemon's JSON as is, or read into
 * tables and lines for people, every string made safe for a terminal. */
#ifndef SIPUACTL_SHOW_H
#define SIPUACTL_SHOW_H

#include <stdbool.h>
#include <stddef.h>

#include "ctl_proto.h"

/* Shows the reply line (NUL-terminated, len bytes) to the command: as is
 * with json, else for people, an error reply or a malformed line on
 * stderr naming path. Returns whether it said {"ok":true}. */
bool show_reply(enum ctl_cmd cmd, const char *line, size_t len, bool json, const char *path);
/* Shows one event line of subscribe likewise. */
void show_event(const char *line, size_t len, bool json, const char *path);

#endif
