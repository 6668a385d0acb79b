/* SPDX-License-Identifier: MIT */
/* Record indexes through the C API: dense indexes in refs, the first_index
 * option, nwal_log_state_get after appends, sync, durable appends and a
 * reopen, reads by index (nwal_read_range) and replay from an index
 * (nwal_iter_open_at) across sealed segments, and their bad inputs. */
#include "check.h"

#include <inttypes.h>

static const int64_t T = 1711234567890;

static nwal_log_state state_of(nwal *w) {
  nwal_log_state s;
  memset(&s, 0x5a, sizeof s);
  CHECK_OK(nwal_log_state_get(w, &s));
  for (int i = 0; i < 5; i++) CHECK(s.reserved[i] == 0);
  return s;
}

static void check_state(nwal *w, uint64_t first, uint64_t last, uint64_t durable) {
  nwal_log_state s = state_of(w);
  if (s.first_index != first || s.last_index != last || s.durable_index != durable) {
    fprintf(stderr, "log state %" PRIu64 "/%" PRIu64 "/%" PRIu64 ", expected %" PRIu64
            "/%" PRIu64 "/%" PRIu64 "\n", s.first_index, s.last_index, s.durable_index,
            first, last, durable);
    exit(1);
  }
}

/* Records 100..104 hold "a".."e" (one byte each). */
static void range_reads(nwal *w) {
  nwal_record recs[8];
  nwal_entry_ref refs[8];
  size_t n = 77;
  nwal_read_buf *buf = NULL;
  CHECK_OK(nwal_read_range(w, 101, 8, UINT64_MAX, recs, refs, &n, &buf));
  CHECK(n == 4);
  for (size_t i = 0; i < n; i++) {
    CHECK(refs[i].index == 101 + i);
    CHECK(recs[i].content_len == 1 && recs[i].content[0] == (uint8_t)('b' + i));
  }
  nwal_read_buf_free(buf);
  /* The byte budget: one byte each; always at least one record. */
  CHECK_OK(nwal_read_range(w, 100, 8, 2, recs, NULL, &n, &buf));
  CHECK(n == 2);
  nwal_read_buf_free(buf);
  CHECK_OK(nwal_read_range(w, 100, 8, 0, recs, NULL, &n, &buf));
  CHECK(n == 1);
  nwal_read_buf_free(buf);
  /* Bad inputs: nothing written. */
  buf = (nwal_read_buf *)0x1;
  n = 77;
  CHECK_STATUS(nwal_read_range(w, 99, 8, 100, recs, refs, &n, &buf), NWAL_ERR_NOT_FOUND);
  CHECK_STATUS(nwal_read_range(w, 105, 8, 100, recs, refs, &n, &buf), NWAL_ERR_NOT_FOUND);
  CHECK_STATUS(nwal_read_range(w, 100, 0, 100, recs, refs, &n, &buf), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_read_range(NULL, 100, 8, 100, recs, refs, &n, &buf), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_read_range(w, 100, 8, 100, NULL, refs, &n, &buf), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_read_range(w, 100, 8, 100, recs, refs, NULL, &buf), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_read_range(w, 100, 8, 100, recs, refs, &n, NULL), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(n == 77 && buf == (nwal_read_buf *)0x1);
}

static void iter_at(nwal *w) {
  nwal_iter *it = NULL;
  nwal_record rec;
  nwal_entry_ref ref;
  CHECK_OK(nwal_iter_open_at(w, 102, &it));
  for (uint64_t i = 102; i <= 104; i++) {
    CHECK_OK(nwal_iter_next(it, &rec, &ref));
    CHECK(ref.index == i && rec.content[0] == (uint8_t)('a' + (i - 100)));
  }
  CHECK_STATUS(nwal_iter_next(it, &rec, &ref), NWAL_DONE);
  nwal_iter_free(it);
  /* One past the end: done until a record is appended, then that record. */
  CHECK_OK(nwal_iter_open_at(w, 105, &it));
  CHECK_STATUS(nwal_iter_next(it, &rec, &ref), NWAL_DONE);
  nwal_entry_ref added;
  CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)"f", 1, T + 3600 * 1000, 0, &added));
  CHECK(added.index == 105);
  CHECK_OK(nwal_iter_next(it, &rec, &ref));
  CHECK(ref.index == 105 && ref.segment_id == added.segment_id && rec.content[0] == 'f');
  nwal_iter_free(it);
  /* Bad inputs. */
  it = (nwal_iter *)0x1;
  CHECK_STATUS(nwal_iter_open_at(w, 99, &it), NWAL_ERR_NOT_FOUND);
  CHECK_STATUS(nwal_iter_open_at(w, 107, &it), NWAL_ERR_NOT_FOUND);
  CHECK_STATUS(nwal_iter_open_at(NULL, 100, &it), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(it == (nwal_iter *)0x1);
  CHECK_STATUS(nwal_iter_open_at(w, 100, NULL), NWAL_ERR_INVALID_ARGUMENT);
}

int main(void) {
  char dir[300];
  test_path(dir, sizeof dir, "wal");
  nwal_options o = nwal_options_default();
  CHECK(o.first_index == 1);
  o.first_index = 0;
  nwal *w = NULL;
  CHECK_STATUS(nwal_open(dir, "s", &o, &w), NWAL_ERR_INVALID_CONFIG);
  CHECK(strstr(nwal_last_error_message(), "first_index") != NULL);
  CHECK(w == NULL);

  o.first_index = 100;
  CHECK_OK(nwal_open(dir, "s", &o, &w));
  check_state(w, 100, 99, 99);

  nwal_entry_ref one, batch[3];
  CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)"a", 1, T, 0, &one));
  CHECK(one.index == 100);
  check_state(w, 100, 100, 99);
  nwal_write_entry e[3] = {{NULL, 0, (const uint8_t *)"b", 1},
                           {NULL, 0, (const uint8_t *)"c", 1},
                           {NULL, 0, (const uint8_t *)"d", 1}};
  CHECK_OK(nwal_append_batch(w, e, 3, T, 0, batch));
  for (int i = 0; i < 3; i++) CHECK(batch[i].index == 101 + (uint64_t)i);
  check_state(w, 100, 103, 99);
  CHECK_OK(nwal_sync(w));
  check_state(w, 100, 103, 103);
  CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)"e", 1, T, NWAL_DURABLE, &one));
  CHECK(one.index == 104);
  check_state(w, 100, 104, 104);

  /* Bad inputs: nothing written. */
  nwal_log_state untouched;
  memset(&untouched, 0x5a, sizeof untouched);
  nwal_log_state copy = untouched;
  CHECK_STATUS(nwal_log_state_get(NULL, &copy), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(memcmp(&copy, &untouched, sizeof copy) == 0);
  CHECK_STATUS(nwal_log_state_get(w, NULL), NWAL_ERR_INVALID_ARGUMENT);

  /* A ref read with another index does not verify; one outside is not found. */
  nwal_record rec;
  nwal_read_buf *buf = NULL;
  nwal_entry_ref wrong = batch[1];
  wrong.index = batch[2].index;
  CHECK_STATUS(nwal_read_batch(w, &wrong, 1, &rec, &buf), NWAL_ERR_CORRUPTED_DATA);
  wrong.index = 105;
  CHECK_STATUS(nwal_read_batch(w, &wrong, 1, &rec, &buf), NWAL_ERR_NOT_FOUND);
  CHECK(buf == NULL);

  range_reads(w);
  iter_at(w);

  /* After shutdown the state is still there; a reopen keeps the indexes
   * (the option applies only when the stream is created). */
  CHECK_OK(nwal_shutdown(w));
  check_state(w, 100, 105, 105);
  nwal_close(w);
  o.first_index = 7;
  CHECK_OK(nwal_open(dir, "s", &o, &w));
  check_state(w, 100, 105, 105);
  CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)"g", 1, T + 3600 * 1000, 0, &one));
  CHECK(one.index == 106);
  /* Across the sealed segment (its footer) and the newest one. */
  nwal_record recs[7];
  size_t n = 0;
  nwal_read_buf *rb = NULL;
  CHECK_OK(nwal_read_range(w, 100, 7, UINT64_MAX, recs, NULL, &n, &rb));
  CHECK(n == 7);
  for (size_t i = 0; i < n; i++) CHECK(recs[i].content[0] == (uint8_t)('a' + i));
  nwal_read_buf_free(rb);
  nwal_close(w);
  return 0;
}
