/* SPDX-License-Identifier: MIT */
/* The bad-input matrix: every NULL argument of every function, NULL buffers
 * with non-zero lengths, oversized headers, zero-count batches, bad refs,
 * bad packed spans, unknown flags, stream names that could escape the
 * directory, a directory that is a file. Each call returns its code with a
 * non-empty message, writes no output, and leaves the log intact. */
#include "check.h"

#include <stdint.h>

static nwal *w;
static nwal_entry_ref good[3];
static const char *contents[3] = {"alpha", "beta", "gamma"};
static const int64_t T = 1711234567890;

/* The log holds exactly the three records it was set up with. */
static void log_intact(int line) {
  nwal_iter *it = NULL;
  nwal_record r;
  nwal_entry_ref ref;
  if (nwal_iter_open(w, NULL, &it) != NWAL_OK) {
    fprintf(stderr, "line %d: log not intact: %s\n", line, nwal_last_error_message());
    exit(1);
  }
  for (int i = 0; i < 3; i++) {
    if (nwal_iter_next(it, &r, &ref) != NWAL_OK || !record_is(&r, "h", contents[i]) ||
        ref.offset != good[i].offset) {
      fprintf(stderr, "line %d: log not intact at record %d\n", line, i);
      exit(1);
    }
  }
  if (nwal_iter_next(it, &r, &ref) != NWAL_DONE) {
    fprintf(stderr, "line %d: log has extra records\n", line);
    exit(1);
  }
  nwal_iter_free(it);
}

/* The call must fail with `code`, a message naming the problem, and leave
 * the log intact. */
#define BAD(call, code)         \
  do {                          \
    CHECK_STATUS(call, code);   \
    log_intact(__LINE__);       \
  } while (0)

static void bad_open(const char *dir) {
  nwal *out = NULL;
  BAD(nwal_open(NULL, "s", NULL, &out), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nwal_last_error_message(), "dir") != NULL);
  BAD(nwal_open(dir, NULL, NULL, &out), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nwal_last_error_message(), "stream") != NULL);
  BAD(nwal_open(dir, "s", NULL, NULL), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nwal_last_error_message(), "out") != NULL);

  /* Stream names that could escape the directory, or are not allowed. */
  char long_name[202];
  memset(long_name, 'x', 201);
  long_name[201] = '\0';
  const char *names[] = {"a/b", "..", ".", "../escape", "/abs", "", ".hidden",
                         "sp ace", "\xff\xfe", "a\\b", long_name};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    BAD(nwal_open(dir, names[i], NULL, &out), NWAL_ERR_INVALID_ARGUMENT);
    CHECK(strstr(nwal_last_error_message(), "stream name") != NULL);
  }
  CHECK(out == NULL);
  /* Nothing was created next to the directory. */
  char escaped[400];
  struct stat st;
  snprintf(escaped, sizeof escaped, "%s/escape.lock", test_dir());
  CHECK(stat(escaped, &st) != 0);
  /* 200 bytes is the longest allowed name. */
  long_name[200] = '\0';
  CHECK_OK(nwal_open(dir, long_name, NULL, &out));
  CHECK_OK(nwal_close(out));
  out = NULL;

  /* A directory that is a file. */
  char file[300];
  test_path(file, sizeof file, "a-file");
  FILE *f = fopen(file, "w");
  CHECK(f != NULL);
  fclose(f);
  BAD(nwal_open(file, "s", NULL, &out), NWAL_ERR_INVALID_CONFIG);
  CHECK(out == NULL);
}

static void bad_append(void) {
  nwal_entry_ref ref = {77, 77, 77, 77};
  const uint8_t *c = (const uint8_t *)"content";
  BAD(nwal_append(NULL, NULL, 0, c, 7, T, 0, &ref), NWAL_ERR_INVALID_ARGUMENT);
  BAD(nwal_append(w, NULL, 0, NULL, 7, T, 0, &ref), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nwal_last_error_message(), "content is NULL") != NULL);
  BAD(nwal_append(w, NULL, 3, c, 7, T, 0, &ref), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nwal_last_error_message(), "header is NULL") != NULL);
  BAD(nwal_append(w, NULL, 0, c, 7, T, 2, &ref), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nwal_last_error_message(), "flag") != NULL);
  BAD(nwal_append(w, NULL, 0, c, 7, T, NWAL_DURABLE | 0x80000000u, &ref), NWAL_ERR_INVALID_ARGUMENT);
  static uint8_t big[65536];
  BAD(nwal_append(w, big, sizeof big, c, 7, T, 0, &ref), NWAL_ERR_HEADER_TOO_LARGE);
  /* A time whose window's expiration overflows int64. */
  BAD(nwal_append(w, NULL, 0, c, 7, INT64_MAX, 0, &ref), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(ref.segment_id == 77 && ref.offset == 77 && ref.size == 77); /* untouched */
}

static void bad_batches(void) {
  nwal_entry_ref refs[3] = {{77, 77, 77, 77}, {77, 77, 77, 77}, {77, 77, 77, 77}};
  const uint8_t *c = (const uint8_t *)"content";
  nwal_write_entry ok = {NULL, 0, c, 7};
  BAD(nwal_append_batch(NULL, &ok, 1, T, 0, refs), NWAL_ERR_INVALID_ARGUMENT);
  BAD(nwal_append_batch(w, NULL, 1, T, 0, refs), NWAL_ERR_INVALID_ARGUMENT);
  BAD(nwal_append_batch(w, &ok, 1, T, 4, refs), NWAL_ERR_INVALID_ARGUMENT);
  /* One bad entry fails the whole batch: nothing of it is appended. */
  nwal_write_entry mixed[3] = {ok, {NULL, 0, NULL, 5}, ok};
  BAD(nwal_append_batch(w, mixed, 3, T, 0, refs), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nwal_last_error_message(), "entries[1].content") != NULL);
  mixed[1] = (nwal_write_entry){NULL, 9, c, 7};
  BAD(nwal_append_batch(w, mixed, 3, T, 0, refs), NWAL_ERR_INVALID_ARGUMENT);
  static uint8_t big[65536];
  mixed[1] = (nwal_write_entry){big, sizeof big, c, 7};
  BAD(nwal_append_batch(w, mixed, 3, T, 0, refs), NWAL_ERR_HEADER_TOO_LARGE);
  /* Zero-count batches are OK and do nothing. */
  CHECK_OK(nwal_append_batch(w, NULL, 0, T, 0, NULL));
  CHECK_OK(nwal_append_batch(w, mixed, 0, T, 0, refs));
  log_intact(__LINE__);

  /* Packed spans. */
  const uint8_t buf[] = "0123456789";
  nwal_span s = {.content_off = 0, .content_len = 10};
  BAD(nwal_append_batch_packed(NULL, buf, 10, &s, 1, T, 0, refs), NWAL_ERR_INVALID_ARGUMENT);
  BAD(nwal_append_batch_packed(w, NULL, 10, &s, 1, T, 0, refs), NWAL_ERR_INVALID_ARGUMENT);
  BAD(nwal_append_batch_packed(w, buf, 10, NULL, 1, T, 0, refs), NWAL_ERR_INVALID_ARGUMENT);
  BAD(nwal_append_batch_packed(w, buf, 10, &s, 1, T, 8, refs), NWAL_ERR_INVALID_ARGUMENT);
  nwal_span bad_spans[] = {
      {.content_off = 0, .content_len = 11},                      /* past the end */
      {.content_off = 5, .content_len = 6},                       /* straddles the end */
      {.content_off = UINT64_MAX, .content_len = 2},              /* offset overflow */
      {.content_off = 1, .content_len = UINT64_MAX},              /* length overflow */
      {.has_header = 1, .header_off = 9, .header_len = 2},        /* header past the end */
      {.has_header = 0, .header_len = 1},                         /* length without header */
      {.has_header = 2, .content_len = 1},                        /* not a boolean */
      {.reserved = 1, .content_len = 1},                          /* reserved must be 0 */
  };
  for (size_t i = 0; i < sizeof bad_spans / sizeof bad_spans[0]; i++) {
    nwal_span two[2] = {s, bad_spans[i]};
    BAD(nwal_append_batch_packed(w, buf, 10, two, 2, T, 0, refs), NWAL_ERR_INVALID_ARGUMENT);
    CHECK(strstr(nwal_last_error_message(), "spans[1]") != NULL);
  }
  CHECK_OK(nwal_append_batch_packed(w, NULL, 0, NULL, 0, T, 0, NULL));
  log_intact(__LINE__);
  for (int i = 0; i < 3; i++) CHECK(refs[i].segment_id == 77); /* untouched */
}

static void bad_reads(void) {
  nwal_record recs[3];
  nwal_read_buf *buf = (nwal_read_buf *)0x1; /* must stay untouched on failure */
  BAD(nwal_read_batch(NULL, good, 3, recs, &buf), NWAL_ERR_INVALID_ARGUMENT);
  BAD(nwal_read_batch(w, NULL, 3, recs, &buf), NWAL_ERR_INVALID_ARGUMENT);
  BAD(nwal_read_batch(w, good, 3, NULL, &buf), NWAL_ERR_INVALID_ARGUMENT);
  BAD(nwal_read_batch(w, good, 3, recs, NULL), NWAL_ERR_INVALID_ARGUMENT);
  BAD(nwal_read_batch(w, NULL, 0, NULL, NULL), NWAL_ERR_INVALID_ARGUMENT);

  /* Refs with a wrong segment, offset, size or index; one bad ref fails the call. */
  struct {
    nwal_entry_ref ref;
    nwal_status code;
  } cases[] = {
      {{good[1].segment_id + 100, good[1].offset, good[1].size, good[1].index}, NWAL_ERR_NOT_FOUND},
      {{good[1].segment_id, good[1].offset, 0, good[1].index}, NWAL_ERR_INVALID_ARGUMENT},
      {{good[1].segment_id, good[2].offset + good[2].size, 30, good[1].index}, NWAL_ERR_INVALID_ARGUMENT},
      {{good[1].segment_id, UINT64_MAX - 5, 30, good[1].index}, NWAL_ERR_INVALID_ARGUMENT},
      {{good[1].segment_id, good[1].offset, UINT64_MAX, good[1].index}, NWAL_ERR_INVALID_ARGUMENT},
      {{good[1].segment_id, good[1].offset + 1, good[1].size, good[1].index}, NWAL_ERR_CORRUPTED_DATA},
      {{good[1].segment_id, good[1].offset - 1, good[1].size, good[1].index}, NWAL_ERR_CORRUPTED_DATA},
      {{good[1].segment_id, good[1].offset, good[1].size - 1, good[1].index}, NWAL_ERR_CORRUPTED_DATA},
      {{good[1].segment_id, good[1].offset, good[1].size + 1, good[1].index}, NWAL_ERR_CORRUPTED_DATA},
      {{good[1].segment_id, 0, good[1].size, good[1].index}, NWAL_ERR_CORRUPTED_DATA},
      {{good[1].segment_id, good[1].offset, good[1].size, good[1].index + 1}, NWAL_ERR_CORRUPTED_DATA},
      {{good[1].segment_id, good[1].offset, good[1].size, 0}, NWAL_ERR_NOT_FOUND},
      {{good[1].segment_id, good[1].offset, good[1].size, UINT64_MAX}, NWAL_ERR_NOT_FOUND},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    nwal_entry_ref refs[3] = {good[0], cases[i].ref, good[2]};
    BAD(nwal_read_batch(w, refs, 3, recs, &buf), cases[i].code);
    CHECK(buf == (nwal_read_buf *)0x1);
    /* Alone (the single-read path): the same status, nothing written. */
    BAD(nwal_read_batch(w, &cases[i].ref, 1, recs, &buf), cases[i].code);
    CHECK(buf == (nwal_read_buf *)0x1);
    /* The same ref as a replay start. */
    nwal_iter *it = (nwal_iter *)0x1;
    nwal_status s = nwal_iter_open(w, &cases[i].ref, &it);
    if (s == NWAL_OK) {
      /* Opening checks only the range; the first step finds the bad ref. */
      nwal_record r;
      CHECK(cases[i].code == NWAL_ERR_CORRUPTED_DATA);
      CHECK_STATUS(nwal_iter_next(it, &r, NULL), NWAL_ERR_CORRUPTED_DATA);
      nwal_iter_free(it);
    } else {
      CHECK_STATUS(s, cases[i].code);
      CHECK(it == (nwal_iter *)0x1);
    }
    log_intact(__LINE__);
  }
  /* Zero refs: OK, *out_buf set to NULL. */
  CHECK_OK(nwal_read_batch(w, NULL, 0, NULL, &buf));
  CHECK(buf == NULL);
  nwal_read_buf_free(NULL);
}

static void bad_iter_and_others(void) {
  nwal_iter *it = NULL;
  nwal_record r;
  nwal_entry_ref ref;
  BAD(nwal_iter_open(NULL, NULL, &it), NWAL_ERR_INVALID_ARGUMENT);
  BAD(nwal_iter_open(w, NULL, NULL), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(it == NULL);
  BAD(nwal_iter_next(NULL, &r, &ref), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_OK(nwal_iter_open(w, NULL, &it));
  BAD(nwal_iter_next(it, NULL, &ref), NWAL_ERR_INVALID_ARGUMENT);
  /* The iterator is still usable after a refused call. */
  CHECK_OK(nwal_iter_next(it, &r, NULL));
  CHECK(record_is(&r, "h", contents[0]));
  nwal_iter_free(it);
  nwal_iter_free(NULL);

  BAD(nwal_sync(NULL), NWAL_ERR_INVALID_ARGUMENT);
  nwal_cleanup_result res = {.deleted_segments = 7, .bytes_reclaimed = 7, .live_segments = 7};
  BAD(nwal_cleanup(NULL, T, &res), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(res.deleted_segments == 7);
  BAD(nwal_shutdown(NULL), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_OK(nwal_close(NULL));
  /* The message names the function. */
  BAD(nwal_sync(NULL), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nwal_last_error_message(), "nwal_sync") != NULL);
  CHECK(nwal_last_os_error() == 0);
}

int main(void) {
  char dir[300];
  test_path(dir, sizeof dir, "wal");
  CHECK_OK(nwal_open(dir, "bad-input", NULL, &w));
  for (int i = 0; i < 3; i++)
    CHECK_OK(nwal_append(w, (const uint8_t *)"h", 1, (const uint8_t *)contents[i],
                         strlen(contents[i]), T, 0, &good[i]));
  log_intact(__LINE__);

  bad_open(dir);
  bad_append();
  bad_batches();
  bad_reads();
  bad_iter_and_others();

  /* Still intact after closing and reopening. */
  CHECK_OK(nwal_close(w));
  CHECK_OK(nwal_open(dir, "bad-input", NULL, &w));
  log_intact(__LINE__);
  CHECK_OK(nwal_close(w));
  printf("test_bad_input: OK\n");
  return 0;
}
