#!/usr/bin/env bash
# t_dns_proxy_heartbeat.sh with the fixture's stock proxy: a failed relay
# is answered "500 ... (1/SL)" by sl_reply_error() before tm's 477, as
# Kamailio's default configuration does. The daemon must take a proxy's 5xx
# to a heartbeat as a miss all the same.
# fx-timeout: 60
FX_PROXY_STOCK=1 exec bash "$(dirname "$0")/t_dns_proxy_heartbeat.sh"
