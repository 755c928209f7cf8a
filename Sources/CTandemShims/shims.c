// Implementations of the wrappers declared in include/CTandemShims.h.
#define _GNU_SOURCE  // recvmmsg
#include "CTandemShims.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <opus/opus.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <sys/time.h>
#include <spandsp/version.h>

const char *tandem_openssl_version(void) { return OpenSSL_version(OPENSSL_VERSION); }

const char *tandem_spandsp_release(void) { return SPANDSP_RELEASE_DATETIME_STRING; }

int tandem_opus_set_bitrate(struct OpusEncoder *enc, int32_t bps) {
    return opus_encoder_ctl(enc, OPUS_SET_BITRATE(bps));
}

int tandem_opus_set_inband_fec(struct OpusEncoder *enc, int on) {
    return opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(on ? 1 : 0));
}

int tandem_opus_set_dtx(struct OpusEncoder *enc, int on) {
    return opus_encoder_ctl(enc, OPUS_SET_DTX(on ? 1 : 0));
}

int tandem_opus_set_packet_loss_percent(struct OpusEncoder *enc, int32_t percent) {
    return opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(percent));
}

int tandem_opus_set_complexity(struct OpusEncoder *enc, int32_t complexity) {
    return opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(complexity));
}

int tandem_ssl_ctx_set_proto_versions(struct ssl_ctx_st *ctx, int minVersion, int maxVersion) {
    if (SSL_CTX_set_min_proto_version(ctx, minVersion) != 1) return 0;
    return SSL_CTX_set_max_proto_version(ctx, maxVersion) == 1;
}

int tandem_dtls_set_mtu(struct ssl_st *ssl, long mtu) {
    SSL_set_options(ssl, SSL_OP_NO_QUERY_MTU);
    if (SSL_set_mtu(ssl, mtu) <= 0) return 0;  /* returns the MTU it set */
    return DTLS_set_link_mtu(ssl, mtu) == 1;
}

void tandem_ssl_disable_session_tickets(struct ssl_st *ssl) { SSL_set_options(ssl, SSL_OP_NO_TICKET); }

int tandem_dtls_get_timeout(struct ssl_st *ssl, int64_t *remainingMicroseconds) {
    struct timeval remaining = {0, 0};
    if (DTLSv1_get_timeout(ssl, &remaining) != 1) return 0;
    *remainingMicroseconds = (int64_t)remaining.tv_sec * 1000000 + (int64_t)remaining.tv_usec;
    return 1;
}

int tandem_dtls_handle_timeout(struct ssl_st *ssl) { return (int)DTLSv1_handle_timeout(ssl); }

void tandem_bio_set_retry_read(struct bio_st *bio) { BIO_set_retry_read(bio); }

void tandem_bio_clear_retry_flags(struct bio_st *bio) { BIO_clear_retry_flags(bio); }

long tandem_bio_get_mem_data(struct bio_st *bio, char **data) { return BIO_get_mem_data(bio, data); }

int tandem_receive_batch(int fd, struct tandem_datagram *datagrams, unsigned int count) {
    enum { limit = 64 };
    struct mmsghdr headers[limit];
    struct iovec vectors[limit];
    if (count > limit) count = limit;
    for (unsigned int i = 0; i < count; i++) {
        vectors[i].iov_base = datagrams[i].buffer;
        vectors[i].iov_len = datagrams[i].capacity;
        headers[i].msg_hdr = (struct msghdr){
            .msg_name = &datagrams[i].source, .msg_namelen = sizeof(datagrams[i].source), .msg_iov = &vectors[i], .msg_iovlen = 1};
        headers[i].msg_len = 0;
    }
    int received = recvmmsg(fd, headers, count, MSG_DONTWAIT, NULL);
    for (int i = 0; i < received; i++) {
        datagrams[i].length = headers[i].msg_len;
        datagrams[i].source_length = headers[i].msg_hdr.msg_namelen;
    }
    return received;
}

int tandem_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int tandem_epoll_add(int epoll, int fd) {
    struct epoll_event event = {.events = EPOLLIN, .data.fd = fd};
    return epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event);
}

int tandem_epoll_remove(int epoll, int fd) { return epoll_ctl(epoll, EPOLL_CTL_DEL, fd, NULL); }

int tandem_epoll_ready(int epoll, int *fds, int max) {
    enum { limit = 64 };
    struct epoll_event events[limit];
    if (max > limit) max = limit;
    int ready = epoll_wait(epoll, events, max, 0);
    for (int i = 0; i < ready; i++) fds[i] = events[i].data.fd;
    return ready;
}

int tandem_epoll_add_token(int epoll, int fd, uint64_t token) {
    struct epoll_event event = {.events = EPOLLIN, .data.u64 = token};
    return epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event);
}

int tandem_epoll_wait_tokens(int epoll, uint64_t *tokens, int max, int timeout_ms) {
    enum { limit = 64 };
    struct epoll_event events[limit];
    if (max > limit) max = limit;
    int ready = epoll_wait(epoll, events, max, timeout_ms);
    for (int i = 0; i < ready; i++) tokens[i] = events[i].data.u64;
    return ready;
}

int tandem_eventfd_create(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

void tandem_eventfd_signal(int fd) {
    uint64_t one = 1;
    ssize_t written = write(fd, &one, sizeof one);
    (void)written;  // EAGAIN: the counter is already non-zero, the loop wakes anyway
}

void tandem_eventfd_drain(int fd) {
    uint64_t value;
    ssize_t got = read(fd, &value, sizeof value);
    (void)got;
}

void tandem_set_thread_name(const char *name) { pthread_setname_np(pthread_self(), name); }
