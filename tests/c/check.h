/* SPDX-License-Identifier: MIT */
/* Tiny test helpers for the C tests: CHECK macros that print the failing
 * expression with the library's status name and message, and a scratch
 * directory removed at exit (on the filesystem NWAL_TEST_FS names, when
 * set). Uses only the public header. */
#ifndef NWAL_TEST_CHECK_H
#define NWAL_TEST_CHECK_H

#define _XOPEN_SOURCE 700
#include <nano_wal.h>

#include <ftw.h>
#include <limits.h>
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

/* Undo mountinfo's octal escapes (\040 for a space, and tab, newline and
 * backslash likewise), in place. */
static inline void nwal_test_unescape_(char *s) {
  char *out = s;
  for (const char *in = s; *in != '\0'; out++) {
    if (in[0] == '\\' && in[1] >= '0' && in[1] <= '7' && in[2] >= '0' && in[2] <= '7' &&
        in[3] >= '0' && in[3] <= '7') {
      *out = (char)(((in[1] - '0') << 6) | ((in[2] - '0') << 3) | (in[3] - '0'));
      in += 4;
    } else {
      *out = *in++;
    }
  }
  *out = '\0';
}

/* The type of the filesystem holding `path`, as /proc/self/mountinfo names
 * it (ext4, xfs, btrfs, tmpfs): that of the mount whose mount point is the
 * longest prefix of the real path (the last one mounted there, when several
 * are). Not a match of st_dev: a btrfs subvolume's differs from the one
 * mountinfo lists. */
static inline void nwal_test_fs_type_(const char *path, char *type, size_t size) {
  char real[PATH_MAX];
  CHECK(realpath(path, real) != NULL);
  FILE *f = fopen("/proc/self/mountinfo", "r");
  CHECK(f != NULL);
  char line[2 * PATH_MAX];
  size_t best = 0;
  snprintf(type, size, "unknown");
  /* ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - TYPE SOURCE ... */
  while (fgets(line, sizeof line, f) != NULL) {
    char point[PATH_MAX], fs[64];
    const char *sep = strstr(line, " - ");
    if (sep == NULL || sscanf(line, "%*s %*s %*s %*s %4095s", point) != 1 ||
        sscanf(sep + 3, "%63s", fs) != 1)
      continue;
    nwal_test_unescape_(point);
    size_t n = strlen(point);
    int holds = strcmp(point, "/") == 0 ||
                (strncmp(real, point, n) == 0 && (real[n] == '\0' || real[n] == '/'));
    if (holds && n >= best) {
      best = n;
      snprintf(type, size, "%s", fs);
    }
  }
  fclose(f);
}

/* A fresh scratch directory for this test process, removed at exit. With
 * NWAL_TEST_FS set, prints the filesystem it is on and fails unless it is
 * that one: a run meant for a filesystem must never quietly fall back to
 * another (an unset TMPDIR means /tmp). */
static inline const char *test_dir(void) {
  if (nwal_test_dir_[0] == '\0') {
    const char *base = getenv("TMPDIR");
    snprintf(nwal_test_dir_, sizeof nwal_test_dir_, "%s/nwal-ctest-XXXXXX",
             base != NULL ? base : "/tmp");
    CHECK(mkdtemp(nwal_test_dir_) != NULL);
    atexit(nwal_test_cleanup_);
    const char *want = getenv("NWAL_TEST_FS");
    if (want != NULL) {
      char type[64];
      nwal_test_fs_type_(nwal_test_dir_, type, sizeof type);
      printf("test directory %s on %s\n", nwal_test_dir_, type);
      fflush(stdout);
      CHECK(strcmp(type, want) == 0);
    }
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
