/* Tokenizers built from GGUF metadata, token-exact with llama.cpp: SentencePiece-style BPE
 * (tokenizer.ggml.model "llama") and GPT-2 byte-level BPE ("gpt2") with the pre-tokenizer that
 * tokenizer.ggml.pre names (gpt-2, mpt, falcon, starcoder, refact, deepseek-coder,
 * deepseek-llm, llama3/llama-bpe, default).
 *
 * Ownership: rx_tokenizer_load copies everything it needs, so the tokenizer outlives the
 * rx_gguf it was loaded from. Errors: RX_ERR_FORMAT with a message naming the metadata key
 * (rx_last_error()), RX_ERR_UNSUPPORTED for a model or pre-tokenizer we do not implement.
 * Thread safety: a loaded tokenizer is immutable; every function taking a const rx_tokenizer
 * may run concurrently. An rx_detok belongs to one thread at a time. */
#ifndef REFLEX_TOKENIZER_H
#define REFLEX_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reflex/gguf.h"
#include "reflex/status.h"

typedef struct rx_tokenizer rx_tokenizer;

typedef enum {
    RX_VOCAB_SPM = 1, /* "llama": SentencePiece BPE over scores, byte fallback */
    RX_VOCAB_BPE = 2, /* "gpt2": byte-level BPE over ranked merges */
} rx_vocab_type;

/* Reads tokenizer.ggml.{model,pre,tokens,scores,token_type,merges}, the special token ids
 * ({bos,eos,unknown,seperator,padding,eot,eom}_token_id; UINT32_MAX or -1 mean "none"),
 * add_bos_token / add_eos_token / add_space_prefix (defaults as llama.cpp: SPM adds BOS and a
 * space prefix, BPE adds neither) and general.name. Everything is validated: arrays have the
 * right types and lengths, ids are in range, token texts are unique. On success *out is owned
 * by the caller (rx_tokenizer_free). */
rx_status rx_tokenizer_load(const rx_gguf *g, rx_tokenizer **out);

/* Frees; accepts NULL. */
void rx_tokenizer_free(rx_tokenizer *tok);

/* Tokenizes text[0..len) (any bytes; invalid UTF-8 is handled like llama.cpp does).
 * add_special: add BOS/EOS as the model asks (tokenizer.ggml.add_{bos,eos}_token).
 * parse_special: text of control tokens (e.g. "<s>", "<|endoftext|>") becomes those tokens;
 * user-defined tokens are always matched, control ones only with parse_special, as llama.cpp.
 * Writes at most cap ids to out (out may be NULL when cap is 0) and the count to *n_out.
 * If cap is too small, returns RX_ERR_FULL with the needed count in *n_out and out untouched.
 * Allocates scratch memory per call; RX_ERR_NOMEM if that fails. */
rx_status rx_tokenize(const rx_tokenizer *tok, const char *text, size_t len, bool add_special,
                      bool parse_special, int32_t *out, size_t cap, size_t *n_out);

rx_vocab_type rx_tokenizer_type(const rx_tokenizer *tok);
int32_t rx_tokenizer_n_vocab(const rx_tokenizer *tok);
int32_t rx_token_bos(const rx_tokenizer *tok); /* -1 if the model has none */
int32_t rx_token_eos(const rx_tokenizer *tok); /* -1 if the model has none */
bool rx_tokenizer_adds_bos(const rx_tokenizer *tok);

/* End of generation: EOS, and tokens such as <|endoftext|>, <|eot_id|>, <|end|>, <|im_end|>. */
bool rx_token_is_eog(const rx_tokenizer *tok, int32_t id);

/* True for control and unknown tokens (rendered only on request). */
bool rx_token_is_control(const rx_tokenizer *tok, int32_t id);

/* The vocabulary entry of id as stored (e.g. "\xe2\x96\x81the", "Ġthe", "<0x0A>"); not
 * NUL-terminated, borrowed until rx_tokenizer_free. NULL (and *len 0) for an id out of range. */
const char *rx_token_text(const rx_tokenizer *tok, int32_t id, size_t *len);

/* Finds the id of an exact vocabulary entry; -1 if absent. */
int32_t rx_token_find(const rx_tokenizer *tok, const char *text, size_t len);

/* The bytes id stands for: SPM "\xe2\x96\x81" -> ' ', "<0xAB>" -> byte 0xAB; BPE byte-level
 * mapping reversed. Control/unknown tokens give "" unless special is true (then their text).
 * The result may be a fragment of a UTF-8 sequence. Borrowed until rx_tokenizer_free;
 * RX_ERR_RANGE for an id out of range. */
rx_status rx_token_piece(const rx_tokenizer *tok, int32_t id, bool special, const char **piece,
                         size_t *len);

/* The longest piece of any token, for sizing output buffers. */
size_t rx_tokenizer_max_piece(const rx_tokenizer *tok);

/* --- streaming detokenizer ---
 * Takes ids one at a time and hands back only complete UTF-8 text: a partial sequence is held
 * until the next pieces complete it, and bytes that cannot form valid UTF-8 come out as U+FFFD
 * (at the latest at flush). For SPM vocabularies that add a space prefix, the one leading space
 * of the first piece after an optional leading BOS is dropped, as llama.cpp does, so
 * detokenizing tokenize(s) gives back s. The state owns one buffer allocated at create; push
 * and flush never allocate. */
typedef struct rx_detok rx_detok;

enum {
    RX_DETOK_SPECIAL = 1u << 0,    /* render control tokens as their text */
    RX_DETOK_KEEP_SPACE = 1u << 1, /* keep the leading space */
};

/* tok is borrowed and must outlive the state. */
rx_status rx_detok_create(const rx_tokenizer *tok, unsigned flags, rx_detok **out);
void rx_detok_destroy(rx_detok *d); /* accepts NULL */
void rx_detok_reset(rx_detok *d);   /* start a new sequence */

/* Adds id; *text and *len receive the newly completed text (possibly empty), valid until the
 * next call on d. RX_ERR_RANGE for an id out of range (nothing is consumed). */
rx_status rx_detok_push(rx_detok *d, int32_t id, const char **text, size_t *len);

/* Ends the sequence: a held-back partial sequence becomes U+FFFD. Same output contract. */
rx_status rx_detok_flush(rx_detok *d, const char **text, size_t *len);

/* Whole-sequence convenience over rx_detok: writes up to cap bytes (no NUL) and the full
 * length to *n_out; RX_ERR_FULL (with the needed length) if cap is too small. */
rx_status rx_detokenize(const rx_tokenizer *tok, const int32_t *ids, size_t n_ids, unsigned flags,
                        char *out, size_t cap, size_t *n_out);

#endif
