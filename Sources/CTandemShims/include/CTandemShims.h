// Wrappers for the C macros and variadic functions Swift cannot call directly
// (opus_encoder_ctl, OpenSSL's SSL_CTX_* and BIO_* macros, version macros), and for the Linux
// calls Swift's Glibc module does not export (epoll, recvmmsg). Nothing else lives here: logic
// belongs in Swift.
#ifndef TANDEM_C_SHIMS_H
#define TANDEM_C_SHIMS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct OpusEncoder;
struct ssl_ctx_st;
struct ssl_st;
struct bio_st;

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

/// SSL_OP_NO_QUERY_MTU, then SSL_set_mtu and DTLS_set_link_mtu (SSL_ctrl macros): a fixed
/// datagram size the record layer never probes.
int tandem_dtls_set_mtu(struct ssl_st *ssl, long mtu);

/// SSL_OP_NO_TICKET (an SSL_OP_BIT macro): no session tickets; WebRTC never resumes sessions.
void tandem_ssl_disable_session_tickets(struct ssl_st *ssl);

/// DTLSv1_get_timeout (an SSL_ctrl macro): 1 and the remaining microseconds while the
/// retransmission timer runs, 0 when it is stopped.
int tandem_dtls_get_timeout(struct ssl_st *ssl, int64_t *remainingMicroseconds);

/// DTLSv1_handle_timeout (an SSL_ctrl macro): 1 when a flight was retransmitted, 0 when the timer
/// had not expired, -1 on a fatal error (too many retransmissions).
int tandem_dtls_handle_timeout(struct ssl_st *ssl);

/// BIO_set_retry_read (a macro over BIO_set_flags).
void tandem_bio_set_retry_read(struct bio_st *bio);

/// BIO_clear_retry_flags (a macro over BIO_clear_flags).
void tandem_bio_clear_retry_flags(struct bio_st *bio);

/// BIO_get_mem_data (a BIO_ctrl macro): the bytes a memory BIO holds.
long tandem_bio_get_mem_data(struct bio_st *bio, char **data);

/// One datagram slot for tandem_receive_batch: the caller's buffer in, the length and source out.
struct tandem_datagram {
    void *buffer;
    size_t capacity;
    size_t length;
    struct sockaddr_storage source;
    socklen_t source_length;
};

/// recvmmsg(fd, ..., count, MSG_DONTWAIT): fills up to `count` slots; returns how many, or -1
/// with errno (EAGAIN when nothing is queued).
int tandem_receive_batch(int fd, struct tandem_datagram *datagrams, unsigned int count);

/// epoll_create1(EPOLL_CLOEXEC).
int tandem_epoll_create(void);
/// Watches `fd` for input (level-triggered); 0 or -1 with errno.
int tandem_epoll_add(int epoll, int fd);
/// Stops watching `fd`.
int tandem_epoll_remove(int epoll, int fd);
/// epoll_wait with no wait: writes up to `max` ready descriptors to `fds`; returns how many.
int tandem_epoll_ready(int epoll, int *fds, int max);

/// Watches `fd` for input (level-triggered), tagged with `token` for tandem_epoll_wait_tokens.
int tandem_epoll_add_token(int epoll, int fd, uint64_t token);
/// epoll_wait for up to `timeout_ms` (-1: no limit): writes up to `max` ready tokens; returns how
/// many, or -1 with errno.
int tandem_epoll_wait_tokens(int epoll, uint64_t *tokens, int max, int timeout_ms);
/// A non-blocking eventfd, to wake a loop from another thread.
int tandem_eventfd_create(void);
void tandem_eventfd_signal(int fd);
void tandem_eventfd_drain(int fd);
/// Names the calling thread (up to 15 bytes show).
void tandem_set_thread_name(const char *name);

#endif
