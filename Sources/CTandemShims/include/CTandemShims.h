// Wrappers for the C macros and variadic functions Swift cannot call directly
// (opus_encoder_ctl, OpenSSL's SSL_CTX_* and BIO_* macros, version macros). Nothing else lives
// here: logic belongs in Swift.
#ifndef TANDEM_C_SHIMS_H
#define TANDEM_C_SHIMS_H

#include <stdint.h>

struct OpusEncoder;
struct ssl_ctx_st;

/// OpenSSL's runtime version text ("OpenSSL 3.0.x ..."); OpenSSL_version(OPENSSL_VERSION).
const char *tandem_openssl_version(void);

/// spandsp's release stamp (SPANDSP_RELEASE_DATETIME_STRING, "YYYYMMDD HHMMSS").
const char *tandem_spandsp_release(void);

/// opus_encoder_ctl(enc, OPUS_SET_BITRATE(bps)); returns an OPUS_* code.
int tandem_opus_set_bitrate(struct OpusEncoder *enc, int32_t bitsPerSecond);
/// opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(on)).
int tandem_opus_set_inband_fec(struct OpusEncoder *enc, int on);
/// opus_encoder_ctl(enc, OPUS_SET_DTX(on)).
int tandem_opus_set_dtx(struct OpusEncoder *enc, int on);
/// opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(percent)).
int tandem_opus_set_packet_loss_percent(struct OpusEncoder *enc, int32_t percent);
/// opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(complexity)).
int tandem_opus_set_complexity(struct OpusEncoder *enc, int32_t complexity);

/// SSL_CTX_set_min_proto_version / SSL_CTX_set_max_proto_version (macros in OpenSSL 3).
int tandem_ssl_ctx_set_proto_versions(struct ssl_ctx_st *ctx, int minVersion, int maxVersion);

#endif
