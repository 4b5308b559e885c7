/* ctl_proto.h - the control socket's wire format, shared by sipuad and sipuactl (SPEC E). */
#ifndef SIPUAD_CTL_PROTO_H
#define SIPUAD_CTL_PROTO_H

#define CTL_DEFAULT_SOCKET "/var/run/sipuad.sock"
#define CTL_REQUEST_MAX 4096          /* bytes of one request line, '\n' included */
#define CTL_REPLY_MAX (4 * 1024 * 1024) /* bytes of one reply or event line sipuactl accepts, '\n' excluded */
#define CTL_SOCKET_ENV "SIPUAD_SOCKET" /* sipuactl's socket unless -s; CTL_DEFAULT_SOCKET if unset */

/* sipuactl's exit codes */
#define CTL_EXIT_OK 0
#define CTL_EXIT_ERROR 1              /* the daemon answered {"ok":false,...} */
#define CTL_EXIT_NODAEMON 2           /* no daemon on the socket */

#endif
