// libsrtp2: SRTP and SRTCP protect/unprotect (RFC 3711, RFC 7714).
#ifndef TANDEM_C_SRTP_H
#define TANDEM_C_SRTP_H
#include <srtp2/srtp.h>
#endif
