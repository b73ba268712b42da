/* TLS for the server: an OpenSSL SSL_CTX from PEM files (certificate chain, key, optional
 * client CA for mTLS). Each accepted connection gets its own SSL on the socket (http_conn.c);
 * a failed handshake closes that connection and nothing else. */
#include <stdio.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "net/internal.h"

/* The oldest queued OpenSSL error as text, for messages; empties the queue. */
static const char *ssl_reason(char *buf, size_t cap)
{
    unsigned long e = ERR_get_error();
    if (!e) {
        snprintf(buf, cap, "unknown error");
    } else {
        ERR_error_string_n(e, buf, cap);
    }
    ERR_clear_error();
    return buf;
}

static rx_status load_identity(SSL_CTX *ctx, const rx_http_config *cfg)
{
    char why[256];
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1)
        return rx_error(RX_ERR_FORMAT, "tls: certificate '%s' does not load: %s", cfg->tls_cert,
                        ssl_reason(why, sizeof why));
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1)
        return rx_error(RX_ERR_FORMAT, "tls: private key '%s' does not load: %s", cfg->tls_key,
                        ssl_reason(why, sizeof why));
    if (SSL_CTX_check_private_key(ctx) != 1)
        return rx_error(RX_ERR_FORMAT, "tls: private key '%s' does not match certificate '%s'",
                        cfg->tls_key, cfg->tls_cert);
    return RX_OK;
}

static rx_status load_client_ca(SSL_CTX *ctx, const char *ca)
{
    char why[256];
    if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
        return rx_error(RX_ERR_FORMAT, "tls: client CA '%s' does not load: %s", ca,
                        ssl_reason(why, sizeof why));
    /* tells clients which CA we accept, so they pick the right certificate */
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
    if (!names)
        return rx_error(RX_ERR_FORMAT, "tls: client CA '%s' has no usable certificate: %s", ca,
                        ssl_reason(why, sizeof why));
    SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    /* session resumption with client certificates needs a context id, or it fails */
    static const unsigned char sid[] = "reflex-http";
    SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
    return RX_OK;
}

rx_status rx_http__tls_ctx(const rx_http_config *cfg, SSL_CTX **out)
{
    *out = NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) return rx_error(RX_ERR_NOMEM, "tls: SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* client-initiated renegotiation is a cheap way to make a server burn CPU */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* writes hand OpenSSL the front of an output buffer that may move and grow between a
     * write that would block and its retry */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    rx_status st = load_identity(ctx, cfg);
    if (st == RX_OK && cfg->tls_client_ca) st = load_client_ca(ctx, cfg->tls_client_ca);
    if (st != RX_OK) {
        SSL_CTX_free(ctx);
        return st;
    }
    *out = ctx;
    return RX_OK;
}
