// libssl and libcrypto (OpenSSL 3): DTLS 1.2, certificates and fingerprints, digests, HMAC and
// random bytes for SIP digest authentication.
#ifndef TANDEM_C_OPENSSL_H
#define TANDEM_C_OPENSSL_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/opensslv.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#endif
