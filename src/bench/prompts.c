/* Prompts for the load generator: deterministic synthetic text of a given length (seeded word
 * draws; the token heuristic is in loadgen.h) or a JSON-lines dataset file. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/internal.h"
#include "reflex/loadgen.h"

/* Common short English words: each is one token (with its leading space) in the large BPE
 * vocabularies that served models use, and they read as plain text to any tokenizer. */
static const char *const words[] = {
    "the",      "of",      "and",    "to",        "in",        "is",       "was",    "that",
    "for",      "on",      "with",   "as",        "it",        "his",      "at",     "by",
    "from",     "he",      "she",    "they",      "this",      "had",      "not",    "are",
    "but",      "one",     "all",    "were",      "we",        "when",     "there",  "can",
    "an",       "which",   "their",  "said",      "if",        "do",       "will",   "each",
    "about",    "how",     "up",     "out",       "them",      "then",     "many",   "some",
    "so",       "these",   "would",  "other",     "into",      "has",      "more",   "her",
    "two",      "like",    "him",    "see",       "time",      "could",    "no",     "make",
    "than",     "first",   "been",   "its",       "who",       "now",      "people", "my",
    "made",     "over",    "did",    "down",      "only",      "way",      "find",   "use",
    "may",      "water",   "long",   "little",    "very",      "after",    "words",  "called",
    "just",     "where",   "most",   "know",      "get",       "through",  "back",   "much",
    "go",       "good",    "new",    "write",     "our",       "used",     "me",     "man",
    "too",      "any",     "day",    "same",      "right",     "look",     "think",  "also",
    "around",   "another", "came",   "come",      "work",      "three",    "word",   "must",
    "because",  "does",    "part",   "even",      "place",     "well",     "such",   "here",
    "take",     "why",     "help",   "put",       "different", "away",     "again",  "off",
    "went",     "old",     "number", "great",     "tell",      "men",      "say",    "small",
    "every",    "found",   "still",  "between",   "name",      "should",   "home",   "big",
    "give",     "air",     "line",   "set",       "own",       "under",    "read",   "last",
    "never",    "us",      "left",   "end",       "along",     "while",    "might",  "next",
    "sound",    "below",   "saw",    "something", "thought",   "both",     "few",    "those",
    "always",   "show",    "large",  "often",     "together",  "asked",    "house",  "world",
    "going",    "want",    "school", "important", "until",     "form",     "food",   "keep",
    "children", "feet",    "land",   "side",      "without",   "boy",      "once",   "animal",
    "life",     "enough",  "took",   "sometimes", "four",      "head",     "above",  "kind",
    "began",    "almost",  "live",   "page",      "got",       "earth",    "need",   "far",
    "hand",     "high",    "year",   "mother",    "light",     "country",  "father", "let",
    "night",    "picture", "being",  "study",     "second",    "soon",     "story",  "since",
    "white",    "ever",    "paper",  "hard",      "near",      "sentence", "better", "best",
};
#define N_WORDS (sizeof words / sizeof words[0])

static char *synth_one(uint64_t seed, int64_t i, int32_t n_words)
{
    size_t cap = (size_t)n_words * 12 + 2, len = 0; /* longest word is under 11 bytes */
    char *s = malloc(cap);
    if (!s) return NULL;
    uint64_t st = seed * 0x100000001b3ull ^ (uint64_t)i * 0x9e3779b97f4a7c15ull;
    for (int32_t w = 0; w < n_words; w++) {
        const char *word = words[rx_bench__next(&st) % N_WORDS];
        size_t n = strlen(word);
        if (w) s[len++] = ' ';
        memcpy(s + len, word, n);
        len += n;
    }
    s[len] = '\0';
    return s;
}

rx_status rx_lg_prompts_synth(uint64_t seed, int64_t n, int32_t prompt_len, int32_t output_len,
                              rx_lg_prompt **out)
{
    *out = NULL;
    if (n <= 0 || prompt_len < 0 || output_len <= 0)
        return rx_error(RX_ERR_INVALID_ARG, "bench: cannot synthesise %lld prompts of %d words",
                        (long long)n, prompt_len);
    rx_lg_prompt *p = calloc((size_t)n, sizeof *p);
    if (!p) return rx_error(RX_ERR_NOMEM, "bench: no memory for %lld prompts", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        p[i].output_len = output_len;
        p[i].text = synth_one(seed, i, prompt_len);
        if (!p[i].text) {
            rx_lg_prompts_free(p, n);
            return rx_error(RX_ERR_NOMEM, "bench: no memory for %lld prompts", (long long)n);
        }
    }
    *out = p;
    return RX_OK;
}

void rx_lg_prompts_free(rx_lg_prompt *p, int64_t n)
{
    if (!p) return;
    for (int64_t i = 0; i < n; i++)
        free(p[i].text);
    free(p);
}

/* One dataset line into p; the message names the file and line on failure. */
static rx_status parse_line(const char *path, int64_t lineno, const char *line, int32_t def_out,
                            rx_lg_prompt *p)
{
    json_error_t jerr;
    json_t *j = json_loads(line, 0, &jerr);
    const char *text = json_string_value(json_object_get(j, "prompt"));
    json_t *ol = json_object_get(j, "output_len");
    rx_status s = RX_OK;
    if (!j)
        s = rx_error(RX_ERR_FORMAT, "%s:%lld: not JSON: %s", path, (long long)lineno, jerr.text);
    else if (!text)
        s = rx_error(RX_ERR_FORMAT, "%s:%lld: no \"prompt\" string", path, (long long)lineno);
    else if (ol && (!json_is_integer(ol) || json_integer_value(ol) <= 0 ||
                    json_integer_value(ol) > 1 << 20))
        s = rx_error(RX_ERR_FORMAT, "%s:%lld: \"output_len\" must be an integer in [1, 1048576]",
                     path, (long long)lineno);
    else if (!(p->text = strdup(text)))
        s = rx_error(RX_ERR_NOMEM, "%s:%lld: no memory", path, (long long)lineno);
    else
        p->output_len = ol ? (int32_t)json_integer_value(ol) : def_out;
    json_decref(j);
    return s;
}

rx_status rx_lg_prompts_load(const char *path, int32_t default_output_len, rx_lg_prompt **out,
                             int64_t *n)
{
    *out = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) return rx_error(RX_ERR_IO, "%s: %s", path, strerror(errno));
    rx_lg_prompt *p = NULL;
    int64_t count = 0, cap = 0, lineno = 0;
    char *line = NULL;
    size_t line_cap = 0;
    rx_status s = RX_OK;
    while (s == RX_OK && getline(&line, &line_cap, f) >= 0) {
        lineno++;
        if (strspn(line, " \t\r\n") == strlen(line)) continue;
        if (count == cap) {
            int64_t nc = cap ? cap * 2 : 64;
            rx_lg_prompt *g = realloc(p, (size_t)nc * sizeof *g);
            if (!g) {
                s = rx_error(RX_ERR_NOMEM, "%s: no memory for %lld prompts", path, (long long)nc);
                break;
            }
            p = g;
            cap = nc;
        }
        p[count].text = NULL;
        s = parse_line(path, lineno, line, default_output_len, &p[count]);
        if (s == RX_OK) count++;
    }
    if (s == RX_OK && ferror(f)) s = rx_error(RX_ERR_IO, "%s: read error", path);
    if (s == RX_OK && count == 0) s = rx_error(RX_ERR_FORMAT, "%s: no prompts", path);
    free(line);
    fclose(f);
    if (s != RX_OK) {
        rx_lg_prompts_free(p, count);
        return s;
    }
    *out = p;
    *n = count;
    return RX_OK;
}
