/* SPDX-License-Identifier: MIT */
/* Iteration and replay: the whole log in order across segments, replay
 * from a ref (inclusive), an iterator that follows appends made after it was
 * opened, record memory kept until the next call, and an iterator that
 * outlives nwal_close. */
#include "check.h"

int main(void) {
  char dir[300];
  test_path(dir, sizeof dir, "wal");
  /* 1-second windows: records at t, t+1000, t+2000 go to three segments. */
  nwal_options o = test_options(1000, 60000);
  nwal *w = NULL;
  CHECK_OK(nwal_open(dir, "it", &o, &w));

  /* Empty log: NWAL_DONE at once, and DONE again after that. */
  nwal_iter *it = NULL;
  nwal_record r;
  nwal_entry_ref ref;
  CHECK_OK(nwal_iter_open(w, NULL, &it));
  CHECK_STATUS(nwal_iter_next(it, &r, &ref), NWAL_DONE);
  CHECK_STATUS(nwal_iter_next(it, &r, &ref), NWAL_DONE);
  nwal_iter_free(it);

  const int64_t t0 = 1000000;
  nwal_entry_ref refs[9];
  char content[9][16];
  for (int i = 0; i < 9; i++) {
    int len = snprintf(content[i], sizeof content[i], "rec-%d", i);
    CHECK_OK(nwal_append(w, (const uint8_t *)"h", 1, (const uint8_t *)content[i], (size_t)len,
                         t0 + (i / 3) * 1000, 0, &refs[i]));
  }
  CHECK(refs[0].segment_id < refs[3].segment_id && refs[3].segment_id < refs[6].segment_id);

  /* Whole log, in order, with the refs the appends returned. */
  CHECK_OK(nwal_iter_open(w, NULL, &it));
  for (int i = 0; i < 9; i++) {
    CHECK_OK(nwal_iter_next(it, &r, &ref));
    CHECK(ref.segment_id == refs[i].segment_id && ref.offset == refs[i].offset &&
          ref.size == refs[i].size);
    CHECK(record_is(&r, "h", content[i]));
  }

  /* Until it has returned NWAL_DONE, the iterator follows the log: a record
   * appended now is returned next. Once done, it stays done. */
  nwal_entry_ref late;
  CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)"late", 4, t0 + 2000, 0, &late));
  CHECK_OK(nwal_iter_next(it, &r, &ref));
  CHECK(record_is(&r, NULL, "late") && ref.offset == late.offset);
  CHECK_STATUS(nwal_iter_next(it, &r, NULL), NWAL_DONE);
  CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)"later", 5, t0 + 2000, 0, NULL));
  CHECK_STATUS(nwal_iter_next(it, &r, NULL), NWAL_DONE);
  nwal_iter_free(it);

  /* Replay from a ref is inclusive of it, across the segment boundary. */
  CHECK_OK(nwal_iter_open(w, &refs[2], &it));
  for (int i = 2; i < 9; i++) {
    CHECK_OK(nwal_iter_next(it, &r, &ref));
    CHECK(record_is(&r, "h", content[i]) && ref.offset == refs[i].offset);
  }
  CHECK_OK(nwal_iter_next(it, &r, &ref));
  CHECK(record_is(&r, NULL, "late"));
  CHECK_OK(nwal_iter_next(it, &r, &ref));
  CHECK(record_is(&r, NULL, "later"));
  CHECK_STATUS(nwal_iter_next(it, &r, &ref), NWAL_DONE);
  nwal_iter_free(it);

  /* A record's memory stays valid until the next call on its iterator,
   * whatever happens to the log meanwhile. */
  CHECK_OK(nwal_iter_open(w, &refs[6], &it));
  CHECK_OK(nwal_iter_next(it, &r, NULL));
  for (int i = 0; i < 100; i++)
    CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)"filler", 6, t0 + 2000, 0, NULL));
  CHECK(record_is(&r, "h", "rec-6"));

  /* The iterator outlives nwal_close: it goes on returning the records
   * written before the close, then NWAL_DONE. */
  CHECK_OK(nwal_close(w));
  CHECK(record_is(&r, "h", "rec-6"));
  int n = 0;
  nwal_status s;
  while ((s = nwal_iter_next(it, &r, NULL)) == NWAL_OK) n++;
  CHECK_STATUS(s, NWAL_DONE);
  CHECK(n == 2 + 2 + 100);
  nwal_iter_free(it);
  nwal_iter_free(NULL); /* no-op */

  /* After reopen, replay from a checkpoint ref works the same. */
  CHECK_OK(nwal_open(dir, "it", &o, &w));
  CHECK_OK(nwal_iter_open(w, &refs[5], &it));
  CHECK_OK(nwal_iter_next(it, &r, &ref));
  CHECK(record_is(&r, "h", "rec-5") && ref.segment_id == refs[5].segment_id);
  nwal_iter_free(it);
  CHECK_OK(nwal_close(w));

  /* A size cap rolls the log within one window; iteration crosses the
   * segments in order. */
  char capped[300];
  test_path(capped, sizeof capped, "capped");
  nwal_options co = nwal_options_default();
  co.max_segment_bytes = 65536;
  CHECK_OK(nwal_open(capped, "cap", &co, &w));
  static uint8_t kib[1000];
  nwal_entry_ref first, last;
  for (int i = 0; i < 200; i++) {
    memset(kib, 'a' + i % 26, sizeof kib);
    CHECK_OK(nwal_append(w, NULL, 0, kib, sizeof kib, t0, 0, i == 0 ? &first : &last));
  }
  CHECK(last.segment_id >= first.segment_id + 2); /* 200 KB over 64 KiB segments */
  CHECK_OK(nwal_iter_open(w, NULL, &it));
  n = 0;
  while ((s = nwal_iter_next(it, &r, &ref)) == NWAL_OK) {
    CHECK(r.content_len == sizeof kib && r.content[0] == 'a' + n % 26);
    CHECK(ref.offset + ref.size <= 65536);
    n++;
  }
  CHECK_STATUS(s, NWAL_DONE);
  CHECK(n == 200);
  nwal_iter_free(it);
  CHECK_OK(nwal_close(w));
  printf("test_iter: OK\n");
  return 0;
}
