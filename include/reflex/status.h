/* One status enum for the whole library, generated from one list (STYLE.md §4).
 * Fallible functions return rx_status and hand results back through out-parameters.
 * The human-readable message of the most recent failure on the calling thread is kept
 * by rx_error() and read back with rx_last_error(). */
#ifndef REFLEX_STATUS_H
#define REFLEX_STATUS_H

#define RX_STATUS_LIST(X)                                                                          \
    X(RX_OK, "ok")                                        /* success */                            \
    X(RX_ERR_NOMEM, "out of memory")                      /* an allocation failed */               \
    X(RX_ERR_IO, "I/O error")                             /* open/read/write/mmap failed */        \
    X(RX_ERR_FORMAT, "malformed input")                   /* a file or message breaks its format */ \
    X(RX_ERR_UNSUPPORTED, "unsupported")                  /* valid, but not something we run */    \
    X(RX_ERR_INVALID_ARG, "invalid argument")             /* a caller passed a bad value */        \
    X(RX_ERR_NOT_FOUND, "not found")                      /* a key, tensor or file is absent */    \
    X(RX_ERR_RANGE, "out of range")                       /* a value exceeds a limit */            \
    X(RX_ERR_FULL, "capacity exhausted")                  /* a cache, queue or buffer is full */   \
    X(RX_ERR_CANCELLED, "cancelled")                      /* the caller asked to stop */

typedef enum {
#define RX_STATUS_ENUM(name, text) name,
    RX_STATUS_LIST(RX_STATUS_ENUM)
#undef RX_STATUS_ENUM
        RX_STATUS_COUNT
} rx_status;

/* Short fixed description of a status ("malformed input"). Never NULL. */
const char *rx_status_str(rx_status s);

/* Records a formatted message for the calling thread and returns s, so a failure reads
 * `return rx_error(RX_ERR_FORMAT, "gguf: tensor '%s' ...", name);`. */
rx_status rx_error(rx_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes the calling thread's message with context ("loading model.gguf: ") and returns s. */
rx_status rx_error_context(rx_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The calling thread's last message, or rx_status_str of nothing ("") if none was set.
 * Valid until the next rx_error* call on this thread. */
const char *rx_last_error(void);

/* Forgets the calling thread's message. */
void rx_error_clear(void);

#endif
