/* SPDX-License-Identifier: MIT */
/* Truncation and reset through the C API: nwal_truncate_after inside the
 * active segment and across sealed ones, nwal_reset forward and back, what
 * refs, indexes and iterators see afterwards, a reopen, and every bad
 * input (nothing changes). */
#include "check.h"

#include <inttypes.h>

static const int64_t T = 1711234567890;
static const int64_t HOUR = 3600 * 1000;

static void check_bounds(nwal *w, uint64_t first, uint64_t last) {
  nwal_log_state s;
  CHECK_OK(nwal_log_state_get(w, &s));
  if (s.first_index != first || s.last_index != last) {
    fprintf(stderr, "bounds %" PRIu64 "..%" PRIu64 ", expected %" PRIu64 "..%" PRIu64 "\n",
            s.first_index, s.last_index, first, last);
    exit(1);
  }
}

/* Append one byte `c` at time `t`; returns its ref. */
static nwal_entry_ref put(nwal *w, char c, int64_t t) {
  nwal_entry_ref r;
  CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)&c, 1, t, 0, &r));
  return r;
}

/* Record `index` holds the byte `c`. */
static void check_byte(nwal *w, uint64_t index, char c) {
  nwal_record rec;
  size_t n = 0;
  nwal_read_buf *buf = NULL;
  CHECK_OK(nwal_read_range(w, index, 1, 0, &rec, NULL, &n, &buf));
  CHECK(n == 1 && rec.content_len == 1 && rec.content[0] == (uint8_t)c);
  nwal_read_buf_free(buf);
}

/* The ref `r` reads nothing, and an iterator cannot start at it. */
static void check_ref_gone(nwal *w, const nwal_entry_ref *r) {
  nwal_record rec;
  nwal_read_buf *buf = NULL;
  CHECK_STATUS(nwal_read_batch(w, r, 1, &rec, &buf), NWAL_ERR_NOT_FOUND);
  CHECK(buf == NULL);
  nwal_iter *it = NULL;
  CHECK_STATUS(nwal_iter_open(w, r, &it), NWAL_ERR_NOT_FOUND);
  CHECK(it == NULL);
}

/* The ref `r` and its index read nothing. */
static void check_gone(nwal *w, const nwal_entry_ref *r) {
  check_ref_gone(w, r);
  nwal_record rec;
  nwal_read_buf *buf = NULL;
  size_t n = 0;
  CHECK_STATUS(nwal_read_range(w, r->index, 1, 0, &rec, NULL, &n, &buf), NWAL_ERR_NOT_FOUND);
}

int main(void) {
  char dir[300];
  test_path(dir, sizeof dir, "wal");
  nwal_options o = test_options(HOUR, 24 * HOUR);
  nwal *w = NULL;
  CHECK_OK(nwal_open(dir, "s", &o, &w));

  /* Records 1..4 "abcd" in one window, 5..8 "efgh" in the next. */
  nwal_entry_ref refs[9];
  for (int i = 0; i < 8; i++) refs[i + 1] = put(w, (char)('a' + i), T + (i / 4) * HOUR);
  check_bounds(w, 1, 8);

  /* Bad inputs and no-ops change nothing. */
  CHECK_STATUS(nwal_truncate_after(NULL, 3), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_reset(NULL, 3), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_reset(w, 0), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nwal_last_error_message(), "reset(0)") != NULL);
  CHECK_STATUS(nwal_reset(w, UINT64_MAX), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_OK(nwal_truncate_after(w, 8));
  CHECK_OK(nwal_truncate_after(w, UINT64_MAX));
  check_bounds(w, 1, 8);

  /* Inside the active segment: 7 and 8 go, the next append is 7. */
  CHECK_OK(nwal_truncate_after(w, 6));
  check_bounds(w, 1, 6);
  check_gone(w, &refs[7]);
  check_gone(w, &refs[8]);
  nwal_entry_ref again = put(w, 'X', T + HOUR);
  /* In the same segment, after the truncation record: never the same place. */
  CHECK(again.index == 7 && again.segment_id == refs[7].segment_id);
  CHECK(again.offset > refs[8].offset);
  check_ref_gone(w, &refs[7]); /* never the bytes appended since */
  check_byte(w, 7, 'X');

  /* Deferred: the same reads at once; nwal_sync makes it durable. */
  CHECK_STATUS(nwal_truncate_after_deferred(NULL, 6), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_OK(nwal_truncate_after_deferred(w, 6));
  check_bounds(w, 1, 6);
  check_ref_gone(w, &again);
  nwal_entry_ref again2 = put(w, 'Y', T + HOUR);
  CHECK(again2.index == 7 && again2.offset > again.offset);
  check_byte(w, 7, 'Y');
  CHECK_OK(nwal_sync(w));
  again = again2;

  /* Into the sealed segment: 4..7 go, the segment of 5..8 is deleted. */
  CHECK_OK(nwal_truncate_after(w, 3));
  check_bounds(w, 1, 3);
  check_gone(w, &refs[5]);
  check_gone(w, &again);
  for (int i = 1; i <= 3; i++) check_byte(w, (uint64_t)i, (char)('a' + i - 1));

  /* An iterator at the end (a follower) past a later cut ends not found. */
  nwal_iter *it = NULL;
  nwal_record rec;
  nwal_entry_ref ref;
  CHECK_OK(nwal_iter_open_at(w, 4, &it));
  CHECK_STATUS(nwal_iter_next(it, &rec, &ref), NWAL_DONE);
  CHECK_OK(nwal_truncate_after(w, 1));
  CHECK_STATUS(nwal_iter_next(it, &rec, &ref), NWAL_ERR_NOT_FOUND);
  nwal_iter_free(it);
  check_bounds(w, 1, 1);
  CHECK_STATUS(nwal_truncate_after(w, 0), NWAL_OK);
  check_bounds(w, 1, 0);

  /* Reset forward, then a reopen keeps it. */
  CHECK_OK(nwal_reset(w, 1000));
  check_bounds(w, 1000, 999);
  CHECK(put(w, 'r', T + 2 * HOUR).index == 1000);
  CHECK_OK(nwal_shutdown(w));
  CHECK_STATUS(nwal_truncate_after(w, 999), NWAL_ERR_SHUTDOWN);
  CHECK_STATUS(nwal_reset(w, 5), NWAL_ERR_SHUTDOWN);
  nwal_close(w);
  CHECK_OK(nwal_open(dir, "s", &o, &w));
  check_bounds(w, 1000, 1000);
  check_byte(w, 1000, 'r');
  CHECK_STATUS(nwal_truncate_after(w, 998), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nwal_last_error_message(), "999") != NULL);

  /* Purge: no-ops, past the end, then the head dropped inside a segment
   * and everything. */
  for (int i = 0; i < 4; i++) put(w, (char)('t' + i), T + 3 * HOUR); /* 1001..1004 */
  check_bounds(w, 1000, 1004);
  CHECK_STATUS(nwal_purge_before(NULL, 1002), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_purge_before(w, 1006), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nwal_last_error_message(), "1005") != NULL);
  CHECK_OK(nwal_purge_before(w, 1000));
  CHECK_OK(nwal_purge_before(w, 7));
  check_bounds(w, 1000, 1004);
  CHECK_OK(nwal_purge_before(w, 1002));
  check_bounds(w, 1002, 1004);
  nwal_record rec1;
  size_t n1 = 0;
  nwal_read_buf *b1 = NULL;
  CHECK_STATUS(nwal_read_range(w, 1001, 1, 0, &rec1, NULL, &n1, &b1), NWAL_ERR_NOT_FOUND);
  CHECK_STATUS(nwal_iter_open_at(w, 1001, &it), NWAL_ERR_NOT_FOUND);
  CHECK_OK(nwal_iter_open(w, NULL, &it)); /* from the start: the first index left */
  CHECK_OK(nwal_iter_next(it, &rec, &ref));
  CHECK(ref.index == 1002 && rec.content[0] == 'u');
  nwal_iter_free(it);
  nwal_close(w);
  CHECK_OK(nwal_open(dir, "s", &o, &w));
  check_bounds(w, 1002, 1004);
  check_byte(w, 1003, 'v');

  /* A deferred purge: the same checks and the same reads; nwal_sync (and
   * the close) make it durable. */
  CHECK_STATUS(nwal_purge_before_deferred(NULL, 1003), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_purge_before_deferred(w, 1006), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nwal_last_error_message(), "1005") != NULL);
  CHECK_OK(nwal_purge_before_deferred(w, 1001));
  check_bounds(w, 1002, 1004);
  CHECK_OK(nwal_purge_before_deferred(w, 1003));
  check_bounds(w, 1003, 1004);
  CHECK_STATUS(nwal_read_range(w, 1002, 1, 0, &rec1, NULL, &n1, &b1), NWAL_ERR_NOT_FOUND);
  CHECK_OK(nwal_sync(w));
  nwal_close(w);
  CHECK_OK(nwal_open(dir, "s", &o, &w));
  check_bounds(w, 1003, 1004);
  CHECK_OK(nwal_purge_before(w, 1005));
  check_bounds(w, 1005, 1004);
  CHECK(put(w, 'p', T + 3 * HOUR).index == 1005);

  /* Reset back below the first index. */
  CHECK_OK(nwal_reset(w, 10));
  check_bounds(w, 10, 9);
  CHECK(put(w, 's', T + 2 * HOUR).index == 10);
  nwal_close(w);
  CHECK_OK(nwal_open(dir, "s", &o, &w));
  check_bounds(w, 10, 10);
  check_byte(w, 10, 's');
  nwal_close(w);
  return 0;
}
