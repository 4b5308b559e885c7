/* tlsdir.h - the certificate directory Sofia-SIP 1.12.11 wants (RULES
 * G.2). Its TLS transport reads fixed names from one directory (cafile.pem:
 * the CAs; agent.pem: our certificate and key in one file) and, without
 * them, silently has no TLS. sipuad makes that directory from the
 * configured files just before the stack binds and empties it right
 * after: the key's copy lives on disk for that moment only, mode 0600.
 * The empty directory stays until the stack is gone: tport also gives it
 * to OpenSSL as a CA directory (CApath), read by hashed name at every
 * check, so another user must not be able to make one of that name. */
#ifndef SIPUAD_TLSDIR_H
#define SIPUAD_TLSDIR_H

#include <stddef.h>

#include "config.h"

/* Make the directory for T into DIR (size >= 64); 0, or -1 with why in
 * ERR. */
int tlsdir_make(const struct conf_tls *t, char *dir, size_t dir_size, char *err, size_t err_size);
/* Remove the files tlsdir_make() made (the directory stays). */
void tlsdir_clear(const char *dir);
/* Remove what tlsdir_make() made, the directory too ("" nothing). */
void tlsdir_remove(const char *dir);

#endif
