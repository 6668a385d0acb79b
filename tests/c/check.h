/* SPDX-License-Identifier: MIT */
/* Tiny test helpers for the C tests: CHECK macros that print the failing
 * expression with the library's status name and message, and a scratch
 * directory removed at exit. Uses only the public header. */
#ifndef NWAL_TEST_CHECK_H
#define NWAL_TEST_CHECK_H

#define _XOPEN_SOURCE 700
#include <nano_wal.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
      exit(1);                                                                   \
    }                                                                            \
  } while (0)

/* `call` must return `expected`; a failure status must come with a message. */
#define CHECK_STATUS(call, expected)                                             \
  do {                                                                           \
    nwal_status got_ = (call);                                                   \
    nwal_status want_ = (expected);                                              \
    if (got_ != want_) {                                                         \
      fprintf(stderr, "%s:%d: %s\n  returned %s, expected %s\n  message: %s\n",  \
              __FILE__, __LINE__, #call, nwal_status_name(got_),                 \
              nwal_status_name(want_), nwal_last_error_message());               \
      exit(1);                                                                   \
    }                                                                            \
    if (want_ != NWAL_OK && want_ < NWAL_DONE &&                                   \
        nwal_last_error_message()[0] == '\0') {                                  \
      fprintf(stderr, "%s:%d: %s returned %s with an empty message\n",           \
              __FILE__, __LINE__, #call, nwal_status_name(got_));                \
      exit(1);                                                                   \
    }                                                                            \
  } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, NWAL_OK)

static char nwal_test_dir_[256];

static inline int nwal_test_rm_(const char *path, const struct stat *sb, int flag,
                         struct FTW *ftw) {
  (void)sb; (void)flag; (void)ftw;
  return remove(path);
}

static inline void nwal_test_cleanup_(void) {
  if (nwal_test_dir_[0] != '\0' && getenv("NWAL_KEEP_TEST_DIR") == NULL)
    nftw(nwal_test_dir_, nwal_test_rm_, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh scratch directory for this test process, removed at exit. */
static inline const char *test_dir(void) {
  if (nwal_test_dir_[0] == '\0') {
    const char *base = getenv("TMPDIR");
    snprintf(nwal_test_dir_, sizeof nwal_test_dir_, "%s/nwal-ctest-XXXXXX",
             base != NULL ? base : "/tmp");
    CHECK(mkdtemp(nwal_test_dir_) != NULL);
    atexit(nwal_test_cleanup_);
  }
  return nwal_test_dir_;
}

/* `test_dir()/name`, in a static buffer per call site's `buf`. */
static inline const char *test_path(char *buf, size_t len, const char *name) {
  snprintf(buf, len, "%s/%s", test_dir(), name);
  return buf;
}

/* Options with short windows for tests that exercise rotation and cleanup. */
static inline nwal_options test_options(uint64_t segment_ms, uint64_t retention_ms) {
  nwal_options o = nwal_options_default();
  o.segment_duration_ms = segment_ms;
  o.retention_ms = retention_ms;
  return o;
}

/* Lay out `n` entries as nwal_append_batch_packed takes them: their headers
 * and contents copied into `packed` (which has room for all of them), one
 * span each in `spans` (an entry with a non-NULL header has a header,
 * possibly empty). Returns the bytes of `packed` used. */
static inline size_t pack_entries(const nwal_write_entry *e, size_t n, uint8_t *packed,
                                  nwal_span *spans) {
  size_t used = 0;
  for (size_t k = 0; k < n; k++) {
    memset(&spans[k], 0, sizeof spans[k]);
    spans[k].has_header = e[k].header != NULL;
    spans[k].header_off = used;
    spans[k].header_len = e[k].header_len;
    if (e[k].header_len > 0) memcpy(packed + used, e[k].header, e[k].header_len);
    used += e[k].header_len;
    spans[k].content_off = used;
    spans[k].content_len = e[k].content_len;
    if (e[k].content_len > 0) memcpy(packed + used, e[k].content, e[k].content_len);
    used += e[k].content_len;
  }
  return used;
}

/* True when record `r` holds exactly `content` (and header `h`, NULL = none). */
static inline int record_is(const nwal_record *r, const char *h, const char *content) {
  size_t clen = strlen(content);
  if (r->content_len != clen || memcmp(r->content, content, clen) != 0) return 0;
  if (h == NULL) return r->header == NULL && r->header_len == 0;
  return r->header != NULL && r->header_len == strlen(h) &&
         memcmp(r->header, h, r->header_len) == 0;
}

#endif
