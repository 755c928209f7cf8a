/*
 * tandem-floor: the floor of the relayed-call benchmark (issue 15). Bench-only code, not part of
 * the product: tandem-load runs it next to tandemd and rtpengine to show what the cheapest
 * possible relay of the same calls costs on the same machine.
 *
 * It does the work a relayed WebRTC-to-RTP call needs and nothing else:
 *   - ICE-lite on the browser socket: Binding requests are checked (USERNAME, MESSAGE-INTEGRITY)
 *     and answered (XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY, FINGERPRINT); the first valid check's
 *     source becomes the browser's address;
 *   - the DTLS server role (OpenSSL, memory BIOs, a self-signed P-256 certificate made at
 *     start-up), the peer's certificate checked against the SHA-256 fingerprint it was given;
 *   - SRTP with AEAD_AES_256_GCM or AEAD_AES_128_GCM (RFC 7714) on OpenSSL's AES-GCM, one
 *     cipher context per direction whose key is set once, so a packet only changes the IV;
 *   - the relay: one thread, level-triggered epoll over every socket; a ready socket is read
 *     with recvmmsg, the batch is unprotected or protected in place and sent with one sendmmsg.
 *     Both sockets are connect()ed to their peer (the trunk at once, the browser after its first
 *     check), so the kernel filters sources and sends need no address.
 * There are no timers, no per-packet logging and no per-packet allocation. A malformed,
 * unauthenticated or replayed packet is dropped and counted.
 *
 * Driven over stdin/stdout, one command and one reply per line:
 *   call <id> <browser-ufrag> <browser-pwd> <browser-sha256-fingerprint> <trunk-port>
 *       -> ok <id> <ufrag> <pwd> <sha256-fingerprint> <browser-port> <trunk-port>
 *   hangup <id>  -> ok <id> to-trunk <n> to-browser <n> dropped <n>
 *   stats        -> stats calls <n> to-trunk <n> to-browser <n> dropped <n>   (all calls ever)
 *   quit         -> bye
 * Errors reply "error <id or -> <reason>". At start-up it prints "ready <fingerprint>". The
 * browser's password is accepted but unused: an ICE-lite agent sends no checks of its own.
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/srtp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

enum { BATCH = 32, PACKET_ROOM = 2048, TAG_LENGTH = 16, SALT_LENGTH = 12, MAX_EVENTS = 64 };
enum { SIDE_BROWSER = 0, SIDE_TRUNK = 1 };
#define STDIN_TAG UINT64_MAX

/* ---------- SRTP (RFC 3711 and RFC 7714) ---------- */

/* One direction of one call: its cipher (key set once) and the state of its one stream (the
 * bench sends one SSRC each way; a new SSRC replaces the stream, at ROC 0). */
struct srtp_stream {
    EVP_CIPHER_CTX *cipher;
    int encrypting;
    uint8_t salt[SALT_LENGTH];
    int known;          /* a packet of `ssrc` has been protected or verified */
    uint32_t ssrc;
    uint32_t rollover;  /* ROC */
    uint16_t highest;   /* the highest sequence number seen (s_l) */
    uint64_t window;    /* replay: bit i set when index (highest - i) was seen */
};

/* The AES-CM key derivation of RFC 3711 section 4.3 with a key derivation rate of 0: keystream
 * under the master key, IV = master salt (the 96-bit AEAD salt zero-padded to 112 bits) with the
 * label XORed into byte 7, followed by a 16-bit block counter. */
static int derive(const uint8_t *master_key, int key_length, const uint8_t *master_salt, uint8_t label,
                  uint8_t *out, int out_length) {
    EVP_CIPHER_CTX *ecb = EVP_CIPHER_CTX_new();
    int ok = ecb && EVP_EncryptInit_ex(ecb, key_length == 16 ? EVP_aes_128_ecb() : EVP_aes_256_ecb(), NULL,
                                       master_key, NULL) == 1;
    if (ok) EVP_CIPHER_CTX_set_padding(ecb, 0);
    uint8_t block[16] = {0}, keystream[32];
    memcpy(block, master_salt, SALT_LENGTH);
    block[7] ^= label;
    for (int done = 0, counter = 0; ok && done < out_length; counter++) {
        int written = 0;
        block[14] = (uint8_t)(counter >> 8);
        block[15] = (uint8_t)counter;
        ok = EVP_EncryptUpdate(ecb, keystream, &written, block, 16) == 1 && written == 16;
        int take = out_length - done < 16 ? out_length - done : 16;
        memcpy(out + done, keystream, take);
        done += take;
    }
    EVP_CIPHER_CTX_free(ecb);
    OPENSSL_cleanse(keystream, sizeof keystream);
    return ok;
}

static int stream_init(struct srtp_stream *stream, const uint8_t *master_key, int key_length,
                       const uint8_t *master_salt, int encrypting) {
    uint8_t session_key[32];
    memset(stream, 0, sizeof *stream);
    stream->encrypting = encrypting;
    if (!derive(master_key, key_length, master_salt, 0x00, session_key, key_length)) return 0;
    if (!derive(master_key, key_length, master_salt, 0x02, stream->salt, SALT_LENGTH)) return 0;
    const EVP_CIPHER *gcm = key_length == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
    stream->cipher = EVP_CIPHER_CTX_new();
    int ok = stream->cipher && (encrypting ? EVP_EncryptInit_ex(stream->cipher, gcm, NULL, session_key, NULL)
                                           : EVP_DecryptInit_ex(stream->cipher, gcm, NULL, session_key, NULL)) == 1;
    OPENSSL_cleanse(session_key, sizeof session_key);
    return ok;
}

static void stream_free(struct srtp_stream *stream) {
    EVP_CIPHER_CTX_free(stream->cipher);
    stream->cipher = NULL;
}

/* The RTP header's length (CSRCs and extension included), or -1 if it does not fit. */
static int rtp_header_length(const uint8_t *packet, int length) {
    if (length < 12 || (packet[0] >> 6) != 2) return -1;
    int header = 12 + 4 * (packet[0] & 0x0F);
    if (packet[0] & 0x10) {
        if (length < header + 4) return -1;
        header += 4 + 4 * ((packet[header + 2] << 8) | packet[header + 3]);
    }
    return header <= length ? header : -1;
}

/* RFC 5761: payload types 64-95 with the marker bit are RTCP (types 192-223). */
static int is_rtcp(const uint8_t *packet) { return packet[1] >= 192 && packet[1] <= 223; }

/* The rollover counter a sequence number most likely belongs to (RFC 3711 section 3.3.1). */
static uint32_t guess_rollover(const struct srtp_stream *stream, uint16_t sequence) {
    if (stream->highest < 0x8000) {
        if ((int)sequence - (int)stream->highest > 0x8000) return stream->rollover - 1;
    } else if ((int)stream->highest - 0x8000 > (int)sequence) {
        return stream->rollover + 1;
    }
    return stream->rollover;
}

/* AES-GCM over one packet in place: the header is the additional data, the payload is
 * encrypted, the tag follows it (RFC 7714 section 8). The IV is 0x0000 | SSRC | ROC | SEQ XOR
 * the session salt. */
static int gcm(struct srtp_stream *stream, uint8_t *packet, int header, int payload, uint32_t rollover) {
    uint8_t iv[SALT_LENGTH] = {0, 0, packet[8], packet[9], packet[10], packet[11],
                               (uint8_t)(rollover >> 24), (uint8_t)(rollover >> 16), (uint8_t)(rollover >> 8),
                               (uint8_t)rollover, packet[2], packet[3]};
    for (int i = 0; i < SALT_LENGTH; i++) iv[i] ^= stream->salt[i];
    EVP_CIPHER_CTX *cipher = stream->cipher;
    uint8_t *tag = packet + header + payload;
    int written = 0;
    if (stream->encrypting) {
        return EVP_EncryptInit_ex(cipher, NULL, NULL, NULL, iv) == 1
            && EVP_EncryptUpdate(cipher, NULL, &written, packet, header) == 1
            && EVP_EncryptUpdate(cipher, packet + header, &written, packet + header, payload) == 1
            && EVP_EncryptFinal_ex(cipher, tag, &written) == 1
            && EVP_CIPHER_CTX_ctrl(cipher, EVP_CTRL_GCM_GET_TAG, TAG_LENGTH, tag) == 1;
    }
    return EVP_DecryptInit_ex(cipher, NULL, NULL, NULL, iv) == 1
        && EVP_DecryptUpdate(cipher, NULL, &written, packet, header) == 1
        && EVP_DecryptUpdate(cipher, packet + header, &written, packet + header, payload) == 1
        && EVP_CIPHER_CTX_ctrl(cipher, EVP_CTRL_GCM_SET_TAG, TAG_LENGTH, tag) == 1
        && EVP_DecryptFinal_ex(cipher, tag, &written) == 1;
}

static inline uint32_t read32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static inline uint16_t read16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* Protects the RTP packet in `packet` (room for the tag is the caller's); returns the SRTP
 * length or -1. */
static int srtp_protect(struct srtp_stream *stream, uint8_t *packet, int length) {
    int header = rtp_header_length(packet, length);
    if (header < 0) return -1;
    uint32_t ssrc = read32(packet + 8);
    uint16_t sequence = read16(packet + 2);
    if (!stream->known || stream->ssrc != ssrc) {
        stream->known = 1;
        stream->ssrc = ssrc;
        stream->rollover = 0;
        stream->highest = sequence;
    }
    uint32_t rollover = guess_rollover(stream, sequence);
    if (rollover == stream->rollover + 1 || (rollover == stream->rollover && sequence > stream->highest)) {
        stream->rollover = rollover;
        stream->highest = sequence;
    }
    if (!gcm(stream, packet, header, length - header, rollover)) return -1;
    return length + TAG_LENGTH;
}

/* Verifies and decrypts the SRTP packet in place; returns the RTP length, or -1 (malformed,
 * forged or replayed). The stream's state moves only once the tag has verified. */
static int srtp_unprotect(struct srtp_stream *stream, uint8_t *packet, int length) {
    int header = rtp_header_length(packet, length);
    if (header < 0 || length < header + TAG_LENGTH) return -1;
    uint32_t ssrc = read32(packet + 8);
    uint16_t sequence = read16(packet + 2);
    int known = stream->known && stream->ssrc == ssrc;
    uint32_t rollover = 0;
    int64_t age = -1;  /* how far behind the highest index; negative: ahead of it */
    if (known) {
        rollover = guess_rollover(stream, sequence);
        if (stream->rollover == 0 && rollover == UINT32_MAX) return -1;  /* before the stream began */
        int64_t index = (int64_t)rollover << 16 | sequence;
        age = ((int64_t)stream->rollover << 16 | stream->highest) - index;
        if (age >= 64 || (age >= 0 && (stream->window >> age) & 1)) return -1;
    }
    if (!gcm(stream, packet, header, length - header - TAG_LENGTH, rollover)) return -1;
    if (!known) {
        stream->known = 1;
        stream->ssrc = ssrc;
        stream->rollover = rollover;
        stream->highest = sequence;
        stream->window = 1;
    } else if (age < 0) {
        stream->window = -age >= 64 ? 1 : (stream->window << -age) | 1;
        stream->rollover = rollover;
        stream->highest = sequence;
    } else {
        stream->window |= (uint64_t)1 << age;
    }
    return length - TAG_LENGTH;
}

/* ---------- Calls ---------- */

struct call {
    char id[64];
    int fd[2];  /* SIDE_BROWSER, SIDE_TRUNK */
    uint16_t port[2];
    char ufrag[9], password[25];
    char username[128];  /* what a check's USERNAME must be: "<ours>:<browser's>" */
    int username_length;
    uint8_t expected_fingerprint[32];
    int browser_known;
    struct sockaddr_in browser;
    SSL *ssl;
    BIO *from_browser, *to_browser;  /* DTLS datagrams in and out (memory BIOs) */
    int fingerprint_matched, srtp_ready, failed;
    struct srtp_stream inbound, outbound;  /* browser -> trunk, trunk -> browser */
    unsigned long long to_trunk, to_web, dropped;
};

static struct call **calls;
static int call_slots;
static int epoll_fd;
static SSL_CTX *dtls_context;
static char local_fingerprint[32 * 3];
static unsigned long long total_calls, total_to_trunk, total_to_web, total_dropped;

/* The batch: received in place, sent from the same buffers. */
static uint8_t buffers[BATCH][PACKET_ROOM];
static struct mmsghdr received[BATCH], outgoing[BATCH];
static struct iovec received_iov[BATCH], outgoing_iov[BATCH];
static struct sockaddr_in sources[BATCH];

static void reply(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void reply(const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    vfprintf(stdout, format, arguments);
    va_end(arguments);
    fputc('\n', stdout);
    fflush(stdout);
}

static void random_token(char *out, int length) {
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
    uint8_t bytes[32];
    RAND_bytes(bytes, length);
    for (int i = 0; i < length; i++) out[i] = alphabet[bytes[i] % 64];
    out[length] = 0;
}

/* A nonblocking UDP socket on 127.0.0.1, any port. */
static int open_socket(uint16_t *port) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof address;
    if (bind(fd, (struct sockaddr *)&address, sizeof address) < 0
        || getsockname(fd, (struct sockaddr *)&address, &length) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(address.sin_port);
    return fd;
}

static int parse_fingerprint(const char *text, uint8_t out[32]) {
    for (int i = 0; i < 32; i++) {
        unsigned value;
        if (sscanf(text + 3 * i, "%2x", &value) != 1) return 0;
        if (i < 31 && text[3 * i + 2] != ':') return 0;
        out[i] = (uint8_t)value;
    }
    return text[95] == 0;
}

static void free_call(struct call *call) {
    for (int side = 0; side < 2; side++) if (call->fd[side] >= 0) close(call->fd[side]);
    SSL_free(call->ssl);  /* frees both BIOs */
    stream_free(&call->inbound);
    stream_free(&call->outbound);
    free(call);
}

static int free_slot(void) {
    for (int i = 0; i < call_slots; i++) if (!calls[i]) return i;
    int grown = call_slots ? call_slots * 2 : 64;
    struct call **more = realloc(calls, grown * sizeof *calls);
    if (!more) return -1;
    memset(more + call_slots, 0, (grown - call_slots) * sizeof *more);
    calls = more;
    call_slots = grown;
    return free_slot();
}

static struct call *find_call(const char *id, int *slot) {
    for (int i = 0; i < call_slots; i++) {
        if (calls[i] && strcmp(calls[i]->id, id) == 0) {
            *slot = i;
            return calls[i];
        }
    }
    return NULL;
}

/* The call's DTLS endpoint: a server on memory BIOs. Without a socket under it OpenSSL cannot
 * ask for the path MTU, so it is given one. */
static int start_dtls(struct call *call) {
    call->ssl = SSL_new(dtls_context);
    call->from_browser = BIO_new(BIO_s_mem());
    call->to_browser = BIO_new(BIO_s_mem());
    if (!call->ssl || !call->from_browser || !call->to_browser) {
        BIO_free(call->from_browser);
        BIO_free(call->to_browser);
        return 0;
    }
    BIO_set_mem_eof_return(call->from_browser, -1);  /* empty means "wait", not end of file */
    SSL_set_bio(call->ssl, call->from_browser, call->to_browser);
    SSL_set_options(call->ssl, SSL_OP_NO_QUERY_MTU);
    DTLS_set_link_mtu(call->ssl, 1200);
    SSL_set_app_data(call->ssl, call);
    SSL_set_accept_state(call->ssl);
    return 1;
}

static void command_call(char *id, char *ufrag, char *password, char *fingerprint, char *trunk_port) {
    (void)password;
    long port = strtol(trunk_port, NULL, 10);
    if (port <= 0 || port > 65535 || strlen(id) >= sizeof((struct call *)0)->id || strlen(ufrag) > 64) {
        reply("error %s bad trunk port, id or ufrag", id);
        return;
    }
    int slot;
    if (find_call(id, &slot)) { reply("error %s call exists", id); return; }
    struct call *call = calloc(1, sizeof *call);
    if (!call) { reply("error %s out of memory", id); return; }
    call->fd[0] = call->fd[1] = -1;
    snprintf(call->id, sizeof call->id, "%s", id);
    if (!parse_fingerprint(fingerprint, call->expected_fingerprint)) {
        reply("error %s bad fingerprint", id);
        free(call);
        return;
    }
    random_token(call->ufrag, 8);
    random_token(call->password, 24);
    call->username_length = snprintf(call->username, sizeof call->username, "%s:%s", call->ufrag, ufrag);
    struct sockaddr_in trunk = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    slot = free_slot();
    int ok = slot >= 0 && start_dtls(call);
    for (int side = 0; ok && side < 2; side++) {
        call->fd[side] = open_socket(&call->port[side]);
        struct epoll_event event = {.events = EPOLLIN, .data.u64 = (uint64_t)slot << 1 | side};
        ok = call->fd[side] >= 0 && epoll_ctl(epoll_fd, EPOLL_CTL_ADD, call->fd[side], &event) == 0;
    }
    ok = ok && connect(call->fd[SIDE_TRUNK], (struct sockaddr *)&trunk, sizeof trunk) == 0;
    if (!ok) {
        reply("error %s setup failed: %s", id, strerror(errno));
        free_call(call);
        return;
    }
    calls[slot] = call;
    total_calls++;
    reply("ok %s %s %s %s %u %u", id, call->ufrag, call->password, local_fingerprint, call->port[SIDE_BROWSER],
          call->port[SIDE_TRUNK]);
}

static void command_hangup(const char *id) {
    int slot;
    struct call *call = find_call(id, &slot);
    if (!call) { reply("error %s no such call", id); return; }
    reply("ok %s to-trunk %llu to-browser %llu dropped %llu", id, call->to_trunk, call->to_web, call->dropped);
    total_to_trunk += call->to_trunk;
    total_to_web += call->to_web;
    total_dropped += call->dropped;
    calls[slot] = NULL;
    free_call(call);  /* closing the sockets takes them out of the epoll set */
}

static void command(char *line) {
    char *save = NULL;
    char *verb = strtok_r(line, " \t\r", &save);
    if (!verb) return;
    char *arguments[5] = {0};
    for (int i = 0; i < 5; i++) arguments[i] = strtok_r(NULL, " \t\r", &save);
    if (strcmp(verb, "call") == 0) {
        if (arguments[4]) command_call(arguments[0], arguments[1], arguments[2], arguments[3], arguments[4]);
        else reply("error %s usage: call <id> <ufrag> <pwd> <sha256-fingerprint> <trunk-port>", arguments[0] ? arguments[0] : "-");
    } else if (strcmp(verb, "hangup") == 0) {
        if (arguments[0]) command_hangup(arguments[0]); else reply("error - usage: hangup <id>");
    } else if (strcmp(verb, "stats") == 0) {
        unsigned long long to_trunk = total_to_trunk, to_web = total_to_web, dropped = total_dropped;
        for (int i = 0; i < call_slots; i++) {
            if (!calls[i]) continue;
            to_trunk += calls[i]->to_trunk;
            to_web += calls[i]->to_web;
            dropped += calls[i]->dropped;
        }
        reply("stats calls %llu to-trunk %llu to-browser %llu dropped %llu", total_calls, to_trunk, to_web, dropped);
    } else if (strcmp(verb, "quit") == 0) {
        reply("bye");
        exit(0);
    } else {
        reply("error - unknown command %s", verb);
    }
}

/* Reads what is there on stdin and runs each complete line; stdin's end ends the process. */
static void read_commands(void) {
    static char pending[4096];
    static size_t used;
    static int discarding;  /* inside a line too long to keep */
    ssize_t count = read(STDIN_FILENO, pending + used, sizeof pending - 1 - used);
    if (count == 0) exit(0);
    if (count < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        exit(1);
    }
    used += count;
    char *start = pending, *newline;
    while ((newline = memchr(start, '\n', pending + used - start))) {
        *newline = 0;
        if (!discarding) command(start);
        discarding = 0;
        start = newline + 1;
    }
    used -= start - pending;
    memmove(pending, start, used);
    if (used == sizeof pending - 1) {
        discarding = 1;
        used = 0;
    }
}

/* ---------- ICE-lite (RFC 8445 section 2.5, STUN per RFC 5389) ---------- */

enum { STUN_COOKIE = 0x2112A442, STUN_FINGERPRINT_XOR = 0x5354554e };

static uint32_t crc32_table[256];

static void crc32_setup(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc32_table[n] = c;
    }
}

static uint32_t crc32(const uint8_t *bytes, size_t length) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < length; i++) c = crc32_table[(c ^ bytes[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static void write16(uint8_t *p, uint16_t value) { p[0] = value >> 8; p[1] = (uint8_t)value; }
static void write32(uint8_t *p, uint32_t value) { write16(p, value >> 16); write16(p + 2, (uint16_t)value); }

/* HMAC-SHA1 with the local password over the message up to `length`, as if the header's length
 * ended just after a MESSAGE-INTEGRITY attribute there (RFC 5389 section 15.4). */
static void stun_integrity(const struct call *call, const uint8_t *message, size_t length, uint8_t out[20]) {
    uint8_t copy[PACKET_ROOM];
    memcpy(copy, message, length);
    write16(copy + 2, (uint16_t)(length - 20 + 24));
    unsigned int written = 20;
    HMAC(EVP_sha1(), call->password, (int)strlen(call->password), copy, length, out, &written);
}

/* Is this a Binding request for this call, with a correct MESSAGE-INTEGRITY? */
static int stun_valid_request(const struct call *call, const uint8_t *message, size_t length) {
    if (length < 20 || (message[0] & 0xC0) || read16(message) != 0x0001 || read32(message + 4) != STUN_COOKIE
        || read16(message + 2) + 20u != length || length % 4) return 0;
    int username_ok = 0;
    for (size_t offset = 20; offset + 4 <= length;) {
        uint16_t type = read16(message + offset), size = read16(message + offset + 2);
        if (offset + 4 + size > length) return 0;
        const uint8_t *value = message + offset + 4;
        if (type == 0x0006) {
            username_ok = size == call->username_length && memcmp(value, call->username, size) == 0;
        } else if (type == 0x0008) {
            uint8_t expected[20];
            if (size != 20) return 0;
            stun_integrity(call, message, offset, expected);
            return username_ok && CRYPTO_memcmp(expected, value, 20) == 0;
        }
        offset += 4 + ((size + 3u) & ~3u);
    }
    return 0;  /* no MESSAGE-INTEGRITY */
}

/* Binding success: XOR-MAPPED-ADDRESS of the source, MESSAGE-INTEGRITY, FINGERPRINT. */
static void stun_answer(struct call *call, const uint8_t *request, const struct sockaddr_in *source) {
    uint8_t response[64];
    write16(response, 0x0101);
    memcpy(response + 4, request + 4, 16);  /* magic cookie and transaction ID */
    write16(response + 20, 0x0020);
    write16(response + 22, 8);
    response[24] = 0;
    response[25] = 0x01;  /* IPv4 */
    write16(response + 26, ntohs(source->sin_port) ^ (STUN_COOKIE >> 16));
    write32(response + 28, ntohl(source->sin_addr.s_addr) ^ STUN_COOKIE);
    write16(response + 32, 0x0008);
    write16(response + 34, 20);
    stun_integrity(call, response, 32, response + 36);
    write16(response + 2, 44);
    write16(response + 56, 0x8028);
    write16(response + 58, 4);
    write32(response + 60, crc32(response, 56) ^ STUN_FINGERPRINT_XOR);
    sendto(call->fd[SIDE_BROWSER], response, sizeof response, 0, (const struct sockaddr *)source, sizeof *source);
}

static void handle_stun(struct call *call, const uint8_t *message, size_t length, const struct sockaddr_in *source) {
    if (!stun_valid_request(call, message, length)) {
        call->dropped++;
        return;
    }
    stun_answer(call, message, source);
    if (!call->browser_known) {
        /* The first valid check fixes the browser's address: the socket is connected to it. */
        call->browser = *source;
        call->browser_known = connect(call->fd[SIDE_BROWSER], (const struct sockaddr *)source, sizeof *source) == 0;
    }
}

/* ---------- DTLS ---------- */

/* The peer's certificate is self-signed: it is trusted when its SHA-256 digest is the one the
 * browser's SDP announced. */
static int verify_peer(int preverified, X509_STORE_CTX *store) {
    (void)preverified;
    if (X509_STORE_CTX_get_error_depth(store) != 0) return 1;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct call *call = SSL_get_app_data(ssl);
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    X509 *certificate = X509_STORE_CTX_get_current_cert(store);
    call->fingerprint_matched = certificate && X509_digest(certificate, EVP_sha256(), digest, &length) == 1
        && length == 32 && CRYPTO_memcmp(digest, call->expected_fingerprint, 32) == 0;
    return call->fingerprint_matched;
}

/* Sends what OpenSSL wrote: the memory BIO holds whole records, and DTLS allows several records
 * in one datagram, so one datagram carries them all. */
static void flush_dtls(struct call *call) {
    static uint8_t flight[16384];
    int length;
    while ((length = BIO_read(call->to_browser, flight, sizeof flight)) > 0) send(call->fd[SIDE_BROWSER], flight, length, 0);
}

/* The handshake is done: keys from the exporter (RFC 5764 section 4.2: client key, server key,
 * client salt, server salt); this end is the server, so it reads with the client's. */
static int start_srtp(struct call *call) {
    SRTP_PROTECTION_PROFILE *profile = SSL_get_selected_srtp_profile(call->ssl);
    if (!profile || !call->fingerprint_matched) return 0;
    int key = profile->id == SRTP_AEAD_AES_128_GCM ? 16 : profile->id == SRTP_AEAD_AES_256_GCM ? 32 : 0;
    if (!key) return 0;
    uint8_t material[2 * (32 + SALT_LENGTH)];
    int total = 2 * (key + SALT_LENGTH);
    static const char label[] = "EXTRACTOR-dtls_srtp";
    int ok = SSL_export_keying_material(call->ssl, material, total, label, sizeof label - 1, NULL, 0, 0) == 1
        && stream_init(&call->inbound, material, key, material + 2 * key, 0)
        && stream_init(&call->outbound, material + key, key, material + 2 * key + SALT_LENGTH, 1);
    OPENSSL_cleanse(material, sizeof material);
    return ok;
}

static void handle_dtls(struct call *call, const uint8_t *datagram, size_t length) {
    if (!call->browser_known || call->failed) {  /* DTLS only after ICE, as RFC 8842 wants */
        call->dropped++;
        return;
    }
    BIO_write(call->from_browser, datagram, (int)length);
    if (!SSL_is_init_finished(call->ssl)) {
        int result = SSL_do_handshake(call->ssl);
        if (result == 1) {
            call->srtp_ready = start_srtp(call);
            call->failed = !call->srtp_ready;
        } else {
            int error = SSL_get_error(call->ssl, result);
            call->failed = error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE;
        }
        if (call->failed) {
            fprintf(stderr, "tandem-floor: call %s: DTLS failed (%s)\n", call->id,
                    call->fingerprint_matched ? "handshake" : "fingerprint");
            ERR_clear_error();
        }
    } else {
        /* Later records: a retransmitted flight (OpenSSL answers it) or an alert. */
        uint8_t ignored[2048];
        while (SSL_read(call->ssl, ignored, sizeof ignored) > 0) {}
        ERR_clear_error();
    }
    flush_dtls(call);
}

static int make_dtls_context(void) {
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *certificate = X509_new();
    if (!key || !certificate) return 0;
    X509_set_version(certificate, 2);
    uint8_t serial[8];
    RAND_bytes(serial, sizeof serial);
    ASN1_INTEGER_set_uint64(X509_get_serialNumber(certificate), read32(serial) >> 1);
    X509_gmtime_adj(X509_getm_notBefore(certificate), -86400);
    X509_gmtime_adj(X509_getm_notAfter(certificate), 30L * 86400);
    X509_NAME *name = X509_get_subject_name(certificate);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"tandem-floor", -1, -1, 0);
    X509_set_issuer_name(certificate, name);
    X509_set_pubkey(certificate, key);
    if (!X509_sign(certificate, key, EVP_sha256())) return 0;

    uint8_t digest[32];
    unsigned int length = 0;
    X509_digest(certificate, EVP_sha256(), digest, &length);
    for (int i = 0; i < 32; i++) sprintf(local_fingerprint + 3 * i, i < 31 ? "%02X:" : "%02X", digest[i]);

    dtls_context = SSL_CTX_new(DTLS_server_method());
    if (!dtls_context) return 0;
    SSL_CTX_set_min_proto_version(dtls_context, DTLS1_2_VERSION);
    SSL_CTX_set_verify(dtls_context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_peer);
    /* The same preference as Tandem's default profile list, so both do the same cipher work. */
    int ok = SSL_CTX_use_certificate(dtls_context, certificate) == 1 && SSL_CTX_use_PrivateKey(dtls_context, key) == 1
        && SSL_CTX_set_tlsext_use_srtp(dtls_context, "SRTP_AEAD_AES_256_GCM:SRTP_AEAD_AES_128_GCM") == 0;
    X509_free(certificate);
    EVP_PKEY_free(key);
    return ok;
}

/* ---------- The relay ---------- */

/* One recvmmsg into the batch buffers (room for a tag left after each); returns the count. */
static int receive_batch(int fd) {
    for (int i = 0; i < BATCH; i++) {
        received_iov[i] = (struct iovec){buffers[i], PACKET_ROOM - TAG_LENGTH};
        received[i].msg_hdr = (struct msghdr){.msg_name = &sources[i], .msg_namelen = sizeof sources[i],
                                              .msg_iov = &received_iov[i], .msg_iovlen = 1};
    }
    int count = recvmmsg(fd, received, BATCH, MSG_DONTWAIT, NULL);
    return count < 0 ? 0 : count;
}

static void queue(int slot, uint8_t *packet, int length) {
    outgoing_iov[slot] = (struct iovec){packet, (size_t)length};
    outgoing[slot].msg_hdr = (struct msghdr){.msg_iov = &outgoing_iov[slot], .msg_iovlen = 1};
}

/* Sends the queued packets on a connected socket; returns how many went. */
static int send_batch(int fd, int count) {
    if (count == 0) return 0;
    int sent = sendmmsg(fd, outgoing, count, MSG_DONTWAIT);
    return sent < 0 ? 0 : sent;
}

/* Browser socket: SRTP becomes RTP toward the trunk; STUN and DTLS are answered on the way. */
static int relay_from_browser(struct call *call) {
    int count = receive_batch(call->fd[SIDE_BROWSER]), queued = 0;
    for (int i = 0; i < count; i++) {
        uint8_t *packet = buffers[i];
        int length = (int)received[i].msg_len;
        uint8_t first = length > 0 ? packet[0] : 255;
        if (first < 4) {
            handle_stun(call, packet, length, &sources[i]);
        } else if (first >= 20 && first <= 63) {
            handle_dtls(call, packet, length);
        } else if (first >= 128 && first <= 191 && call->srtp_ready && length >= 12 && !is_rtcp(packet)
                   && (length = srtp_unprotect(&call->inbound, packet, length)) >= 0) {
            queue(queued++, packet, length);
        } else {
            call->dropped++;  /* not for us, malformed, forged, replayed, or SRTCP (not relayed) */
        }
    }
    int sent = send_batch(call->fd[SIDE_TRUNK], queued);
    call->to_trunk += sent;
    call->dropped += queued - sent;
    return count;
}

/* Trunk socket: RTP becomes SRTP toward the browser. */
static int relay_from_trunk(struct call *call) {
    int count = receive_batch(call->fd[SIDE_TRUNK]), queued = 0;
    for (int i = 0; i < count; i++) {
        uint8_t *packet = buffers[i];
        int length = (int)received[i].msg_len;
        if (call->srtp_ready && call->browser_known && length >= 12 && !is_rtcp(packet)
            && (length = srtp_protect(&call->outbound, packet, length)) >= 0) {
            queue(queued++, packet, length);
        } else {
            call->dropped++;
        }
    }
    int sent = send_batch(call->fd[SIDE_BROWSER], queued);
    call->to_web += sent;
    call->dropped += queued - sent;
    return count;
}

/* A ready socket is drained batch by batch; a short batch means it is empty for now, and
 * level-triggered epoll reports it again when more comes. */
static void relay(uint64_t tag) {
    int slot = (int)(tag >> 1);
    if (slot >= call_slots || !calls[slot]) return;  /* hung up earlier in this round */
    struct call *call = calls[slot];
    if ((tag & 1) == SIDE_BROWSER) {
        while (relay_from_browser(call) == BATCH) {}
    } else {
        while (relay_from_trunk(call) == BATCH) {}
    }
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    crc32_setup();
    if (!make_dtls_context()) {
        fprintf(stderr, "tandem-floor: no certificate or DTLS context\n");
        ERR_print_errors_fp(stderr);
        return 1;
    }
    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event input = {.events = EPOLLIN, .data.u64 = STDIN_TAG};
    if (epoll_fd < 0 || epoll_ctl(epoll_fd, EPOLL_CTL_ADD, STDIN_FILENO, &input) < 0) {
        perror("tandem-floor: epoll");
        return 1;
    }
    reply("ready %s", local_fingerprint);
    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int count = epoll_wait(epoll_fd, events, MAX_EVENTS, -1);
        for (int i = 0; i < count; i++) {
            if (events[i].data.u64 == STDIN_TAG) read_commands(); else relay(events[i].data.u64);
        }
    }
}
