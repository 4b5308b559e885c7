/* test_tlsdiag.c - RULES G.3: the words of a TLS failure, paired with the
 * address of the connection, from Sofia-SIP 1.12.11's log lines as they
 * come (in this order, in one call: tport's check, tport's close, nta's
 * line per request the close failed). */
#include "tlsdiag.h"
#include "unit.h"

#define T0 1000000

TEST(test_G3_tlsdiag_expired_certificate)
{
	struct tlsdiag d;
	char buf[TLSDIAG_WORDS_MAX];
	tlsdiag_init(&d);
	tlsdiag_line(&d, "-Error with certificate at depth: 0", T0);
	tlsdiag_line(&d, "  issuer   = /CN=sipuad test CA", T0);
	tlsdiag_line(&d, "  subject  = /CN=reg.sipuad.test", T0);
	tlsdiag_line(&d, "  err 10:certificate has expired", T0);
	CHECK(!tlsdiag_take(&d, "127.0.0.3", 5061, T0, buf, sizeof buf)); /* not yet paired */
	tlsdiag_line(&d, "tport_close(0x55d0): tls/127.0.0.3:5061/sips", T0);
	tlsdiag_line(&d, "nta: REGISTER (7): Success (0) with tls/[127.0.0.3]:5061", T0);
	tlsdiag_line(&d, "nta: OPTIONS (8): Success (0) with tls/[127.0.0.3]:5061", T0);
	CHECK(!tlsdiag_take(&d, "127.0.0.2", 5061, T0, buf, sizeof buf));
	CHECK(!tlsdiag_take(&d, "127.0.0.3", 5060, T0, buf, sizeof buf));
	/* every request of that connection gets the words, for a while */
	CHECK_STR(tlsdiag_take(&d, "127.0.0.3", 5061, T0 + 10, buf, sizeof buf), "certificate has expired");
	CHECK_STR(tlsdiag_take(&d, "127.0.0.3", 5061, T0 + 20, buf, sizeof buf), "certificate has expired");
	CHECK(!tlsdiag_take(&d, "127.0.0.3", 5061, T0 + TLSDIAG_MAX_AGE_MS + 1, buf, sizeof buf));
	return 0;
}

TEST(test_G3_tlsdiag_first_trouble_is_the_cause)
{
	struct tlsdiag d;
	char buf[TLSDIAG_WORDS_MAX];
	tlsdiag_init(&d);
	tlsdiag_line(&d, "  err 20:unable to get local issuer certificate", T0);
	tlsdiag_line(&d, "  err 21:unable to verify the first certificate", T0);
	tlsdiag_line(&d, "tport_close(0x1): tls/[::1]:5061/sips", T0);
	tlsdiag_line(&d, "nta: OPTIONS (2): Success (0) with tls/[::1]:5061", T0);
	CHECK_STR(tlsdiag_take(&d, "0:0::1", 5061, T0, buf, sizeof buf), "unable to get local issuer certificate");
	return 0;
}

TEST(test_G3_tlsdiag_name_and_handshake)
{
	struct tlsdiag d;
	char buf[TLSDIAG_WORDS_MAX];
	tlsdiag_init(&d);
	tlsdiag_line(&d, "tls_post_connection_check(0x55d0): Peer Subject Mismatch (reg.sipuad.test)", T0);
	tlsdiag_line(&d, "tport_close(0x55d0): tls/127.0.0.3:5061/sips", T0);
	tlsdiag_line(&d, "nta: REGISTER (1): Success (0) with tls/[127.0.0.3]:5061", T0);
	tlsdiag_line(&d, "tls_connect(0x55d1): TLS setup failed (error:00000001:lib(0)::reason(1))", T0);
	tlsdiag_line(&d, "tport_close(0x55d1): tls/127.0.0.4:5061/sips", T0);
	tlsdiag_line(&d, "nta: INVITE (1): Success (0) with tls/[127.0.0.4]:5061", T0);
	CHECK_STR(tlsdiag_take(&d, "127.0.0.3", 5061, T0, buf, sizeof buf), "name mismatch");
	CHECK_STR(tlsdiag_take(&d, "127.0.0.4", 5061, T0, buf, sizeof buf), "handshake failed");
	return 0;
}

TEST(test_G3_tlsdiag_socket_errors_and_other_transports)
{
	struct tlsdiag d;
	char buf[TLSDIAG_WORDS_MAX];
	tlsdiag_init(&d);
	/* a refused connect: no handshake, no close with words */
	tlsdiag_line(&d, "tport_close(0x2): tls/127.0.0.5:5061/sips", T0);
	tlsdiag_line(&d, "nta: REGISTER (3): Connection refused (111) with tls/[127.0.0.5]:5061", T0);
	tlsdiag_line(&d, "nta: REGISTER (4): Success (0) with tls/[127.0.0.6]:5061", T0);
	tlsdiag_line(&d, "nta: REGISTER (5): Connection refused (111) with tcp/[127.0.0.7]:5060", T0);
	CHECK_STR(tlsdiag_take(&d, "127.0.0.5", 5061, T0, buf, sizeof buf), "connection refused");
	CHECK_STR(tlsdiag_take(&d, "127.0.0.6", 5061, T0, buf, sizeof buf), "connection closed");
	CHECK(!tlsdiag_take(&d, "127.0.0.7", 5060, T0, buf, sizeof buf));
	/* lines that merely look alike change nothing */
	tlsdiag_line(&d, "tport_wakeup(0x1): events IN ERR", T0);
	tlsdiag_line(&d, "nta: REGISTER (6): Success (0) with tls/[127.0.0.8:5061", T0);
	tlsdiag_line(&d, "nta: REGISTER (6): Success (0) with tls/[127.0.0.8]:5061 and more", T0);
	CHECK(!tlsdiag_take(&d, "127.0.0.8", 5061, T0, buf, sizeof buf));
	return 0;
}

TEST(test_G3_tlsdiag_peers_cannot_choose_the_words)
{
	struct tlsdiag d;
	char buf[TLSDIAG_WORDS_MAX];
	tlsdiag_init(&d);
	/* a certificate subject that looks like an error line */
	tlsdiag_line(&d, "  subject  = /CN=x err 0:ok, blame your CA", T0);
	tlsdiag_line(&d, "  err 10:certificate has expired", T0);
	tlsdiag_line(&d, "tport_close(0x3): tls/127.0.0.9:5061/sips", T0);
	CHECK_STR(tlsdiag_take(&d, "127.0.0.9", 5061, T0, buf, sizeof buf), "certificate has expired");
	/* a far end's reason phrase in nta's 1xx line names another server */
	tlsdiag_line(&d, "nta: 183 x): certificate revoked by admin (1) with tls/[192.0.2.7]:5061 already received",
		     T0);
	tlsdiag_line(&d, "nta: 183 x): certificate revoked by admin (1) with tls/[192.0.2.7]:5061", T0);
	CHECK(!tlsdiag_take(&d, "192.0.2.7", 5061, T0, buf, sizeof buf));
	return 0;
}

TEST(test_G3_tlsdiag_words_without_a_request_go_to_their_own_connection)
{
	struct tlsdiag d;
	char buf[TLSDIAG_WORDS_MAX];
	tlsdiag_init(&d);
	/* someone's failed handshake on our TLS port, then a refused connect
	 * to a server: the server's failure is not "handshake failed" */
	tlsdiag_line(&d, "tls_connect(0x7): TLS setup failed (error:0A000126)", T0);
	tlsdiag_line(&d, "tport_close(0x7): tls/203.0.113.9:40001/sips", T0);
	tlsdiag_line(&d, "tport_close(0x8): tls/127.0.0.5:5061/sips", T0);
	tlsdiag_line(&d, "nta: REGISTER (3): Connection refused (111) with tls/[127.0.0.5]:5061", T0);
	CHECK_STR(tlsdiag_take(&d, "127.0.0.5", 5061, T0, buf, sizeof buf), "connection refused");
	return 0;
}

TEST(test_G3_tlsdiag_keeps_the_latest)
{
	struct tlsdiag d;
	char buf[TLSDIAG_WORDS_MAX], line[128];
	tlsdiag_init(&d);
	for (int i = 0; i < TLSDIAG_KEEP + 3; i++) {
		tlsdiag_line(&d, "  err 10:certificate has expired", T0);
		snprintf(line, sizeof line, "tport_close(0x9): tls/127.0.1.%d:5061/sips", i);
		tlsdiag_line(&d, line, T0);
	}
	CHECK(!tlsdiag_take(&d, "127.0.1.0", 5061, T0, buf, sizeof buf)); /* pushed out */
	CHECK_STR(tlsdiag_take(&d, "127.0.1.10", 5061, T0, buf, sizeof buf), "certificate has expired");
	return 0;
}

TEST(test_G3_tlsdiag_server_alert_after_the_handshake)
{
	struct tlsdiag d;
	char buf[TLSDIAG_WORDS_MAX];
	tlsdiag_init(&d);
	/* the context's set-up at start says such things: no connection's */
	tlsdiag_line(&d, "tls_init_context: 0a080002:SSL routines:(null):system lib", T0);
	/* TLS 1.3: a server that wants a client certificate says so after
	 * our handshake finished, on our first read */
	tlsdiag_line(&d, "tls_read: SSL_read: 00000001:(null):(null):(null)", T0);
	tlsdiag_line(&d, "tls_read: SSL_read: 0a00045c:SSL routines:(null):tlsv13 alert certificate required", T0);
	/* a read error is reported to the requests first, then closed */
	tlsdiag_line(&d, "nta: REGISTER (9): Input/output error (5) with tls/[127.0.13.2]:5061", T0);
	tlsdiag_line(&d, "tport_close(0xa): tls/127.0.13.2:5061/sips", T0);
	CHECK_STR(tlsdiag_take(&d, "127.0.13.2", 5061, T0, buf, sizeof buf), "alert from the server: certificate required");
	tlsdiag_line(&d, "tls_read: SSL_read: 0a00010b:SSL routines:(null):wrong version number", T0);
	tlsdiag_line(&d, "tport_close(0xb): tls/127.0.13.3:5061/sips", T0);
	CHECK_STR(tlsdiag_take(&d, "127.0.13.3", 5061, T0, buf, sizeof buf), "wrong version number");
	return 0;
}

TEST(test_G4_tlsdiag_closed_line_names_transport_and_address)
{
	enum conf_transport tp;
	char ip[64];
	int port;
	CHECK(tlsdiag_closed_line("tport_close(0x1): tcp/127.0.0.2:5060/sip", &tp, ip, sizeof ip, &port));
	CHECK_INT(tp, CONF_TP_TCP);
	CHECK_STR(ip, "127.0.0.2");
	CHECK_INT(port, 5060);
	CHECK(tlsdiag_closed_line("tport_close(0x2): tls/[2001:db8::1]:5061;comp=sigcomp/sips", &tp, ip, sizeof ip,
				  &port));
	CHECK_INT(tp, CONF_TP_TLS);
	CHECK_STR(ip, "2001:db8::1");
	CHECK_INT(port, 5061);
	/* not ours to act on: udp, other lines, malformed ports, a too small buffer */
	CHECK(!tlsdiag_closed_line("tport_close(0x3): udp/127.0.0.2:5060/sip", &tp, ip, sizeof ip, &port));
	CHECK(!tlsdiag_closed_line("tport_shutdown(0x3): tcp/127.0.0.2:5060/sip", &tp, ip, sizeof ip, &port));
	CHECK(!tlsdiag_closed_line("tport_close(0x4): tcp/127.0.0.2:0/sip", &tp, ip, sizeof ip, &port));
	CHECK(!tlsdiag_closed_line("tport_close(0x4): tcp/127.0.0.2:70000", &tp, ip, sizeof ip, &port));
	CHECK(!tlsdiag_closed_line("tport_close(0x5): tls/[::1:5061", &tp, ip, sizeof ip, &port));
	CHECK(!tlsdiag_closed_line("tport_close(0x6): tcp/127.0.0.2:5060", &tp, ip, 4, &port));
	return 0;
}
