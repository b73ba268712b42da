/* Builds an rx_tokenizer from GGUF metadata: validates every tokenizer.ggml.* key, copies the
 * vocabulary and merges into owned memory, and derives what llama.cpp derives at load time
 * (defaults per model, special-token attributes, end-of-generation set, piece cache). */
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "engine/tok_internal.h"
#include "engine/unicode.h"

#define KEY(k) "tokenizer.ggml." k

/* Looks up an array key; RX_ERR_NOT_FOUND if absent, RX_ERR_FORMAT if not an array. */
static rx_status get_array(const rx_gguf *g, const char *key, rx_gguf_type *et, uint64_t *n,
                           int64_t *idx)
{
    rx_status s = rx_gguf_get_arr(g, key, et, n);
    if (s != RX_OK) return s;
    *idx = rx_gguf_find_key(g, key);
    return RX_OK;
}

static bool is_int_type(rx_gguf_type t)
{
    return t == RX_GGUF_U8 || t == RX_GGUF_I8 || t == RX_GGUF_U16 || t == RX_GGUF_I16 ||
           t == RX_GGUF_U32 || t == RX_GGUF_I32 || t == RX_GGUF_U64 || t == RX_GGUF_I64;
}

static rx_status load_model_type(rx_tokenizer *tok, const rx_gguf *g)
{
    rx_str model;
    rx_status s = rx_gguf_get_str(g, KEY("model"), &model);
    if (s == RX_ERR_NOT_FOUND) return rx_error(RX_ERR_FORMAT, "tokenizer: missing " KEY("model"));
    if (s != RX_OK) return s;
    if (model.len == 5 && memcmp(model.ptr, "llama", 5) == 0) {
        tok->type = RX_VOCAB_SPM;
        return RX_OK;
    }
    if (model.len == 4 && memcmp(model.ptr, "gpt2", 4) == 0) {
        tok->type = RX_VOCAB_BPE;
        return RX_OK;
    }
    return rx_error(RX_ERR_UNSUPPORTED, "tokenizer: " KEY("model") " '%.*s' is not supported",
                    (int)(model.len > 64 ? 64 : model.len), model.ptr);
}

/* tokenizer.ggml.pre names the regex split before BPE; llama.cpp's table, for the splits we
 * implement. ignore_merges: the family that emits a whole word directly when it is a token. */
static rx_status load_pre(rx_tokenizer *tok, const rx_gguf *g)
{
    static const struct {
        const char *name;
        rx_tok_pre pre;
        bool ignore_merges;
    } table[] = {
        {"default", RX_PRE_DEFAULT, false},
        {"gpt-2", RX_PRE_GPT2, false},
        {"phi-2", RX_PRE_GPT2, false},
        {"mpt", RX_PRE_GPT2, false},
        {"olmo", RX_PRE_GPT2, false},
        {"jais", RX_PRE_GPT2, false},
        {"jina-es", RX_PRE_GPT2, false},
        {"jina-de", RX_PRE_GPT2, false},
        {"jina-v2-es", RX_PRE_GPT2, false},
        {"jina-v2-de", RX_PRE_GPT2, false},
        {"gigachat", RX_PRE_GPT2, false},
        {"llama3", RX_PRE_LLAMA3, true},
        {"llama-v3", RX_PRE_LLAMA3, true},
        {"llama-bpe", RX_PRE_LLAMA3, true},
        {"falcon3", RX_PRE_LLAMA3, true},
        {"pixtral", RX_PRE_LLAMA3, true},
        {"dbrx", RX_PRE_LLAMA3, false},
        {"smaug-bpe", RX_PRE_LLAMA3, false},
        {"falcon", RX_PRE_FALCON, false},
        {"starcoder", RX_PRE_STARCODER, false},
        {"refact", RX_PRE_STARCODER, false},
        {"command-r", RX_PRE_STARCODER, false},
        {"smollm", RX_PRE_STARCODER, false},
        {"codeshell", RX_PRE_STARCODER, false},
        {"exaone", RX_PRE_STARCODER, false},
        {"minerva-7b", RX_PRE_STARCODER, false},
        {"deepseek-coder", RX_PRE_DEEPSEEK_CODER, false},
        {"deepseek-llm", RX_PRE_DEEPSEEK_LLM, false},
    };
    tok->pre = RX_PRE_DEFAULT;
    if (tok->type != RX_VOCAB_BPE) return RX_OK;
    rx_str pre;
    rx_status s = rx_gguf_get_str(g, KEY("pre"), &pre);
    if (s == RX_ERR_NOT_FOUND) return RX_OK; /* llama.cpp warns and uses "default" */
    if (s != RX_OK) return s;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strlen(table[i].name) == pre.len && memcmp(table[i].name, pre.ptr, pre.len) == 0) {
            tok->pre = table[i].pre;
            tok->ignore_merges = table[i].ignore_merges;
            if (table[i].pre == RX_PRE_LLAMA3 && table[i].ignore_merges) tok->add_bos = true;
            return RX_OK;
        }
    }
    return rx_error(RX_ERR_UNSUPPORTED, "tokenizer: " KEY("pre") " '%.*s' is not supported",
                    (int)(pre.len > 64 ? 64 : pre.len), pre.ptr);
}

static rx_status insert_token(rx_tokenizer *tok, uint32_t id)
{
    const rx_tok_entry *e = &tok->toks[id];
    const char *text = tok->blob + e->off;
    size_t i = rx_tok__hash(text, e->len, 0) & tok->slot_mask;
    for (; tok->slots[i]; i = (i + 1) & tok->slot_mask) {
        const rx_tok_entry *o = &tok->toks[tok->slots[i] - 1];
        if (o->len == e->len && memcmp(tok->blob + o->off, text, e->len) == 0)
            return rx_error(RX_ERR_FORMAT,
                            "tokenizer: " KEY("tokens") " has '%.*s' twice (ids %u and %u)",
                            (int)(e->len > 64 ? 64 : e->len), text, tok->slots[i] - 1, id);
    }
    tok->slots[i] = id + 1;
    return RX_OK;
}

static rx_status load_tokens(rx_tokenizer *tok, const rx_gguf *g)
{
    rx_gguf_type et;
    uint64_t n;
    int64_t idx;
    rx_status s = get_array(g, KEY("tokens"), &et, &n, &idx);
    if (s == RX_ERR_NOT_FOUND) return rx_error(RX_ERR_FORMAT, "tokenizer: missing " KEY("tokens"));
    if (s != RX_OK) return s;
    if (et != RX_GGUF_STRING || n == 0 || n >= INT32_MAX / 2)
        return rx_error(RX_ERR_FORMAT,
                        "tokenizer: " KEY("tokens") " must be a non-empty string array "
                                                    "(type %d, %llu entries)",
                        (int)et, (unsigned long long)n);
    tok->n_vocab = (uint32_t)n;
    tok->toks = calloc(n, sizeof *tok->toks);
    if (!tok->toks) return rx_error(RX_ERR_NOMEM, "tokenizer: %llu tokens", (unsigned long long)n);

    /* Sizes first, so the texts go into one allocation. An empty text becomes "[EMPTY_<id>]"
     * as in llama.cpp, which keeps every id addressable by text. */
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len = rx_gguf_arr_str(g, idx, i).len;
        if (!rx_add_u64(total, len ? len : 20, &total) || total > UINT32_MAX)
            return rx_error(RX_ERR_FORMAT, "tokenizer: " KEY("tokens") " text too large");
    }
    tok->blob = malloc(total ? total : 1);
    size_t cap = 1;
    while (cap < 2 * n)
        cap <<= 1;
    tok->slots = calloc(cap, sizeof *tok->slots);
    if (!tok->blob || !tok->slots) return rx_error(RX_ERR_NOMEM, "tokenizer: vocabulary");
    tok->slot_mask = cap - 1;
    uint32_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        rx_str t = rx_gguf_arr_str(g, idx, i);
        char empty[21];
        if (t.len == 0) {
            int k = snprintf(empty, sizeof empty, "[EMPTY_%u]", i);
            t.ptr = empty;
            t.len = (uint64_t)k;
        }
        memcpy(tok->blob + off, t.ptr, t.len);
        tok->toks[i] = (rx_tok_entry){off, (uint32_t)t.len, 0.0f, RX_TATTR_NORMAL};
        off += (uint32_t)t.len;
        if ((s = insert_token(tok, i)) != RX_OK) return s;
    }
    return RX_OK;
}

static rx_status load_scores_and_types(rx_tokenizer *tok, const rx_gguf *g)
{
    rx_gguf_type et;
    uint64_t n;
    int64_t idx;
    rx_status s = get_array(g, KEY("scores"), &et, &n, &idx);
    if (s == RX_OK) {
        if (et != RX_GGUF_F32 && et != RX_GGUF_I32)
            return rx_error(RX_ERR_FORMAT, "tokenizer: " KEY("scores") " must be f32 or i32");
        if (n < tok->n_vocab)
            return rx_error(RX_ERR_FORMAT,
                            "tokenizer: " KEY("scores") " has %llu entries for %u tokens",
                            (unsigned long long)n, tok->n_vocab);
        for (uint32_t i = 0; i < tok->n_vocab; i++)
            tok->toks[i].score = rx_gguf_arr_f32(g, idx, i);
    } else if (s != RX_ERR_NOT_FOUND) {
        return s;
    }

    static const uint32_t attr_of_type[] = {
        RX_TATTR_UNDEFINED,    RX_TATTR_NORMAL, RX_TATTR_UNKNOWN, RX_TATTR_CONTROL,
        RX_TATTR_USER_DEFINED, RX_TATTR_UNUSED, RX_TATTR_BYTE,
    };
    s = get_array(g, KEY("token_type"), &et, &n, &idx);
    if (s == RX_ERR_NOT_FOUND) return RX_OK;
    if (s != RX_OK) return s;
    if (!is_int_type(et))
        return rx_error(RX_ERR_FORMAT, "tokenizer: " KEY("token_type") " must be integers");
    if (n < tok->n_vocab)
        return rx_error(RX_ERR_FORMAT,
                        "tokenizer: " KEY("token_type") " has %llu entries for %u tokens",
                        (unsigned long long)n, tok->n_vocab);
    for (uint32_t i = 0; i < tok->n_vocab; i++) {
        int64_t t = rx_gguf_arr_int(g, idx, i);
        if (t < 0 || t > 6)
            return rx_error(RX_ERR_FORMAT,
                            "tokenizer: " KEY("token_type") "[%u] = %lld is not 0..6", i,
                            (long long)t);
        tok->toks[i].attr = attr_of_type[t];
    }
    return RX_OK;
}

/* Merges are "left right" strings, rank = position. The split is at the first space after the
 * first byte, so a left part may itself start with a space. A repeated pair keeps its first
 * (best) rank, as llama.cpp's map emplace does. */
static rx_status load_merges(rx_tokenizer *tok, const rx_gguf *g)
{
    if (tok->type != RX_VOCAB_BPE) return RX_OK;
    rx_gguf_type et;
    uint64_t n;
    int64_t idx;
    rx_status s = get_array(g, KEY("merges"), &et, &n, &idx);
    if (s == RX_ERR_NOT_FOUND) return rx_error(RX_ERR_FORMAT, "tokenizer: missing " KEY("merges"));
    if (s != RX_OK) return s;
    if (et != RX_GGUF_STRING || n >= INT32_MAX / 2)
        return rx_error(RX_ERR_FORMAT, "tokenizer: " KEY("merges") " must be a string array");
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++)
        if (!rx_add_u64(total, rx_gguf_arr_str(g, idx, i).len, &total) || total > UINT32_MAX)
            return rx_error(RX_ERR_FORMAT, "tokenizer: " KEY("merges") " text too large");
    size_t cap = 1;
    while (cap < 2 * n)
        cap <<= 1;
    tok->merges = calloc(n ? n : 1, sizeof *tok->merges);
    tok->merge_blob = malloc(total ? total : 1);
    tok->merge_slots = calloc(cap, sizeof *tok->merge_slots);
    if (!tok->merges || !tok->merge_blob || !tok->merge_slots)
        return rx_error(RX_ERR_NOMEM, "tokenizer: merges");
    tok->merge_slot_mask = cap - 1;
    uint32_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        rx_str m = rx_gguf_arr_str(g, idx, i);
        const char *sp = m.len > 1 ? memchr(m.ptr + 1, ' ', m.len - 1) : NULL;
        if (!sp)
            return rx_error(RX_ERR_FORMAT, "tokenizer: " KEY("merges") "[%u] '%.*s' has no space",
                            i, (int)(m.len > 64 ? 64 : m.len), m.ptr);
        char *l = tok->merge_blob + off, *r = l + (sp - m.ptr) + 1;
        memcpy(l, m.ptr, m.len);
        uint32_t ll = (uint32_t)(sp - m.ptr), rl = (uint32_t)(m.len - ll - 1);
        tok->merges[i] = (rx_tok_merge){off, ll, off + ll + 1, rl};
        off += (uint32_t)m.len;
        tok->n_merges = i;
        if (rx_tok__merge_rank(tok, l, ll, r, rl) >= 0) continue;
        if (ll + rl > tok->max_merge_len) tok->max_merge_len = ll + rl;
        size_t j = rx_tok__merge_hash(l, ll, r, rl) & tok->merge_slot_mask;
        while (tok->merge_slots[j])
            j = (j + 1) & tok->merge_slot_mask;
        tok->merge_slots[j] = i + 1;
    }
    tok->n_merges = (uint32_t)n;
    return RX_OK;
}

/* A special-token id key: absent keeps the default; -1 / UINT32_MAX ("unset" in many
 * converters) also keeps it, like llama.cpp's out-of-range fallback; anything else must be a
 * valid id. */
static rx_status load_special_id(const rx_tokenizer *tok, const rx_gguf *g, const char *key,
                                 int32_t *id)
{
    int64_t v;
    rx_status s = rx_gguf_get_i64(g, key, &v);
    if (s == RX_ERR_NOT_FOUND) return RX_OK;
    if (s != RX_OK) return s;
    if (v == -1 || v == (int64_t)UINT32_MAX) return RX_OK;
    if (v < 0 || v >= (int64_t)tok->n_vocab)
        return rx_error(RX_ERR_FORMAT, "tokenizer: %s = %lld is outside the vocabulary (%u tokens)",
                        key, (long long)v, tok->n_vocab);
    *id = (int32_t)v;
    return RX_OK;
}

static rx_status load_bool(const rx_gguf *g, const char *key, bool *v)
{
    rx_status s = rx_gguf_get_bool(g, key, v);
    return s == RX_ERR_NOT_FOUND ? RX_OK : s;
}

static rx_status load_specials(rx_tokenizer *tok, const rx_gguf *g)
{
    /* llama.cpp's defaults: SPM <unk>=0 <s>=1 </s>=2; GPT-2 BPE 11 for both BOS and EOS
     * (a Falcon heritage). A default outside the vocabulary is dropped. */
    int32_t unk = -1, sep = -1, pad = -1;
    if (tok->type == RX_VOCAB_SPM) {
        tok->bos = 1, tok->eos = 2, unk = 0;
        tok->add_bos = true, tok->add_space_prefix = true;
    } else {
        tok->bos = 11, tok->eos = 11;
    }
    int32_t *defaults[] = {&tok->bos, &tok->eos, &unk};
    for (size_t i = 0; i < 3; i++)
        if (*defaults[i] >= (int32_t)tok->n_vocab) *defaults[i] = -1;
    tok->eot = tok->eom = -1;
    rx_status s;
    if ((s = load_special_id(tok, g, KEY("bos_token_id"), &tok->bos)) != RX_OK ||
        (s = load_special_id(tok, g, KEY("eos_token_id"), &tok->eos)) != RX_OK ||
        (s = load_special_id(tok, g, KEY("eot_token_id"), &tok->eot)) != RX_OK ||
        (s = load_special_id(tok, g, KEY("eom_token_id"), &tok->eom)) != RX_OK ||
        (s = load_special_id(tok, g, KEY("unknown_token_id"), &unk)) != RX_OK ||
        (s = load_special_id(tok, g, KEY("seperator_token_id"), &sep)) != RX_OK ||
        (s = load_special_id(tok, g, KEY("padding_token_id"), &pad)) != RX_OK)
        return s;
    tok->unk = unk;
    if ((s = load_bool(g, KEY("add_space_prefix"), &tok->add_space_prefix)) != RX_OK ||
        (s = load_bool(g, KEY("add_bos_token"), &tok->add_bos)) != RX_OK ||
        (s = load_bool(g, KEY("add_eos_token"), &tok->add_eos)) != RX_OK)
        return s;
    if (tok->add_bos && tok->bos < 0)
        return rx_error(RX_ERR_FORMAT,
                        "tokenizer: " KEY("add_bos_token") " is set but there is no BOS id");
    if (tok->add_eos && tok->eos < 0)
        return rx_error(RX_ERR_FORMAT,
                        "tokenizer: " KEY("add_eos_token") " is set but there is no EOS id");
    return RX_OK;
}

static void set_attr_by_text(rx_tokenizer *tok, const char *text, uint32_t bit, bool on)
{
    int32_t id = rx_tok__find(tok, text, strlen(text));
    if (id < 0) return;
    if (on)
        tok->toks[id].attr |= bit;
    else
        tok->toks[id].attr &= ~bit;
}

/* End-of-generation tokens are recognised by text, as llama.cpp (build 4748) does, and forced
 * to control type so that plain text never produces them. */
static void mark_eog(rx_tokenizer *tok)
{
    static const char *eog_texts[] = {
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",   "<|endoftext|>",
        "<|eom_id|>", "<EOT>",      "_<EOT>",  "<|end_of_text|>",
    };
    for (size_t k = 0; k < sizeof eog_texts / sizeof eog_texts[0]; k++) {
        int32_t id = rx_tok__find(tok, eog_texts[k], strlen(eog_texts[k]));
        if (id < 0) continue;
        tok->toks[id].attr |= RX_TATTR_EOG | RX_TATTR_CONTROL;
        if (k == 5 && tok->eom < 0) tok->eom = id;
        if (k != 5 && tok->eot < 0) tok->eot = id;
    }
    int32_t ids[] = {tok->eos, tok->eot, tok->eom};
    for (size_t i = 0; i < 3; i++)
        if (ids[i] >= 0) tok->toks[ids[i]].attr |= RX_TATTR_EOG;
}

static int cmp_special(const void *a, const void *b, void *arg)
{
    const rx_tokenizer *tok = arg;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    uint32_t lx = tok->toks[x].len, ly = tok->toks[y].len;
    if (lx != ly) return lx > ly ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* Tokens split out of raw text before the tokenizer runs, longest text first (llama.cpp sorts
 * by length; among equal lengths we take ids in order). Phi-3 models also eat whitespace after
 * most of them, keyed on general.name as llama.cpp does. */
static rx_status build_specials(rx_tokenizer *tok, const rx_gguf *g)
{
    const uint32_t kinds = RX_TATTR_CONTROL | RX_TATTR_USER_DEFINED | RX_TATTR_UNKNOWN;
    size_t n = 0;
    for (uint32_t i = 0; i < tok->n_vocab; i++)
        n += (tok->toks[i].attr & kinds) != 0;
    tok->specials = malloc((n ? n : 1) * sizeof *tok->specials);
    if (!tok->specials) return rx_error(RX_ERR_NOMEM, "tokenizer: special tokens");
    for (uint32_t i = 0; i < tok->n_vocab; i++)
        if (tok->toks[i].attr & kinds) tok->specials[tok->n_specials++] = (int32_t)i;
    qsort_r(tok->specials, tok->n_specials, sizeof *tok->specials, cmp_special, tok);

    rx_str name;
    if (rx_gguf_get_str(g, "general.name", &name) != RX_OK) return RX_OK;
    char lower[256];
    size_t len = name.len < sizeof lower - 1 ? name.len : sizeof lower - 1;
    for (size_t i = 0; i < len; i++) {
        char c = name.ptr[i];
        lower[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    lower[len] = '\0';
    if (strstr(lower, "phi-3") || strstr(lower, "phi3")) {
        for (size_t i = 0; i < tok->n_specials; i++)
            tok->toks[tok->specials[i]].attr |= RX_TATTR_RSTRIP;
        set_attr_by_text(tok, "</s>", RX_TATTR_RSTRIP, true);
        set_attr_by_text(tok, "<unk>", RX_TATTR_RSTRIP, false);
        set_attr_by_text(tok, "<s>", RX_TATTR_RSTRIP, false);
        set_attr_by_text(tok, "<|endoftext|>", RX_TATTR_RSTRIP, false);
    }
    return RX_OK;
}

/* Byte fallback for SPM: "<0xAB>" (upper-case hex), else a token that is the byte itself. */
static void build_bytes(rx_tokenizer *tok)
{
    static const char hex[] = "0123456789ABCDEF";
    for (unsigned b = 0; b < 256; b++) {
        char name[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
        char raw = (char)b;
        int32_t id = rx_tok__find(tok, name, 6);
        tok->byte_tok[b] = id >= 0 ? id : rx_tok__find(tok, &raw, 1);
        uint8_t enc[4];
        tok->byte_enc_len[b] = (uint8_t)rx_utf8_encode(rx_byte_to_cpt((uint8_t)b), enc);
        memcpy(tok->byte_enc[b], enc, 2);
    }
}

rx_status rx_tokenizer_load(const rx_gguf *g, rx_tokenizer **out)
{
    *out = NULL;
    rx_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) return rx_error(RX_ERR_NOMEM, "tokenizer");
    rx_status s;
    /* load_pre may turn add_bos on; load_specials then lets the file's key override it. */
    if ((s = load_model_type(tok, g)) != RX_OK || (s = load_tokens(tok, g)) != RX_OK ||
        (s = load_scores_and_types(tok, g)) != RX_OK || (s = load_merges(tok, g)) != RX_OK ||
        (s = load_pre(tok, g)) != RX_OK || (s = load_specials(tok, g)) != RX_OK)
        goto fail;
    mark_eog(tok);
    build_bytes(tok);
    if ((s = build_specials(tok, g)) != RX_OK || (s = rx_tok__build_pieces(tok)) != RX_OK)
        goto fail;
    *out = tok;
    return RX_OK;
fail:
    rx_tokenizer_free(tok);
    return s;
}
