/* tlsfix.c - a repair of Sofia-SIP 1.12.11's TLS connection teardown.
 *
 * tport_tls.c's tls_free() ends a connection with SSL_shutdown() and never
 * calls SSL_free(): every TLS connection that closes leaks its SSL object,
 * about 8 KB with what hangs off it (LeakSanitizer in t_tls_client_cert).
 * A line whose TLS primary is down leaks one per failback probe, and a
 * registrar that closes idle connections one per reconnection: on a
 * device that runs for months, that is its memory.
 *
 * tls_free() is the only caller of SSL_shutdown() in Sofia-SIP, and
 * Sofia-SIP is the only user of libssl in sipuad; so sipuad defines
 * SSL_shutdown() itself (the executable's definition comes first for the
 * library's call) and frees the connection there, after OpenSSL's own
 * SSL_shutdown(). What tls_free() does next must still balance:
 *   - it BIO_free()s the socket BIO it made, which the SSL object owns
 *     since SSL_set_bio(): one more reference for tls_free() to drop;
 *   - it SSL_CTX_free()s the stack's context for every connection (its
 *     type test is wrong for connections), a reference nothing took: the
 *     leaked SSL object's reference used to pay for it. One more, for the
 *     same reason.
 * With both, every count ends where it began (ASan: no leak, no use after
 * free, `make check-asan`). */
#include <dlfcn.h>
#include <stddef.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>

/* The header declares it; this is sipuad's definition (see above). */
int SSL_shutdown(SSL *s)
{
	static int (*real)(SSL *);
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "SSL_shutdown");
	if (!real || !s)
		return -1;
	int rc = real(s);
	BIO *b = SSL_get_rbio(s);
	SSL_CTX *ctx = SSL_get_SSL_CTX(s);
	if (b)
		BIO_up_ref(b);
	if (ctx)
		SSL_CTX_up_ref(ctx);
	SSL_free(s);
	return rc;
}
