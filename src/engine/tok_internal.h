/* Shared inside the tokenizer files (tokenizer.c, tok_*.c): the rx_tokenizer layout, the
 * vocabulary hash, the merge queue, and the per-algorithm entry points. */
#ifndef RX_ENGINE_TOK_INTERNAL_H
#define RX_ENGINE_TOK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reflex/status.h"
#include "reflex/tokenizer.h"

/* Token attributes (llama.cpp's llama_token_attr values), from tokenizer.ggml.token_type. */
enum {
    RX_TATTR_UNDEFINED = 0,
    RX_TATTR_UNKNOWN = 1u << 0,
    RX_TATTR_UNUSED = 1u << 1,
    RX_TATTR_NORMAL = 1u << 2,
    RX_TATTR_CONTROL = 1u << 3,
    RX_TATTR_USER_DEFINED = 1u << 4,
    RX_TATTR_BYTE = 1u << 5,
    RX_TATTR_LSTRIP = 1u << 7, /* eat whitespace before the token's text when splitting */
    RX_TATTR_RSTRIP = 1u << 8, /* ... and after it */
    RX_TATTR_EOG = 1u << 12,   /* ours: ends generation */
};

/* Pre-tokenizer: which regex split runs before byte-level BPE (llama.cpp's pre_type). */
typedef enum {
    RX_PRE_DEFAULT,
    RX_PRE_GPT2, /* gpt-2, mpt, olmo, phi-2, ... */
    RX_PRE_LLAMA3,
    RX_PRE_FALCON,
    RX_PRE_STARCODER, /* starcoder, refact, smollm, codeshell, ... */
    RX_PRE_DEEPSEEK_CODER,
    RX_PRE_DEEPSEEK_LLM,
} rx_tok_pre;

typedef struct {
    uint32_t off, len; /* text in rx_tokenizer.blob */
    float score;
    uint32_t attr;
} rx_tok_entry;

typedef struct {
    uint32_t left_off, left_len, right_off, right_len; /* in rx_tokenizer.merge_blob */
} rx_tok_merge;

struct rx_tokenizer {
    rx_vocab_type type;
    rx_tok_pre pre;
    uint32_t n_vocab;
    rx_tok_entry *toks; /* owned, n_vocab */
    char *blob;         /* owned: every token text, back to back */

    uint32_t *slots; /* owned: open-addressing text -> id+1 (0 = empty) */
    size_t slot_mask;

    uint32_t n_merges;
    rx_tok_merge *merges;  /* owned; index = rank */
    char *merge_blob;      /* owned */
    uint32_t *merge_slots; /* owned: (left, right) -> rank+1 */
    size_t merge_slot_mask;
    size_t max_merge_len; /* longest left+right, to skip hopeless lookups */

    int32_t *specials; /* owned: control/user-defined/unknown ids, longest text first */
    size_t n_specials;

    char *pieces; /* owned: each token's detokenized bytes (control ones rendered) */
    uint32_t *piece_off, *piece_len;
    size_t max_piece;

    int32_t byte_tok[256];    /* SPM byte fallback <0xXX>; -1 if missing */
    uint8_t byte_enc[256][2]; /* BPE: UTF-8 of the codepoint GPT-2 maps each byte to */
    uint8_t byte_enc_len[256];

    int32_t bos, eos, unk, eot, eom; /* -1 = none */
    bool add_bos, add_eos, add_space_prefix, ignore_merges;
};

/* A growable id list; the public entry copies it out at the end. */
typedef struct {
    int32_t *v;
    size_t n, cap;
} rx_tok_ids;

rx_status rx_tok__push(rx_tok_ids *ids, int32_t id);

uint64_t rx_tok__hash(const void *p, size_t len, uint64_t seed);
int32_t rx_tok__find(const rx_tokenizer *tok, const char *s, size_t len);
static inline uint64_t rx_tok__merge_hash(const char *l, size_t ll, const char *r, size_t rl)
{
    return rx_tok__hash(l, ll, 1) * 0x9E3779B97F4A7C15ull ^ rx_tok__hash(r, rl, 2);
}
int32_t rx_tok__merge_rank(const rx_tokenizer *tok, const char *l, size_t ll, const char *r,
                           size_t rl);

/* Best-first queue of candidate merges (kept to 12 bytes: the pop is the hot loop). "Better" is a
 * higher key, then a lower left index: SPM keys by score, BPE by -rank; both tie-break on the
 * leftmost pair as llama.cpp does. */
typedef struct {
    int32_t left;  /* the right symbol is always left's next while the entry is valid */
    uint32_t size; /* bytes of left+right when queued; a mismatch later means stale */
    float key;     /* ranks up to 2^24 are exact as floats */
} rx_tok_bigram;

typedef struct {
    rx_tok_bigram *v;
    size_t n, cap;
} rx_tok_heap;

rx_status rx_tok__heap_push(rx_tok_heap *h, rx_tok_bigram b);
rx_tok_bigram rx_tok__heap_pop(rx_tok_heap *h); /* h->n > 0 */

/* A symbol in a merge chain: a byte range of the text being merged. */
typedef struct {
    int32_t prev, next;
    uint32_t off, len;
} rx_tok_sym;

/* Appends the ids of one raw-text fragment. */
rx_status rx_tok__spm(const rx_tokenizer *tok, const char *text, size_t len, bool space_prefix,
                      rx_tok_ids *ids);
rx_status rx_tok__bpe(const rx_tokenizer *tok, const char *text, size_t len, rx_tok_ids *ids);

/* Splits codepoints cpts[0..n) into words for byte-level BPE; word i is [ends[i-1], ends[i]).
 * *ends is malloc'd (caller frees). */
rx_status rx_tok__pretokenize(rx_tok_pre pre, const uint32_t *cpts, size_t n, size_t **ends,
                              size_t *n_words);

/* Builds the piece cache (detokenized bytes per token) at load. */
rx_status rx_tok__build_pieces(rx_tokenizer *tok);

#endif
