/* Stop strings over a text stream: text is released as soon as no stop string can begin in it,
 * and the tail that could still grow into one is held back, so a stop string split across
 * tokens is caught and never sent. The buffer belongs to the request and is sized at submit
 * (longest stop string + two detokenizer outputs), so the token loop never allocates. */
#include <stdint.h>
#include <string.h>

#include "serve/sched_internal.h"

void rx_stop__init(rx_stop_filter *f, rx_sched_req *q)
{
    f->stop = q->stop;
    f->stop_len = q->stop_len;
    f->n_stop = q->n_stop;
    f->buf = q->text_buf;
    f->cap = q->text_cap;
    f->n_buf = 0;
    f->n_out = 0;
}

void rx_stop__add(rx_stop_filter *f, const char *text, size_t len)
{
    if (f->n_out) { /* drop what the last take released */
        memmove(f->buf, f->buf + f->n_out, f->n_buf - f->n_out);
        f->n_buf -= f->n_out;
        f->n_out = 0;
    }
    /* cannot overflow: held text is shorter than the longest stop string plus one UTF-8
     * character, and cap leaves room for two detokenizer outputs after it */
    if (len > f->cap - f->n_buf) len = f->cap - f->n_buf;
    memcpy(f->buf + f->n_buf, text, len);
    f->n_buf += len;
}

/* The longest tail of buf that is a proper prefix of some stop string. */
static size_t held_tail(const rx_stop_filter *f)
{
    size_t hold = 0;
    for (int32_t i = 0; i < f->n_stop; i++) {
        size_t k = f->stop_len[i] - 1;
        if (k > f->n_buf) k = f->n_buf;
        for (; k > hold; k--) {
            if (memcmp(f->buf + f->n_buf - k, f->stop[i], k) == 0) {
                hold = k;
                break;
            }
        }
    }
    return hold;
}

bool rx_stop__take(rx_stop_filter *f, bool final, const char **out, size_t *out_len)
{
    *out = f->buf;
    /* the earliest complete stop string ends the text right before it */
    const char *first = NULL;
    for (int32_t i = 0; i < f->n_stop; i++) {
        const char *at = memmem(f->buf, f->n_buf, f->stop[i], f->stop_len[i]);
        if (at && (!first || at < first)) first = at;
    }
    if (first) {
        f->n_buf = f->n_out = (size_t)(first - f->buf);
        *out_len = f->n_out;
        return true;
    }
    size_t cut = f->n_buf;
    if (!final) {
        cut -= held_tail(f);
        /* a stop string may begin inside a UTF-8 character; never release half of one */
        while (cut > 0 && cut < f->n_buf && ((uint8_t)f->buf[cut] & 0xC0) == 0x80)
            cut--;
    }
    f->n_out = cut;
    *out_len = cut;
    return false;
}
