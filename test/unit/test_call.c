/* test_call.c - the call machine's rules (RULES F) on a fake clock, no network. */
#include <stdio.h>
#include <string.h>

#include "call.h"
#include "unit.h"

static const struct call_config cfg = { .wait_ms = 12800, .zombie_ms = 6400 };

static struct line_hop hop(int server, const char *ip, bool last)
{
	struct line_hop h = { .up = true, .server = server, .last = last, .budget_ms = 700 };
	snprintf(h.addr.ip, sizeof h.addr.ip, "%s", ip);
	h.addr.port = 5060;
	return h;
}

static int count(const struct call_actions *out, enum call_act_kind k)
{
	int n = 0;
	for (int i = 0; i < out->n; i++)
		n += out->v[i].kind == k;
	return n;
}

static const struct call_action *find(const struct call_actions *out, enum call_act_kind k)
{
	for (int i = 0; i < out->n; i++)
		if (out->v[i].kind == k)
			return &out->v[i];
	return NULL;
}

static void ev(struct call *c, enum call_ev_kind k, int status, bool local, int64_t now, struct call_actions *out)
{
	struct call_event e = { .kind = k, .status = status, .local = local, .phrase = "x" };
	call_step(c, &e, now, out);
}

static void dial(struct call *c, const struct line_hop *h, struct call_actions *out)
{
	call_init(c, &cfg, true);
	struct call_event e = { .kind = CE_DIAL, .hop = h };
	call_step(c, &e, 0, out);
}

static void line(struct call *c, const struct line_hop *h, int64_t now, struct call_actions *out)
{
	struct call_event e = { .kind = CE_LINE, .hop = h };
	call_step(c, &e, now, out);
}

TEST(test_call_F1_outgoing_rings_and_is_established)
{
	struct call c;
	struct call_actions out;
	struct line_hop p = hop(0, "127.0.0.2", false);
	dial(&c, &p, &out);
	CHECK_INT(c.state, CALL_CALLING);
	CHECK_INT(count(&out, CA_PUBLISH), 1);
	CHECK(find(&out, CA_INVITE) != NULL);
	CHECK_STR(find(&out, CA_INVITE)->hop.addr.ip, "127.0.0.2");
	CHECK_INT(c.deadline[CT_BUDGET], 700); /* C.5: not the last server */
	ev(&c, CE_PROGRESS, 100, false, 10, &out);
	CHECK_INT(c.deadline[CT_BUDGET], 0);  /* the server answered */
	CHECK_INT(out.n, 0);
	ev(&c, CE_PROGRESS, 180, false, 20, &out);
	CHECK_INT(c.state, CALL_RINGING);
	CHECK_INT(count(&out, CA_PUBLISH), 1);
	ev(&c, CE_PROGRESS, 183, false, 30, &out);
	CHECK_INT(c.state, CALL_EARLY);
	ev(&c, CE_FINAL, 200, false, 40, &out);
	CHECK_INT(c.state, CALL_ESTABLISHED);
	CHECK_INT(c.answered_at, 40);
	return 0;
}

TEST(test_call_F2_busy_is_busy_never_a_failover)
{
	static const int codes[] = { 486, 603, 404, 480, 408, 504, 502, 600 };
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		struct call c;
		struct call_actions out;
		struct line_hop p = hop(0, "127.0.0.2", false);
		dial(&c, &p, &out);
		ev(&c, CE_FINAL, codes[i], false, 10, &out);
		CHECK_INT(c.state, CALL_CLOSED);
		CHECK_INT(c.code, codes[i]);
		CHECK_INT(count(&out, CA_LINE_FAILED), 0);
		CHECK_INT(count(&out, CA_DONE), 1);
	}
	return 0;
}

TEST(test_call_F2_unanswered_invite_waits_for_the_line_then_goes_to_the_backup)
{
	struct call c;
	struct call_actions out;
	struct line_hop p = hop(0, "127.0.0.2", false), b = hop(1, "127.0.0.3", true);
	dial(&c, &p, &out);
	struct call_event t = { .kind = CE_TIMER, .timer = CT_BUDGET };
	call_step(&c, &t, 700, &out);
	CHECK_INT(c.state, CALL_CALLING); /* the user sees one call */
	CHECK_INT(c.phase, CP_WAIT_LINE);
	CHECK_INT(count(&out, CA_ABANDON), 1);
	const struct call_action *f = find(&out, CA_LINE_FAILED);
	CHECK(f != NULL);
	CHECK(!f->server_down); /* A.6: re-register first */
	CHECK_INT(f->hop.server, 0);
	CHECK_INT(count(&out, CA_PUBLISH), 0);
	/* the line re-registers (not up), then lands on the backup */
	struct line_hop down = p;
	down.up = false;
	line(&c, &down, 800, &out);
	CHECK_INT(out.n, 0);
	line(&c, &b, 1500, &out);
	CHECK(find(&out, CA_INVITE) != NULL);
	CHECK_STR(find(&out, CA_INVITE)->hop.addr.ip, "127.0.0.3");
	CHECK_INT(c.deadline[CT_BUDGET], 0); /* the last server: Timer B */
	ev(&c, CE_FINAL, 200, false, 1600, &out);
	CHECK_INT(c.state, CALL_ESTABLISHED);
	return 0;
}

TEST(test_call_F2_server_5xx_switches_the_line_at_once)
{
	struct call c;
	struct call_actions out;
	struct line_hop p = hop(0, "127.0.0.2", false);
	dial(&c, &p, &out);
	ev(&c, CE_FINAL, 503, false, 10, &out);
	const struct call_action *f = find(&out, CA_LINE_FAILED);
	CHECK(f != NULL);
	CHECK(f->server_down);
	CHECK_INT(c.phase, CP_WAIT_LINE);
	/* ICMP (our own 503) and our own 408: re-register first */
	dial(&c, &p, &out);
	ev(&c, CE_FINAL, 503, true, 10, &out);
	CHECK(find(&out, CA_LINE_FAILED) && !find(&out, CA_LINE_FAILED)->server_down);
	dial(&c, &p, &out);
	ev(&c, CE_FINAL, 500, false, 10, &out);
	CHECK(find(&out, CA_LINE_FAILED) && find(&out, CA_LINE_FAILED)->server_down);
	return 0;
}

TEST(test_call_F2_no_failover_after_a_provisional)
{
	struct call c;
	struct call_actions out;
	struct line_hop p = hop(0, "127.0.0.2", false);
	dial(&c, &p, &out);
	ev(&c, CE_PROGRESS, 180, false, 10, &out);
	ev(&c, CE_FINAL, 503, false, 20, &out);
	CHECK_INT(c.state, CALL_CLOSED);
	CHECK_INT(c.code, 503);
	CHECK_INT(count(&out, CA_LINE_FAILED), 0);
	/* 100 Trying alone does not stop a failover on a 503 */
	dial(&c, &p, &out);
	ev(&c, CE_PROGRESS, 100, false, 10, &out);
	ev(&c, CE_FINAL, 503, false, 20, &out);
	CHECK_INT(c.state, CALL_CALLING);
	CHECK_INT(count(&out, CA_LINE_FAILED), 1);
	return 0;
}

TEST(test_call_F2_a_proxy_speaks_for_the_server)
{
	struct call c;
	struct call_actions out;
	struct line_hop p = hop(0, "127.0.0.5", false);
	snprintf(p.route, sizeof p.route, "127.0.0.2");
	dial(&c, &p, &out);
	ev(&c, CE_FINAL, 477, false, 10, &out);
	CHECK_INT(count(&out, CA_LINE_FAILED), 1);
	dial(&c, &p, &out);
	ev(&c, CE_FINAL, 408, false, 10, &out);
	CHECK_INT(count(&out, CA_LINE_FAILED), 1);
	/* without a proxy, a server's 408 is the far end not answering */
	struct line_hop d = hop(0, "127.0.0.2", false);
	dial(&c, &d, &out);
	ev(&c, CE_FINAL, 408, false, 10, &out);
	CHECK_INT(c.state, CALL_CLOSED);
	return 0;
}

TEST(test_call_F2_each_address_once_then_the_call_ends)
{
	struct call c;
	struct call_actions out;
	struct line_hop p = hop(0, "127.0.0.2", false);
	dial(&c, &p, &out);
	ev(&c, CE_FINAL, 503, true, 10, &out);
	/* the re-registration worked on the same server: not sent there twice */
	line(&c, &p, 100, &out);
	CHECK_INT(count(&out, CA_INVITE), 0);
	CHECK_INT(c.state, CALL_CLOSED);
	CHECK_INT(c.code, 503);
	CHECK_INT(count(&out, CA_DONE), 1);
	/* every server down: the line gave up */
	dial(&c, &p, &out);
	ev(&c, CE_FINAL, 408, true, 10, &out);
	struct line_hop failed = { .failed = true };
	line(&c, &failed, 100, &out);
	CHECK_INT(c.state, CALL_CLOSED);
	CHECK_INT(c.code, 408);
	/* or no server within the wait */
	dial(&c, &p, &out);
	ev(&c, CE_FINAL, 408, true, 10, &out);
	struct call_event t = { .kind = CE_TIMER, .timer = CT_WAIT };
	call_step(&c, &t, 10 + cfg.wait_ms, &out);
	CHECK_INT(c.state, CALL_CLOSED);
	return 0;
}

TEST(test_call_F1_a_line_not_registered_makes_the_call_wait)
{
	struct call c;
	struct call_actions out;
	struct line_hop none = { .up = false };
	dial(&c, &none, &out);
	CHECK_INT(count(&out, CA_INVITE), 0);
	CHECK_INT(c.phase, CP_WAIT_LINE);
	struct line_hop b = hop(1, "127.0.0.3", true);
	line(&c, &b, 500, &out);
	CHECK_INT(count(&out, CA_INVITE), 1);
	/* a line that gave up: the call ends at once */
	struct line_hop failed = { .failed = true };
	dial(&c, &failed, &out);
	CHECK_INT(c.state, CALL_CLOSED);
	CHECK_INT(c.code, 503);
	CHECK_INT(count(&out, CA_PUBLISH), 2); /* calling, then closed, in one step */
	CHECK_INT(out.v[0].kind, CA_PUBLISH);
	CHECK_INT(out.v[0].status, CALL_CALLING);
	CHECK_INT(find(&out, CA_DONE) - out.v, 2);
	CHECK_INT(out.v[1].status, CALL_CLOSED);
	CHECK_INT(count(&out, CA_DONE), 1);
	return 0;
}

TEST(test_call_F4_bye_failover_closes_at_once_and_retries_via_the_line)
{
	struct call c;
	struct call_actions out;
	struct line_hop p = hop(0, "127.0.0.2", false), b = hop(1, "127.0.0.3", true);
	dial(&c, &p, &out);
	ev(&c, CE_FINAL, 200, false, 10, &out);
	ev(&c, CE_HANGUP, 0, false, 1000, &out);
	CHECK_INT(c.state, CALL_CLOSED); /* RFC 3261 15.1.1: at once */
	CHECK_INT(count(&out, CA_PUBLISH), 1);
	CHECK(find(&out, CA_BYE) && !find(&out, CA_BYE)->via);
	CHECK_INT(c.deadline[CT_BUDGET], 1700);
	struct call_event t = { .kind = CE_TIMER, .timer = CT_BUDGET };
	call_step(&c, &t, 1700, &out);
	CHECK_INT(count(&out, CA_LINE_FAILED), 1);
	CHECK_INT(count(&out, CA_PUBLISH), 0); /* closed once */
	CHECK_INT(c.phase, CP_BYE_WAIT_LINE);
	line(&c, &b, 2500, &out);
	const struct call_action *x = find(&out, CA_BYE);
	CHECK(x && x->via);
	CHECK_STR(x->hop.addr.ip, "127.0.0.3");
	ev(&c, CE_BYE_DONE, 200, false, 2600, &out);
	CHECK_INT(count(&out, CA_DONE), 1);
	CHECK_INT(count(&out, CA_PUBLISH), 0);
	return 0;
}

TEST(test_call_F4_a_far_end_word_on_the_bye_clears_it)
{
	struct call c;
	struct call_actions out;
	struct line_hop p = hop(0, "127.0.0.2", false);
	dial(&c, &p, &out);
	ev(&c, CE_FINAL, 200, false, 10, &out);
	ev(&c, CE_HANGUP, 0, false, 20, &out);
	ev(&c, CE_BYE_DONE, 481, false, 30, &out);
	CHECK_INT(count(&out, CA_DONE), 1);
	CHECK_INT(count(&out, CA_LINE_FAILED), 0);
	return 0;
}

TEST(test_call_F6_exactly_one_closed_whatever_ends_it)
{
	struct call c;
	struct call_actions out;
	struct line_hop p = hop(0, "127.0.0.2", false);
	/* cancelled while ringing; the 487 and a late 'ended' change nothing */
	dial(&c, &p, &out);
	ev(&c, CE_PROGRESS, 180, false, 10, &out);
	ev(&c, CE_HANGUP, 0, false, 20, &out);
	CHECK_INT(c.state, CALL_CLOSED);
	CHECK_INT(c.code, 487);
	CHECK_INT(count(&out, CA_CANCEL), 1);
	CHECK_INT(count(&out, CA_PUBLISH), 1);
	ev(&c, CE_FINAL, 487, false, 30, &out);
	CHECK_INT(count(&out, CA_PUBLISH), 0);
	CHECK_INT(count(&out, CA_DONE), 1);
	/* the answer crossed the CANCEL: BYE, no second closed */
	dial(&c, &p, &out);
	ev(&c, CE_PROGRESS, 180, false, 10, &out);
	ev(&c, CE_HANGUP, 0, false, 20, &out);
	ev(&c, CE_FINAL, 200, false, 30, &out);
	CHECK_INT(count(&out, CA_BYE), 1);
	CHECK_INT(count(&out, CA_PUBLISH), 0);
	/* the far end hangs up */
	dial(&c, &p, &out);
	ev(&c, CE_FINAL, 200, false, 10, &out);
	struct call_event e = { .kind = CE_ENDED, .status = 200, .remote = true, .phrase = "remote hangup" };
	call_step(&c, &e, 20, &out);
	CHECK_INT(c.state, CALL_CLOSED);
	CHECK_INT(count(&out, CA_PUBLISH), 1);
	call_step(&c, &e, 30, &out);
	CHECK_INT(out.n, 0);
	/* hung up while waiting for the line: closed, nothing sent */
	dial(&c, &p, &out);
	ev(&c, CE_FINAL, 503, true, 10, &out);
	ev(&c, CE_HANGUP, 0, false, 20, &out);
	CHECK_INT(c.state, CALL_CLOSED);
	CHECK_INT(count(&out, CA_CANCEL) + count(&out, CA_BYE), 0);
	return 0;
}

TEST(test_call_F3_incoming_rings_answers_rejects)
{
	struct call c;
	struct call_actions out;
	struct line_hop p = hop(0, "127.0.0.2", false);
	call_init(&c, &cfg, false);
	struct call_event o = { .kind = CE_OFFER, .hop = &p };
	call_step(&c, &o, 0, &out);
	CHECK_INT(c.state, CALL_INCOMING);
	CHECK(find(&out, CA_RESPOND) && find(&out, CA_RESPOND)->status == 180);
	CHECK_INT(count(&out, CA_PUBLISH), 1);
	ev(&c, CE_ANSWER, 0, false, 10, &out);
	CHECK(find(&out, CA_RESPOND) && find(&out, CA_RESPOND)->status == 200);
	CHECK_INT(c.state, CALL_INCOMING);
	ev(&c, CE_ACKED, 0, false, 20, &out);
	CHECK_INT(c.state, CALL_ESTABLISHED);
	/* rejected with a code, or 486 by default */
	call_init(&c, &cfg, false);
	call_step(&c, &o, 0, &out);
	ev(&c, CE_HANGUP, 603, false, 10, &out);
	CHECK(find(&out, CA_RESPOND) && find(&out, CA_RESPOND)->status == 603);
	CHECK_INT(c.code, 603);
	CHECK_INT(c.state, CALL_CLOSED);
	call_init(&c, &cfg, false);
	call_step(&c, &o, 0, &out);
	ev(&c, CE_HANGUP, 0, false, 10, &out);
	CHECK(find(&out, CA_RESPOND) && find(&out, CA_RESPOND)->status == 486);
	/* the caller cancels */
	call_init(&c, &cfg, false);
	call_step(&c, &o, 0, &out);
	struct call_event e = { .kind = CE_ENDED, .status = 487, .remote = true, .phrase = "cancelled by the caller" };
	call_step(&c, &e, 20, &out);
	CHECK_INT(c.state, CALL_CLOSED);
	CHECK_INT(c.code, 487);
	return 0;
}

TEST(test_call_F3_admission)
{
	CHECK_INT(call_admit(false, 0, 2), 403);
	CHECK_INT(call_admit(true, 2, 2), 486);
	CHECK_INT(call_admit(true, 1, 2), 0);
	return 0;
}

TEST(test_call_F8_a_reoffer_is_answered_when_up_else_491)
{
	struct call c;
	struct call_actions out;
	struct line_hop p = hop(0, "127.0.0.2", false);
	dial(&c, &p, &out);
	ev(&c, CE_REOFFER, 0, false, 5, &out);
	CHECK(find(&out, CA_RESPOND) && find(&out, CA_RESPOND)->status == 491);
	ev(&c, CE_FINAL, 200, false, 10, &out);
	ev(&c, CE_REOFFER, 0, false, 20, &out);
	CHECK(find(&out, CA_RESPOND) && find(&out, CA_RESPOND)->status == 200);
	CHECK_INT(count(&out, CA_PUBLISH), 0); /* not a state change */
	CHECK_INT(c.state, CALL_ESTABLISHED);
	return 0;
}
