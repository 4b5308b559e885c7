/* tlsfiles.c - RULES G.5: the TLS files a config names are checked when it
 * is loaded (sipuad -n, start, reload), with the words an operator needs. */
#include "tlsfiles.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* A key with a passphrase would make OpenSSL ask on the terminal; sipuad
 * has no one to ask, so the callback refuses at once. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static FILE *open_file(const char *path, char *buf, size_t size, const char **why)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(buf, size, "cannot read %s: %s", path, strerror(errno));
		*why = buf;
	}
	return f;
}

const char *tlsfiles_ca(const char *path, char *buf, size_t size)
{
	const char *why = NULL;
	FILE *f = open_file(path, buf, size, &why);
	if (!f)
		return why;
	int n = 0;
	X509 *x;
	while ((x = PEM_read_X509(f, NULL, no_passphrase, NULL))) {
		X509_free(x);
		n++;
	}
	ERR_clear_error(); /* the end of the file reads as an error */
	fclose(f);
	if (n == 0) {
		snprintf(buf, size, "%s holds no PEM certificate", path);
		return buf;
	}
	/* as Sofia-SIP's tport loads it (SSL_CTX_load_verify_locations): one
	 * bad block after good ones fails the whole file there */
	X509_STORE *st = X509_STORE_new();
	int ok = st && X509_STORE_load_file(st, path) == 1;
	unsigned long e = ERR_peek_error(); /* the first: the cause, not its echoes */
	X509_STORE_free(st);
	ERR_clear_error();
	if (!ok) {
		const char *r = e ? ERR_reason_error_string(e) : NULL;
		snprintf(buf, size, "%s is no usable CA file (%s)", path, r ? r : "OpenSSL refuses it");
		return buf;
	}
	return NULL;
}

const char *tlsfiles_pair(const char *cert, const char *key, int *which, char *buf, size_t size)
{
	const char *why = NULL;
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	FILE *f;

	*which = 0;
	if (!(f = open_file(cert, buf, size, &why)))
		return why;
	x = PEM_read_X509(f, NULL, no_passphrase, NULL);
	fclose(f);
	if (!x) {
		snprintf(buf, size, "%s holds no PEM certificate", cert);
		why = buf;
		goto out;
	}
	*which = 1;
	if (!(f = open_file(key, buf, size, &why)))
		goto out;
	k = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
	fclose(f);
	if (!k) {
		/* never the key's bytes, only what kind of trouble */
		unsigned long e = ERR_peek_last_error();
		if (ERR_GET_REASON(e) == PEM_R_BAD_PASSWORD_READ || ERR_GET_REASON(e) == PEM_R_PROBLEMS_GETTING_PASSWORD)
			snprintf(buf, size, "%s is encrypted; sipuad needs a key without a passphrase", key);
		else
			snprintf(buf, size, "%s holds no PEM private key", key);
		why = buf;
		goto out;
	}
	if (X509_check_private_key(x, k) != 1) {
		snprintf(buf, size, "%s does not match the certificate %s", key, cert);
		why = buf;
	}
out:
	ERR_clear_error();
	EVP_PKEY_free(k);
	X509_free(x);
	return why;
}
