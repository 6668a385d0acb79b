/* SPDX-License-Identifier: MIT */
/* Retention: nwal_cleanup deletes expired segments by the caller's clock,
 * never the active one, reports counts and bytes; refs into deleted
 * segments give NWAL_ERR_NOT_FOUND; read buffers taken before stay valid.
 * The size budget deletes the oldest sealed segments before they expire;
 * reader holds stop both, survive reopen, and are dropped (and counted)
 * when they lag past max_hold_lag_bytes. */
#include "check.h"

#include <dirent.h>

/* Number and total size of this stream's segment files. */
static int count_segments(const char *dir, uint64_t *bytes) {
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  int n = 0;
  *bytes = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len > 4 && strcmp(e->d_name + len - 4, ".seg") == 0) {
      char path[600];
      struct stat st;
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      CHECK(stat(path, &st) == 0);
      *bytes += (uint64_t)st.st_size;
      n++;
    }
  }
  closedir(d);
  return n;
}

int main(void) {
  char dir[300];
  test_path(dir, sizeof dir, "wal");
  /* Windows of 1 s, kept 2 s after they end: a segment for window [W, W+1000)
   * expires at W + 3000. */
  nwal_options o = test_options(1000, 2000);
  nwal *w = NULL;
  CHECK_OK(nwal_open(dir, "ret", &o, &w));

  nwal_entry_ref refs[5];
  for (int i = 0; i < 5; i++)
    CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)"payload", 7, i * 1000, 0, &refs[i]));
  uint64_t bytes_before;
  CHECK(count_segments(dir, &bytes_before) == 5);

  /* Nothing has expired at t = 2999. */
  nwal_cleanup_result res;
  CHECK_OK(nwal_cleanup(w, 2999, &res));
  CHECK(res.deleted_segments == 0 && res.bytes_reclaimed == 0 && res.live_segments == 5);

  /* Keep a read of segment 0 across its deletion, and an iterator that is
   * inside it. */
  nwal_record kept;
  nwal_read_buf *buf = NULL;
  CHECK_OK(nwal_read_batch(w, &refs[0], 1, &kept, &buf));
  nwal_iter *it = NULL;
  nwal_record ir;
  nwal_entry_ref iref;
  CHECK_OK(nwal_iter_open(w, NULL, &it));
  CHECK_OK(nwal_iter_next(it, &ir, &iref));
  CHECK(iref.segment_id == refs[0].segment_id);

  /* At t = 4000 the windows starting at 0 and 1000 have expired. */
  CHECK_OK(nwal_cleanup(w, 4000, &res));
  uint64_t bytes_after;
  CHECK(count_segments(dir, &bytes_after) == 3);
  CHECK(res.deleted_segments == 2 && res.live_segments == 3);
  CHECK(res.bytes_reclaimed == bytes_before - bytes_after);
  CHECK(record_is(&kept, NULL, "payload"));
  nwal_read_buf_free(buf);
  /* The iterator still holds its record; it goes on with the live segments. */
  CHECK(record_is(&ir, NULL, "payload"));
  int seen = 1;
  while (nwal_iter_next(it, &ir, &iref) == NWAL_OK) seen++;
  CHECK(seen == 4); /* segment 1 was deleted before the iterator got there */
  CHECK(iref.segment_id == refs[4].segment_id);
  nwal_iter_free(it);

  /* Refs into deleted segments: NOT_FOUND; the others still read. */
  nwal_record r;
  CHECK_STATUS(nwal_read_batch(w, &refs[0], 1, &r, &buf), NWAL_ERR_NOT_FOUND);
  CHECK(strstr(nwal_last_error_message(), "not found") != NULL);
  CHECK_STATUS(nwal_iter_open(w, &refs[1], &(nwal_iter *){NULL}), NWAL_ERR_NOT_FOUND);
  CHECK_OK(nwal_read_batch(w, &refs[2], 1, &r, &buf));
  nwal_read_buf_free(buf);

  /* Far in the future everything expired, but the active segment stays. */
  CHECK_OK(nwal_cleanup(w, 1000000, NULL));
  CHECK(count_segments(dir, &bytes_after) == 1);
  CHECK_OK(nwal_read_batch(w, &refs[4], 1, &r, &buf));
  CHECK(record_is(&r, NULL, "payload"));
  nwal_read_buf_free(buf);
  /* Appends continue into the active segment. */
  CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)"more", 4, 4000, 0, NULL));
  CHECK_OK(nwal_close(w));

  /* After reopen, only the surviving segment is found. */
  CHECK_OK(nwal_open(dir, "ret", &o, &w));
  CHECK_STATUS(nwal_read_batch(w, &refs[3], 1, &r, &buf), NWAL_ERR_NOT_FOUND);
  CHECK_OK(nwal_cleanup(w, 1000000, &res));
  CHECK(res.deleted_segments == 0 && res.live_segments == 1);
  CHECK_OK(nwal_close(w));

  /* A size budget of one byte: every sealed segment goes, before it expires. */
  char bdir[300];
  test_path(bdir, sizeof bdir, "budget");
  o.max_stream_bytes = 1;
  CHECK_OK(nwal_open(bdir, "b", &o, &w));
  for (int i = 0; i < 4; i++)
    CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)"payload", 7, i * 1000, 0, NULL));
  CHECK_OK(nwal_cleanup(w, 0, &res));
  CHECK(res.deleted_segments == 3 && res.deleted_over_budget == 3 && res.live_segments == 1);
  CHECK(count_segments(bdir, &bytes_after) == 1); /* never the active one */
  CHECK_OK(nwal_close(w));

  /* Reader holds: four segments, a hold in the second. */
  char hdir[300];
  test_path(hdir, sizeof hdir, "holds");
  o.max_stream_bytes = 0;
  CHECK_OK(nwal_open(hdir, "h", &o, &w));
  for (int i = 0; i < 4; i++)
    CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)"payload", 7, i * 1000, 0, NULL));
  CHECK_OK(nwal_hold(w, "replica", 2));
  uint64_t at = 0;
  CHECK_OK(nwal_hold_get(w, "replica", &at));
  CHECK(at == 2);
  CHECK_STATUS(nwal_hold(w, "replica", 9), NWAL_ERR_NOT_FOUND); /* past last + 1 */
  CHECK_STATUS(nwal_hold(w, "bad/name", 2), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_hold(w, NULL, 2), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_hold_get(w, "nobody", &at), NWAL_ERR_NOT_FOUND);
  CHECK_STATUS(nwal_hold_get(w, "replica", NULL), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_OK(nwal_cleanup(w, 1000000, &res));
  CHECK(res.deleted_segments == 1 && res.dropped_holds == 0); /* only the first */
  CHECK_OK(nwal_close(w));
  /* After reopen, with a lag limit of one byte: the hold is dropped. */
  o.max_hold_lag_bytes = 1;
  CHECK_OK(nwal_open(hdir, "h", &o, &w));
  CHECK_OK(nwal_hold_get(w, "replica", &at));
  CHECK_OK(nwal_cleanup(w, 1000000, &res));
  CHECK(res.dropped_holds == 1 && res.deleted_segments == 2);
  CHECK_STATUS(nwal_hold_get(w, "replica", &at), NWAL_ERR_NOT_FOUND);
  CHECK_OK(nwal_hold_release(w, "replica")); /* none: nothing to do */
  CHECK_OK(nwal_hold(w, "again", 4));
  CHECK_OK(nwal_hold_release(w, "again"));
  CHECK_STATUS(nwal_hold_get(w, "again", &at), NWAL_ERR_NOT_FOUND);
  CHECK_OK(nwal_close(w));
  printf("test_cleanup: OK\n");
  return 0;
}
