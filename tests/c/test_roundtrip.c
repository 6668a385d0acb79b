/* SPDX-License-Identifier: MIT */
/* Open, append (with and without headers), read back, close, reopen: the
 * basic round trip, plus the version and status-name functions. */
#include "check.h"

#include <errno.h>

static void version_and_names(void) {
  char macro_version[32];
  snprintf(macro_version, sizeof macro_version, "%d.%d.%d", NWAL_VERSION_MAJOR,
           NWAL_VERSION_MINOR, NWAL_VERSION_PATCH);
  CHECK(strcmp(nwal_version(), macro_version) == 0);

  CHECK(strcmp(nwal_status_name(NWAL_OK), "NWAL_OK") == 0);
  CHECK(strcmp(nwal_status_name(NWAL_ERR_IO), "NWAL_ERR_IO") == 0);
  CHECK(strcmp(nwal_status_name(NWAL_ERR_INVALID_CONFIG), "NWAL_ERR_INVALID_CONFIG") == 0);
  CHECK(strcmp(nwal_status_name(NWAL_ERR_CORRUPTED_DATA), "NWAL_ERR_CORRUPTED_DATA") == 0);
  CHECK(strcmp(nwal_status_name(NWAL_ERR_HEADER_TOO_LARGE), "NWAL_ERR_HEADER_TOO_LARGE") == 0);
  CHECK(strcmp(nwal_status_name(NWAL_ERR_SHUTDOWN), "NWAL_ERR_SHUTDOWN") == 0);
  CHECK(strcmp(nwal_status_name(NWAL_ERR_NOT_FOUND), "NWAL_ERR_NOT_FOUND") == 0);
  CHECK(strcmp(nwal_status_name(NWAL_ERR_LOCKED), "NWAL_ERR_LOCKED") == 0);
  CHECK(strcmp(nwal_status_name(NWAL_ERR_INVALID_ARGUMENT), "NWAL_ERR_INVALID_ARGUMENT") == 0);
  CHECK(strcmp(nwal_status_name(NWAL_ERR_PANIC), "NWAL_ERR_PANIC") == 0);
  CHECK(strcmp(nwal_status_name(NWAL_DONE), "NWAL_DONE") == 0);
  CHECK(strcmp(nwal_status_name(12345), "NWAL_UNKNOWN_STATUS") == 0);
  CHECK(strcmp(nwal_status_name(-1), "NWAL_UNKNOWN_STATUS") == 0);

  /* No failure yet on this thread: the message is empty, errno 0. */
  CHECK(strcmp(nwal_last_error_message(), "") == 0);
  CHECK(nwal_last_os_error() == 0);

  nwal_options d = nwal_options_default();
  CHECK(d.retention_ms == 7ull * 24 * 3600 * 1000);
  CHECK(d.segment_duration_ms == 3600ull * 1000);
  CHECK(d.max_segment_bytes == 0);
  CHECK(d.file_mode == 0600);
  CHECK(d.flags == 0);
  CHECK(d.first_index == 1);
  CHECK(d.max_clock_skew_ms == 0 && d.max_stream_bytes == 0);
  CHECK(d.max_hold_lag_bytes == 0 && d.max_hold_lag_ms == 0);
  for (int i = 0; i < 3; i++) CHECK(d.reserved[i] == 0);
}

int main(void) {
  version_and_names();

  char dir[300];
  test_path(dir, sizeof dir, "wal");
  const int64_t now = 1711234567890;

  nwal *w = NULL;
  CHECK_OK(nwal_open(dir, "stream-0", NULL, &w));
  CHECK(w != NULL);

  /* Four shapes of record: header+content, no header, empty header, empty content. */
  nwal_entry_ref refs[4];
  const uint8_t hdr[] = "meta";
  const uint8_t body[] = "hello world";
  CHECK_OK(nwal_append(w, hdr, 4, body, 11, now, 0, &refs[0]));
  CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)"no header", 9, now, NWAL_DURABLE, &refs[1]));
  CHECK_OK(nwal_append(w, hdr, 0, (const uint8_t *)"empty header", 12, now, 0, &refs[2]));
  CHECK_OK(nwal_append(w, hdr, 4, NULL, 0, now, 0, &refs[3]));
  CHECK_OK(nwal_append(w, NULL, 0, body, 11, now, 0, NULL)); /* out_ref may be NULL */

  /* Refs are log sequence numbers: same segment, increasing offsets, and
   * size = 24-byte frame + header + content. */
  for (int i = 1; i < 4; i++) {
    CHECK(refs[i].segment_id == refs[0].segment_id);
    CHECK(refs[i].offset == refs[i - 1].offset + refs[i - 1].size);
  }
  CHECK(refs[0].size == 24 + 4 + 11);
  CHECK(refs[1].size == 24 + 9);

  /* Read them back in a different order than written. */
  nwal_entry_ref order[4] = {refs[3], refs[1], refs[0], refs[2]};
  nwal_record recs[4];
  nwal_read_buf *buf = NULL;
  CHECK_OK(nwal_read_batch(w, order, 4, recs, &buf));
  CHECK(buf != NULL);
  CHECK(recs[0].header_len == 4 && memcmp(recs[0].header, "meta", 4) == 0);
  CHECK(recs[0].content_len == 0);
  CHECK(record_is(&recs[1], NULL, "no header"));
  CHECK(record_is(&recs[2], "meta", "hello world"));
  CHECK(record_is(&recs[3], "", "empty header"));
  CHECK(recs[3].header != NULL); /* empty header is not "no header" */

  /* Reading the same ref twice in one batch is fine. */
  nwal_entry_ref twice[2] = {refs[0], refs[0]};
  nwal_record recs2[2];
  nwal_read_buf *buf2 = NULL;
  CHECK_OK(nwal_read_batch(w, twice, 2, recs2, &buf2));
  CHECK(record_is(&recs2[0], "meta", "hello world") && record_is(&recs2[1], "meta", "hello world"));
  nwal_read_buf_free(buf2);

  CHECK_OK(nwal_sync(w));
  CHECK_OK(nwal_close(w));
  /* The read buffer outlives the handle. */
  CHECK(record_is(&recs[2], "meta", "hello world"));
  nwal_read_buf_free(buf);

  /* Reopen after close: the same refs read the same bytes, and appends go on
   * in the same segment (its window is still current). */
  CHECK_OK(nwal_open(dir, "stream-0", NULL, &w));
  CHECK_OK(nwal_read_batch(w, refs, 4, recs, &buf));
  CHECK(record_is(&recs[0], "meta", "hello world"));
  CHECK(record_is(&recs[1], NULL, "no header"));
  CHECK(record_is(&recs[2], "", "empty header"));
  nwal_read_buf_free(buf);
  nwal_entry_ref after;
  CHECK_OK(nwal_append(w, NULL, 0, body, 11, now + 1, 0, &after));
  CHECK(after.segment_id == refs[0].segment_id);
  CHECK(after.offset == refs[3].offset + refs[3].size + (24 + 11));
  CHECK_OK(nwal_close(w));

  /* The files were created with mode 0600. */
  char lock[400];
  snprintf(lock, sizeof lock, "%s/stream-0.lock", dir);
  struct stat st;
  CHECK(stat(lock, &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  /* nwal_close(NULL) is a no-op. */
  CHECK_OK(nwal_close(NULL));
  printf("test_roundtrip: OK\n");
  return 0;
}
