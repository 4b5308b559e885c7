/* test_tlsdiag.c - RULES G.3: the words of a TLS failure, paired with the
 * request it failed, from Sofia-SIP 1.12.11's log lines as they come. */
#include "tlsdiag.h"
#include "unit.h"

TEST(test_G3_tlsdiag_expired_certificate)
{
	struct tlsdiag d = { 0 };
	char buf[TLSDIAG_WORDS_MAX];
	tlsdiag_line(&d, "-Error with certificate at depth: 0");
	tlsdiag_line(&d, "  issuer   = /CN=sipuad test CA");
	tlsdiag_line(&d, "  subject  = /CN=reg.sipuad.test");
	tlsdiag_line(&d, "  err 10:certificate has expired");
	CHECK(!tlsdiag_take(&d, "127.0.0.3", 5061, buf, sizeof buf)); /* not yet paired */
	tlsdiag_line(&d, "nta: REGISTER (7): Success (0) with tls/[127.0.0.3]:5061");
	CHECK(!tlsdiag_take(&d, "127.0.0.2", 5061, buf, sizeof buf));
	CHECK(!tlsdiag_take(&d, "127.0.0.3", 5060, buf, sizeof buf));
	CHECK_STR(tlsdiag_take(&d, "127.0.0.3", 5061, buf, sizeof buf), "certificate has expired");
	CHECK(!tlsdiag_take(&d, "127.0.0.3", 5061, buf, sizeof buf)); /* taken once */
	return 0;
}

TEST(test_G3_tlsdiag_first_trouble_is_the_cause)
{
	struct tlsdiag d = { 0 };
	char buf[TLSDIAG_WORDS_MAX];
	tlsdiag_line(&d, "  err 20:unable to get local issuer certificate");
	tlsdiag_line(&d, "  err 21:unable to verify the first certificate");
	tlsdiag_line(&d, "nta: OPTIONS (2): Success (0) with tls/[::1]:5061");
	CHECK_STR(tlsdiag_take(&d, "::1", 5061, buf, sizeof buf), "unable to get local issuer certificate");
	return 0;
}

TEST(test_G3_tlsdiag_name_and_handshake)
{
	struct tlsdiag d = { 0 };
	char buf[TLSDIAG_WORDS_MAX];
	tlsdiag_line(&d, "tls_post_connection_check(0x55d0): Peer Subject Mismatch (reg.sipuad.test)");
	tlsdiag_line(&d, "nta: REGISTER (1): Success (0) with tls/[127.0.0.3]:5061");
	tlsdiag_line(&d, "tls_connect(0x55d1): TLS setup failed (error:00000001:lib(0)::reason(1))");
	tlsdiag_line(&d, "nta: INVITE (1): Success (0) with tls/[127.0.0.4]:5061");
	CHECK_STR(tlsdiag_take(&d, "127.0.0.3", 5061, buf, sizeof buf), "name mismatch");
	CHECK_STR(tlsdiag_take(&d, "127.0.0.4", 5061, buf, sizeof buf), "handshake failed");
	return 0;
}

TEST(test_G3_tlsdiag_socket_errors_and_other_transports)
{
	struct tlsdiag d = { 0 };
	char buf[TLSDIAG_WORDS_MAX];
	tlsdiag_line(&d, "nta: REGISTER (3): Connection refused (111) with tls/[127.0.0.5]:5061");
	tlsdiag_line(&d, "nta: REGISTER (4): Success (0) with tls/[127.0.0.6]:5061");
	tlsdiag_line(&d, "nta: REGISTER (5): Connection refused (111) with tcp/[127.0.0.7]:5060");
	CHECK_STR(tlsdiag_take(&d, "127.0.0.5", 5061, buf, sizeof buf), "connection refused");
	CHECK_STR(tlsdiag_take(&d, "127.0.0.6", 5061, buf, sizeof buf), "connection closed");
	CHECK(!tlsdiag_take(&d, "127.0.0.7", 5060, buf, sizeof buf));
	/* lines that merely look alike change nothing */
	tlsdiag_line(&d, "tport_wakeup(0x1): events IN ERR");
	tlsdiag_line(&d, "nta: REGISTER (6): Success (0) with tls/[127.0.0.8:5061");
	CHECK(!tlsdiag_take(&d, "127.0.0.8", 5061, buf, sizeof buf));
	return 0;
}

TEST(test_G3_tlsdiag_keeps_the_latest)
{
	struct tlsdiag d = { 0 };
	char buf[TLSDIAG_WORDS_MAX], line[128];
	for (int i = 0; i < TLSDIAG_KEEP + 3; i++) {
		tlsdiag_line(&d, "  err 10:certificate has expired");
		snprintf(line, sizeof line, "nta: REGISTER (1): Success (0) with tls/[127.0.1.%d]:5061", i);
		tlsdiag_line(&d, line);
	}
	CHECK(!tlsdiag_take(&d, "127.0.1.0", 5061, buf, sizeof buf)); /* pushed out */
	CHECK_STR(tlsdiag_take(&d, "127.0.1.10", 5061, buf, sizeof buf), "certificate has expired");
	return 0;
}

TEST(test_G3_tlsdiag_server_alert_after_the_handshake)
{
	struct tlsdiag d = { 0 };
	char buf[TLSDIAG_WORDS_MAX];
	/* the context's set-up at start says such things: no connection's */
	tlsdiag_line(&d, "tls_init_context: 0a080002:SSL routines:(null):system lib");
	/* TLS 1.3: a server that wants a client certificate says so after
	 * our handshake finished, on our first read */
	tlsdiag_line(&d, "tls_read: SSL_read: 00000001:(null):(null):(null)");
	tlsdiag_line(&d, "tls_read: SSL_read: 0a00045c:SSL routines:(null):tlsv13 alert certificate required");
	tlsdiag_line(&d, "nta: REGISTER (9): Input/output error (5) with tls/[127.0.13.2]:5061");
	CHECK_STR(tlsdiag_take(&d, "127.0.13.2", 5061, buf, sizeof buf), "alert from the server: certificate required");
	tlsdiag_line(&d, "tls_read: SSL_read: 0a00010b:SSL routines:(null):wrong version number");
	tlsdiag_line(&d, "nta: OPTIONS (2): Input/output error (5) with tls/[127.0.13.3]:5061");
	CHECK_STR(tlsdiag_take(&d, "127.0.13.3", 5061, buf, sizeof buf), "wrong version number");
	return 0;
}
