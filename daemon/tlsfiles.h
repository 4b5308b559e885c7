/* tlsfiles.h - are the configured TLS files usable (RULES G.5)? Read and
 * parsed with OpenSSL, the library Sofia-SIP's TLS uses, so that a file
 * Sofia would silently ignore is refused when the config is checked. */
#ifndef SIPUAD_TLSFILES_H
#define SIPUAD_TLSFILES_H

#include <stddef.h>

/* NULL when PATH is a readable PEM file with at least one certificate;
 * else why not, in words (into BUF). */
const char *tlsfiles_ca(const char *path, char *buf, size_t size);
/* NULL when CERT holds a PEM certificate, KEY an unencrypted PEM private
 * key, and the key is the certificate's. Else why not, in words, and
 * *WHICH says which key is at fault: 0 the certificate, 1 the key. The
 * key's content never reaches BUF. */
const char *tlsfiles_pair(const char *cert, const char *key, int *which, char *buf, size_t size);

#endif
