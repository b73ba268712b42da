/* Pre-tokenizers for byte-level BPE: the regex splits that tokenizer.ggml.pre selects, written
 * out as code over codepoints. Each split is applied in turn to every piece the previous one
 * produced; matches and the gaps between them both become pieces (llama.cpp's
 * unicode_regex_split). Two flavours of character classes matter for exactness:
 *  - the GPT-2 and Llama-3 splits use the full Unicode tables (llama.cpp has custom code);
 *  - the other splits ran in std::regex over a "collapsed" text in llama.cpp, where ASCII
 *    stays itself and any other codepoint is replaced by its category (White_Space first),
 *    so e.g. \p{P} is Unicode punctuation plus exactly the ASCII set listed in ascii_punct.
 * Splits whose regex spells out non-ASCII ranges (deepseek) ran in std::wregex with non-ASCII
 * whitespace replaced by \v, which is why their classes look at wmap(c). */
#include <stdlib.h>

#include "engine/tok_internal.h"
#include "engine/unicode.h"

typedef struct {
    size_t *v;
    size_t n, cap;
} ends_list;

typedef struct {
    const uint32_t *c;
    ends_list *out;
    rx_status s;
} split_ctx;

static void emit(split_ctx *x, size_t end)
{
    if (x->s != RX_OK) return;
    if (x->out->n == x->out->cap) {
        size_t cap = x->out->cap ? x->out->cap * 2 : 64;
        size_t *v = realloc(x->out->v, cap * sizeof *v);
        if (!v) {
            x->s = rx_error(RX_ERR_NOMEM, "tokenize: %zu words", cap);
            return;
        }
        x->out->v = v;
        x->out->cap = cap;
    }
    x->out->v[x->out->n++] = end;
}

/* --- character classes --- */

static bool ascii_space(uint32_t c)
{
    return c == ' ' || (c >= 0x09 && c <= 0x0D);
}
static bool ascii_alpha(uint32_t c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}
static bool ascii_digit(uint32_t c)
{
    return c >= '0' && c <= '9';
}

static bool ascii_punct(uint32_t c)
{
    return (c >= 0x21 && c <= 0x23) || (c >= 0x25 && c <= 0x2A) || (c >= 0x2C && c <= 0x2F) ||
           c == 0x3A || c == 0x3B || c == 0x3F || c == 0x40 || (c >= 0x5B && c <= 0x5D) ||
           c == 0x5F || c == 0x7B || c == 0x7D;
}

/* Collapsed classes (see the file comment). */
static bool cs_space(uint32_t c)
{
    return c < 128 ? ascii_space(c) : rx_unicode_is_space(c);
}
static bool cs_cat(uint32_t c, rx_ucat cat)
{
    return !rx_unicode_is_space(c) && rx_unicode_cat(c) == cat;
}
static bool cs_letter(uint32_t c)
{
    return c < 128 ? ascii_alpha(c) : cs_cat(c, RX_UCAT_LETTER);
}
static bool cs_number(uint32_t c)
{
    return c < 128 ? ascii_digit(c) : cs_cat(c, RX_UCAT_NUMBER);
}
static bool cs_punct(uint32_t c)
{
    return c < 128 ? ascii_punct(c) : cs_cat(c, RX_UCAT_PUNCT);
}

static uint32_t wmap(uint32_t c)
{
    return c > 0x7F && rx_unicode_is_space(c) ? 0x0B : c;
}

static bool in_ranges(uint32_t c, const uint32_t (*r)[2], size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (c >= r[i][0] && c <= r[i][1]) return true;
    return false;
}

/* The same over ascending, disjoint ranges, by binary search. */
static bool in_sorted_ranges(uint32_t c, const uint32_t (*r)[2], size_t n)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c < r[mid][0])
            hi = mid;
        else if (c > r[mid][1])
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

/* deepseek-llm's letter class, from its tokenizer.json (cased letters of many scripts). */
static const uint32_t ds_letters[][2] = {
    {0x41, 0x5A},       {0x61, 0x7A},       {0xB5, 0xB5},       {0xC0, 0xD6},
    {0xD8, 0xF6},       {0xF8, 0x1BA},      {0x1BC, 0x1BF},     {0x1C4, 0x293},
    {0x295, 0x2AF},     {0x370, 0x373},     {0x376, 0x377},     {0x37B, 0x37D},
    {0x37F, 0x37F},     {0x386, 0x386},     {0x388, 0x38A},     {0x38C, 0x38C},
    {0x38E, 0x3A1},     {0x3A3, 0x3F5},     {0x3F7, 0x481},     {0x48A, 0x52F},
    {0x531, 0x556},     {0x10A0, 0x10C5},   {0x13A0, 0x13F5},   {0x13F8, 0x13FD},
    {0x1C90, 0x1CBA},   {0x1CBD, 0x1CBF},   {0x1D00, 0x1D2B},   {0x1D6B, 0x1D77},
    {0x1D79, 0x1D9A},   {0x1E00, 0x1F15},   {0x1F18, 0x1F1D},   {0x1F20, 0x1F45},
    {0x1F48, 0x1F4D},   {0x1F50, 0x1F57},   {0x1F59, 0x1F59},   {0x1F5B, 0x1F5B},
    {0x1F5D, 0x1F5D},   {0x1F5F, 0x1F7D},   {0x1F80, 0x1FB4},   {0x1FB6, 0x1FBC},
    {0x1FBE, 0x1FBE},   {0x1FC2, 0x1FC4},   {0x1FC6, 0x1FCC},   {0x1FD0, 0x1FD3},
    {0x1FD6, 0x1FDB},   {0x1FE0, 0x1FEC},   {0x1FF2, 0x1FF4},   {0x1FF6, 0x1FFC},
    {0x2102, 0x2102},   {0x2107, 0x2107},   {0x210A, 0x2113},   {0x2115, 0x2115},
    {0x2119, 0x211D},   {0x2124, 0x2124},   {0x2126, 0x2126},   {0x2128, 0x2128},
    {0x212A, 0x212D},   {0x212F, 0x2134},   {0x2139, 0x2139},   {0x213C, 0x213F},
    {0x2145, 0x2149},   {0x214E, 0x214E},   {0x2183, 0x2184},   {0x2C00, 0x2C7B},
    {0x2C7E, 0x2CE4},   {0x2CEB, 0x2CEE},   {0x2CF2, 0x2CF3},   {0xA640, 0xA66D},
    {0xA680, 0xA69B},   {0xA722, 0xA76F},   {0xA771, 0xA787},   {0xA78B, 0xA78E},
    {0xAB70, 0xABBF},   {0xFB00, 0xFB06},   {0xFB13, 0xFB17},   {0xFF21, 0xFF3A},
    {0xFF41, 0xFF5A},   {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};

/* deepseek-llm's punctuation class; note it includes ASCII letters (':' to '~'). */
static const uint32_t ds_punct[][2] = {
    {0x21, 0x2F},     {0x3A, 0x7E},     {0xFF01, 0xFF0F},
    {0xFF1A, 0xFF5E}, {0x2018, 0x201F}, {0x3000, 0x3002},
};

/* CJK and Hangul block of both deepseek pre-tokenizers. */
static const uint32_t ds_cjk[][2] = {{0x4E00, 0x9FA5}, {0x0800, 0x4E00}, {0xAC00, 0xD7FF}};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* --- one regex each: the length of the match at pos within [pos, end), 0 if none --- */

typedef size_t (*matcher)(const uint32_t *c, size_t pos, size_t end);

static size_t run_of(const uint32_t *c, size_t pos, size_t end, bool (*in)(uint32_t))
{
    size_t p = pos;
    while (p < end && in(c[p]))
        p++;
    return p - pos;
}

/* \s?X+ : an optional whitespace only when an X follows it. */
static size_t space_then_run(const uint32_t *c, size_t pos, size_t end, bool (*sp)(uint32_t),
                             bool (*in)(uint32_t))
{
    if (sp(c[pos]) && pos + 1 < end && in(c[pos + 1])) return 1 + run_of(c, pos + 1, end, in);
    return run_of(c, pos, end, in);
}

static bool is_crlf(uint32_t c)
{
    return c == '\r' || c == '\n';
}
static bool falcon_punct(uint32_t c)
{
    return cs_punct(c) || c == '$' || c == '+' || c == '<' || c == '=' || c == '>' || c == '^' ||
           c == '~' || c == '|' || c == '`';
}
static bool default_punct(uint32_t c)
{
    return c != '`' && falcon_punct(c);
}
static bool w_space(uint32_t c)
{
    return ascii_space(wmap(c));
}
static bool w_cjk(uint32_t c)
{
    return in_ranges(wmap(c), ds_cjk, N_OF(ds_cjk));
}
static bool w_letter(uint32_t c)
{
    return in_sorted_ranges(wmap(c), ds_letters, N_OF(ds_letters));
}
static bool w_punct(uint32_t c)
{
    return in_ranges(wmap(c), ds_punct, N_OF(ds_punct));
}

static size_t m_crlf(const uint32_t *c, size_t p, size_t e)
{
    (void)e;
    return is_crlf(c[p]);
}
static size_t m_number1(const uint32_t *c, size_t p, size_t e)
{
    (void)e;
    return cs_number(c[p]);
}
static size_t m_numbers(const uint32_t *c, size_t p, size_t e)
{
    return run_of(c, p, e, cs_number);
}
static size_t m_falcon_punct(const uint32_t *c, size_t p, size_t e)
{
    return run_of(c, p, e, falcon_punct);
}
static size_t m_default_punct(const uint32_t *c, size_t p, size_t e)
{
    return run_of(c, p, e, default_punct);
}
static size_t m_cjk(const uint32_t *c, size_t p, size_t e)
{
    return run_of(c, p, e, w_cjk);
}
static size_t m_sp_letters(const uint32_t *c, size_t p, size_t e)
{
    return space_then_run(c, p, e, cs_space, cs_letter);
}
static size_t m_sp_punct(const uint32_t *c, size_t p, size_t e)
{
    return space_then_run(c, p, e, cs_space, cs_punct);
}
static size_t m_ds_letters(const uint32_t *c, size_t p, size_t e)
{
    return space_then_run(c, p, e, w_space, w_letter);
}
static size_t m_ds_punct(const uint32_t *c, size_t p, size_t e)
{
    return space_then_run(c, p, e, w_space, w_punct);
}

static size_t m_three_digits(const uint32_t *c, size_t p, size_t e)
{
    return p + 3 <= e && ascii_digit(c[p]) && ascii_digit(c[p + 1]) && ascii_digit(c[p + 2]) ? 3
                                                                                             : 0;
}

/* Leftmost-first search, like std::regex_iterator: gaps between matches are pieces too. */
static void split_regex(split_ctx *x, size_t a, size_t b, matcher m)
{
    size_t gap = a;
    for (size_t p = a; p < b;) {
        size_t k = m(x->c, p, b);
        if (!k) {
            p++;
            continue;
        }
        if (p > gap) emit(x, p);
        emit(x, p + k);
        p += k;
        gap = p;
    }
    if (gap < b) emit(x, b);
}

/* \s+$ : the whitespace run that reaches the end of the piece. */
static void split_trailing_space(split_ctx *x, size_t a, size_t b)
{
    size_t t = b;
    while (t > a && w_space(x->c[t - 1]))
        t--;
    if (t > a) emit(x, t);
    if (t < b) emit(x, b);
}

/* --- GPT-2 and Llama-3: llama.cpp's hand-written versions, over the Unicode tables --- */

typedef struct {
    bool in, space, letter, number;
} cflags;

static cflags flags_at(const uint32_t *c, size_t p, size_t a, size_t b)
{
    if (p < a || p >= b) return (cflags){0};
    rx_ucat cat = rx_unicode_cat(c[p]);
    return (cflags){true, rx_unicode_is_space(c[p]), cat == RX_UCAT_LETTER, cat == RX_UCAT_NUMBER};
}

static bool other(cflags f)
{
    return f.in && !f.space && !f.letter && !f.number;
}

/* 's 't 're 've 'm 'll 'd after an apostrophe at p; fold makes it case-insensitive. */
static size_t contraction(const uint32_t *c, size_t p, size_t b, bool fold)
{
    if (c[p] != '\'' || p + 1 >= b) return 0;
    uint32_t n1 = c[p + 1];
    if (fold && n1 < 128 && ascii_alpha(n1)) n1 |= 0x20;
    if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') return 2;
    if (p + 2 >= b) return 0;
    uint32_t n2 = c[p + 2];
    if (fold && n2 < 128 && ascii_alpha(n2)) n2 |= 0x20;
    if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) return 3;
    return 0;
}

/* Whitespace handling shared by both: \s+(?!\S) keeps the last space for the next word. */
static size_t whitespace_end(const uint32_t *c, size_t p, size_t a, size_t b)
{
    size_t n = 0;
    while (flags_at(c, p + n, a, b).space)
        n++;
    if (n > 1 && p + n < b) return p + n - 1;
    return n ? p + n : p + 1;
}

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static void split_gpt2(split_ctx *x, size_t a, size_t b)
{
    const uint32_t *c = x->c;
    for (size_t p = a; p < b;) {
        size_t k = contraction(c, p, b, false);
        if (k) {
            emit(x, p += k);
            continue;
        }
        size_t q = p + (c[p] == ' ');
        cflags f = c[p] == ' ' ? flags_at(c, p + 1, a, b) : flags_at(c, p, a, b);
        if (f.letter || f.number || other(f)) {
            bool letter = f.letter, number = f.number;
            while (q < b) {
                cflags g = flags_at(c, q, a, b);
                if (letter ? !g.letter : number ? !g.number : !other(g)) break;
                q++;
            }
            emit(x, p = q);
            continue;
        }
        emit(x, p = whitespace_end(c, p, a, b));
    }
}

/* (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
 * \s*[\r\n]+|\s+(?!\S)|\s+ */
static void split_llama3(split_ctx *x, size_t a, size_t b)
{
    const uint32_t *c = x->c;
    for (size_t p = a; p < b;) {
        size_t k = contraction(c, p, b, true);
        if (k) {
            emit(x, p += k);
            continue;
        }
        cflags f = flags_at(c, p, a, b);
        if (!is_crlf(c[p]) && !f.number && (f.letter || flags_at(c, p + 1, a, b).letter)) {
            p++;
            while (flags_at(c, p, a, b).letter)
                p++;
            emit(x, p);
            continue;
        }
        if (f.number) {
            size_t start = p;
            while (flags_at(c, p, a, b).number) {
                if (++p - start >= 3) emit(x, start = p);
            }
            emit(x, p);
            continue;
        }
        /* The guard tests the flags at p itself, so " " at the end of a piece lands here. */
        cflags g = c[p] == ' ' ? flags_at(c, p + 1, a, b) : f;
        if (!g.space && !g.letter && !g.number) {
            p += c[p] == ' ';
            while (other(flags_at(c, p, a, b)))
                p++;
            while (p < b && is_crlf(c[p]))
                p++;
            emit(x, p);
            continue;
        }
        size_t n = 0, last_nl = 0;
        while (flags_at(c, p + n, a, b).space) {
            if (is_crlf(c[p + n])) last_nl = p + n + 1;
            n++;
        }
        emit(x, p = last_nl ? last_nl : whitespace_end(c, p, a, b));
    }
}

/* --- the pipelines --- */

typedef enum { ST_REGEX, ST_GPT2, ST_LLAMA3, ST_TRAILING_SPACE } stage_kind;

typedef struct {
    stage_kind kind;
    matcher m;
} stage;

static size_t stages_for(rx_tok_pre pre, stage *st)
{
    size_t n = 0;
    switch (pre) {
    case RX_PRE_GPT2:
        st[n++] = (stage){ST_GPT2, NULL};
        break;
    case RX_PRE_LLAMA3:
        st[n++] = (stage){ST_LLAMA3, NULL};
        break;
    case RX_PRE_FALCON:
        st[n++] = (stage){ST_REGEX, m_falcon_punct};
        st[n++] = (stage){ST_GPT2, NULL};
        st[n++] = (stage){ST_REGEX, m_three_digits};
        break;
    case RX_PRE_STARCODER:
        st[n++] = (stage){ST_REGEX, m_number1};
        st[n++] = (stage){ST_GPT2, NULL};
        break;
    case RX_PRE_DEEPSEEK_CODER:
        st[n++] = (stage){ST_REGEX, m_crlf};
        st[n++] = (stage){ST_REGEX, m_sp_letters};
        st[n++] = (stage){ST_REGEX, m_sp_punct};
        st[n++] = (stage){ST_REGEX, m_cjk};
        st[n++] = (stage){ST_REGEX, m_number1};
        break;
    case RX_PRE_DEEPSEEK_LLM:
        st[n++] = (stage){ST_REGEX, m_crlf};
        st[n++] = (stage){ST_REGEX, m_ds_letters};
        st[n++] = (stage){ST_REGEX, m_ds_punct};
        st[n++] = (stage){ST_TRAILING_SPACE, NULL};
        st[n++] = (stage){ST_REGEX, m_cjk};
        st[n++] = (stage){ST_REGEX, m_numbers};
        break;
    case RX_PRE_DEFAULT:
        st[n++] = (stage){ST_REGEX, m_default_punct};
        st[n++] = (stage){ST_GPT2, NULL};
        st[n++] = (stage){ST_REGEX, m_numbers};
        st[n++] = (stage){ST_REGEX, m_three_digits};
        break;
    }
    return n;
}

rx_status rx_tok__pretokenize(rx_tok_pre pre, const uint32_t *cpts, size_t n, size_t **ends,
                              size_t *n_words)
{
    stage st[8];
    size_t n_st = stages_for(pre, st);
    ends_list cur = {0}, next = {0};
    split_ctx x = {cpts, &cur, RX_OK};
    if (n) emit(&x, n);
    for (size_t k = 0; k < n_st && x.s == RX_OK; k++) {
        next.n = 0;
        x.out = &next;
        for (size_t i = 0; i < cur.n; i++) {
            size_t a = i ? cur.v[i - 1] : 0, b = cur.v[i];
            switch (st[k].kind) {
            case ST_REGEX:
                split_regex(&x, a, b, st[k].m);
                break;
            case ST_GPT2:
                split_gpt2(&x, a, b);
                break;
            case ST_LLAMA3:
                split_llama3(&x, a, b);
                break;
            case ST_TRAILING_SPACE:
                split_trailing_space(&x, a, b);
                break;
            }
        }
        ends_list t = cur;
        cur = next;
        next = t;
    }
    free(next.v);
    if (x.s != RX_OK) {
        free(cur.v);
        return x.s;
    }
    *ends = cur.v;
    *n_words = cur.n;
    return RX_OK;
}
