/* ctl_proto.h - the control socket's wire format, shared by sipuad and sipuactl (SPEC E). */
#ifndef SIPUAD_CTL_PROTO_H
#define SIPUAD_CTL_PROTO_H

#define CTL_DEFAULT_SOCKET "/var/run/sipuad.sock"
#define CTL_REQUEST_MAX 4096          /* bytes of one request line, '\n' included */

/* sipuactl's exit codes */
#define CTL_EXIT_OK 0
#define CTL_EXIT_ERROR 1              /* the daemon answered {"ok":false,...} */
#define CTL_EXIT_NODAEMON 2           /* no daemon on the socket */

#endif
