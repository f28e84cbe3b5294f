// The system's OpenSSL (Debian: libssl-dev) for TLS, the devices' and the hub's. OpenSSL spells several calls as
// macros, which Swift cannot call: each one used is wrapped here as a function.
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static inline long fleet_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }
static inline long fleet_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return SSL_CTX_set_min_proto_version(ctx, version);
}
static inline long fleet_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}
static inline long fleet_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}
static inline void fleet_BIO_set_retry_read(BIO *bio) { BIO_set_retry_read(bio); }
static inline void fleet_BIO_clear_retry_flags(BIO *bio) { BIO_clear_retry_flags(bio); }
static inline int fleet_ERR_GET_REASON(unsigned long code) { return ERR_GET_REASON(code); }
static inline int fleet_ERR_GET_LIB(unsigned long code) { return ERR_GET_LIB(code); }
static inline long fleet_SSL_CTX_add_extra_chain_cert(SSL_CTX *ctx, X509 *certificate) {
    return SSL_CTX_add_extra_chain_cert(ctx, certificate);
}
static inline EVP_PKEY *fleet_EC_gen_P256(void) { return EVP_EC_gen("P-256"); }
static inline long fleet_BIO_get_mem_data(BIO *bio, char **data) { return BIO_get_mem_data(bio, data); }
