/* TLS for the load generator's https targets: one OpenSSL client context per run and one
 * bufferevent_openssl per connection, with SNI and certificate and host name checks (the IP
 * address is checked when the URL names one). */
#include <arpa/inet.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "bench/internal.h"

static const char *reason(unsigned long e)
{
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    return r ? r : "unreadable or no certificates";
}

rx_status rx_bench__tls_ctx(const char *ca_file, bool insecure, SSL_CTX **out)
{
    *out = NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) return rx_error(RX_ERR_NOMEM, "tls: cannot create a context");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Servers often close after Connection: close without a close_notify. OpenSSL 3 reports
     * that as a protocol error, which libevent 2.1 passes on as a failure (and can lose the
     * last records with it); HTTP's own framing (chunked, Content-Length) still tells a cut
     * stream from a whole one, so read it as a plain end of stream. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (!insecure) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        int ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                         : SSL_CTX_set_default_verify_paths(ctx);
        if (!ok) {
            SSL_CTX_free(ctx);
            return rx_error(RX_ERR_FORMAT, "tls: cannot load CA certificates from %s: %s",
                            ca_file ? ca_file : "the system store", reason(ERR_get_error()));
        }
    }
    *out = ctx;
    return RX_OK;
}

void rx_bench__tls_ctx_free(SSL_CTX *ctx)
{
    SSL_CTX_free(ctx);
}

struct bufferevent *rx_bench__tls_bev(struct event_base *base, SSL_CTX *ctx, const char *host,
                                      bool insecure)
{
    SSL *ssl = SSL_new(ctx);
    if (!ssl) return NULL;
    unsigned char addr[16];
    bool is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
    if (!is_ip) SSL_set_tlsext_host_name(ssl, host); /* SNI takes names only */
    if (!insecure) {
        X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
        int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host)
                       : X509_VERIFY_PARAM_set1_host(param, host, 0);
        if (!ok) {
            SSL_free(ssl);
            return NULL;
        }
    }
    /* the bufferevent owns ssl from here, and frees it with itself */
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (!bev) {
        SSL_free(ssl);
        return NULL;
    }
    /* servers often close without close_notify after Connection: close; that is an end */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

const char *rx_bench__tls_error(struct bufferevent *bev)
{
    unsigned long e = bev ? bufferevent_get_openssl_error(bev) : 0;
    return e ? reason(e) : NULL;
}
