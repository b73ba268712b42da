/* Unicode helpers for the tokenizers: lenient UTF-8 decoding that mirrors llama.cpp's, general
 * categories and White_Space from the generated table (unicode_data.c), and GPT-2's byte-level
 * byte <-> codepoint mapping. Everything here is pure and thread-safe. */
#ifndef RX_ENGINE_UNICODE_H
#define RX_ENGINE_UNICODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* General category, collapsed to the classes the pre-tokenizer regexes use (\p{N}, \p{L}, ...).
 * Cn (unassigned) is RX_UCAT_NONE; Cc, Cf, Co and Cs are all RX_UCAT_CONTROL. */
typedef enum {
    RX_UCAT_NONE = 0,
    RX_UCAT_NUMBER = 1,
    RX_UCAT_LETTER = 2,
    RX_UCAT_SEPARATOR = 3,
    RX_UCAT_MARK = 4,
    RX_UCAT_PUNCT = 5,
    RX_UCAT_SYMBOL = 6,
    RX_UCAT_CONTROL = 7,
} rx_ucat;

#define RX_UNICODE_MAX 0x110000u
#define RX_UNICODE_REPLACEMENT 0xFFFDu

extern const uint8_t rx_unicode_low[0x400]; /* categories below U+0800, two per byte */
extern const uint32_t rx_unicode_runs[];
extern const size_t rx_unicode_n_runs;
extern const uint32_t rx_unicode_space[][2];
extern const size_t rx_unicode_n_space;

/* Category of a codepoint; RX_UCAT_NONE beyond U+10FFFF. */
rx_ucat rx_unicode_cat(uint32_t cpt);

/* White_Space property (\s in the Unicode-aware regex engines the vocabularies came from). */
bool rx_unicode_is_space(uint32_t cpt);

/* Length of the UTF-8 sequence that a lead byte announces, from its high nibble alone
 * (1 for ASCII and stray continuation bytes, 2, 3 or 4). */
size_t rx_utf8_len(uint8_t lead);

/* Decodes one codepoint at s[0..n) (n > 0) the way llama.cpp does: overlong forms and
 * surrogates are accepted, a bad sequence yields U+FFFD and consumes one byte. Unlike
 * llama.cpp (which then throws), a sequence above U+10FFFF also counts as bad.
 * Returns the codepoint and sets *used to the bytes consumed. */
uint32_t rx_utf8_decode(const uint8_t *s, size_t n, size_t *used);

/* Encodes cpt (<= 0x10FFFF) into out (4 bytes available); returns the length. */
size_t rx_utf8_encode(uint32_t cpt, uint8_t *out);

/* Strict validation: the length of the complete, well-formed UTF-8 sequence at s[0..n) (1-4),
 * 0 if s is a proper prefix of a well-formed sequence (more bytes may complete it), or -1 if
 * the first byte cannot start a well-formed sequence with what follows. */
int rx_utf8_check(const uint8_t *s, size_t n);

/* GPT-2 byte-level encoding: every byte maps to a printable codepoint (e.g. ' ' -> U+0120). */
uint32_t rx_byte_to_cpt(uint8_t b);
/* The inverse; -1 for a codepoint that no byte maps to. */
int rx_cpt_to_byte(uint32_t cpt);

#endif
