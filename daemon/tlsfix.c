/* tlsfix.c - a repair of Sofia-SIP 1.12.11's TLS connection teardown.
 *
 * tport_tls.c's tls_free() ends a connection with SSL_shutdown() and never
 * calls SSL_free(): every TLS connection that closes leaks its SSL object,
 * about 8 KB with what hangs off it (LeakSanitizer in t_tls_client_cert).
 * A line whose TLS primary is down leaks one per failback probe, and a
 * registrar that closes idle connections one per reconnection: on a
 * device that runs for months, that is its memory.
 *
 * sipuad defines SSL_shutdown() (the executable's definition comes first
 * for the library's calls) and, when the caller is tls_free(), frees the
 * connection there, after OpenSSL's own SSL_shutdown(). Any other caller
 * (Sofia's STUN client, which frees the object itself; libssl's SSL BIO)
 * gets OpenSSL's function unchanged. What tls_free() does next must still
 * balance:
 *   - it BIO_free()s the socket BIO it made, which the SSL object owns
 *     since SSL_set_bio(): one more reference for tls_free() to drop;
 *   - it SSL_CTX_free()s the stack's context for every connection (its
 *     type test is wrong for connections), a reference nothing took: the
 *     leaked SSL object's references used to pay for it. One more, for
 *     the same reason.
 * With both, every count ends where it began (ASan: no leak, no use after
 * free, `make check-asan`). Left as it was: a connection whose SSL_new()
 * failed (out of memory) still has tls_free() drop a context reference it
 * never took (Sofia's own bug; the leak above used to hide it).
 *
 * OpenSSL's SSL_shutdown() on a connection that never finished (or never
 * began) its handshake leaves errors on the thread's error queue, and the
 * next SSL_read() of a healthy connection would take them for its own and
 * be closed: they are popped here. */
#include <dlfcn.h>
#include <stddef.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

/* Sofia-SIP's tls_free() called us (it is exported: dladdr names it). */
static int from_tls_free(const void *ret)
{
	Dl_info i;
	return dladdr(ret, &i) && i.dli_sname && strcmp(i.dli_sname, "tls_free") == 0;
}

/* The header declares it; this is sipuad's definition (see above). */
int SSL_shutdown(SSL *s)
{
	static int (*real)(SSL *);
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "SSL_shutdown");
	if (!real)
		return -1;
	if (!s || !from_tls_free(__builtin_return_address(0)))
		return real(s);
	ERR_set_mark();
	int rc = real(s);
	ERR_pop_to_mark();
	BIO *b = SSL_get_rbio(s);
	SSL_CTX *ctx = SSL_get_SSL_CTX(s);
	if (b)
		BIO_up_ref(b);
	if (ctx)
		SSL_CTX_up_ref(ctx);
	SSL_free(s);
	return rc;
}
