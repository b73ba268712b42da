/* Shared helpers for reflex's cmocka tests: where ../shared is, reading files and JSON lines. */
#ifndef RX_TEST_SUPPORT_H
#define RX_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* "<RX_SHARED>/<rel>" in a static buffer (valid until the next call). */
const char *rxt_shared(const char *rel);

/* The reflex binary (RX_BIN) and the source tree (RX_SRC). */
const char *rxt_bin(void);

/* Reads a whole file into a malloc'd NUL-terminated buffer; NULL if unreadable. */
char *rxt_read_file(const char *path, size_t *size);

/* A fresh temporary directory for this test process (created on first use). */
const char *rxt_tmpdir(void);

/* Replays a fuzz corpus through a libFuzzer entry point inside the normal suite: every file in
 * <RX_SRC>/fuzz/corpus/<name>, each of its truncations, and five single-byte changes (0x00,
 * 0xff, '\n', '\r', +1) at every offset. Fails the test when the folder holds fewer than min_files. */
void rxt_replay_corpus(const char *name, int (*fuzz_one)(const uint8_t *, size_t), int min_files);

#endif
