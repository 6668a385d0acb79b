/* SPDX-License-Identifier: MIT */
/* Every status code is reachable from C, each with a non-empty message:
 * IO (with its errno), INVALID_CONFIG, CORRUPTED_DATA (on open, on read, on
 * replay; salvage opens anyway), HEADER_TOO_LARGE, SHUTDOWN, NOT_FOUND,
 * LOCKED, INVALID_ARGUMENT, BUFFER_TOO_SMALL, CLOCK_SKEW, HELD, DONE; CORRUPTED_DATA also for
 * a metadata file neither of whose slots verifies. (PANIC: test_panic.c.) */
#include "check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>

static const int64_t T = 1711234567890;

/* Path of the segment file of `stream` with id `id` in `dir`. */
static void segment_path(const char *dir, const char *stream, uint64_t id, char *out, size_t len) {
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  char suffix[64];
  snprintf(suffix, sizeof suffix, "_%llu.seg", (unsigned long long)id);
  struct dirent *e;
  out[0] = '\0';
  while ((e = readdir(d)) != NULL) {
    size_t n = strlen(e->d_name), s = strlen(suffix);
    if (strncmp(e->d_name, stream, strlen(stream)) == 0 && n > s &&
        strcmp(e->d_name + n - s, suffix) == 0)
      snprintf(out, len, "%s/%s", dir, e->d_name);
  }
  closedir(d);
  CHECK(out[0] != '\0');
}

/* Flip one bit of the file at `offset`. */
static void flip_byte(const char *path, uint64_t offset) {
  int fd = open(path, O_RDWR);
  CHECK(fd >= 0);
  unsigned char b;
  CHECK(pread(fd, &b, 1, (off_t)offset) == 1);
  b ^= 0x01;
  CHECK(pwrite(fd, &b, 1, (off_t)offset) == 1);
  CHECK(close(fd) == 0);
}

static void io_and_config(void) {
  char file[300], under[400], dir[300];
  test_path(file, sizeof file, "plain-file");
  FILE *f = fopen(file, "w");
  CHECK(f != NULL);
  fclose(f);
  nwal *w = NULL;

  /* A directory below a regular file: the OS says ENOTDIR. */
  snprintf(under, sizeof under, "%s/sub", file);
  CHECK_STATUS(nwal_open(under, "s", NULL, &w), NWAL_ERR_IO);
  CHECK(nwal_last_os_error() == ENOTDIR);
  CHECK(w == NULL); /* nothing written on failure */

  /* A "directory" that is a file. */
  CHECK_STATUS(nwal_open(file, "s", NULL, &w), NWAL_ERR_INVALID_CONFIG);
  CHECK(nwal_last_os_error() == 0);

  test_path(dir, sizeof dir, "config");
  nwal_options o = nwal_options_default();
  o.segment_duration_ms = 0;
  CHECK_STATUS(nwal_open(dir, "s", &o, &w), NWAL_ERR_INVALID_CONFIG);
  CHECK(strstr(nwal_last_error_message(), "segment_duration") != NULL);
  o = test_options(10000, 9999);
  CHECK_STATUS(nwal_open(dir, "s", &o, &w), NWAL_ERR_INVALID_CONFIG);
  o = nwal_options_default();
  o.max_segment_bytes = 100;
  CHECK_STATUS(nwal_open(dir, "s", &o, &w), NWAL_ERR_INVALID_CONFIG);
  o = nwal_options_default();
  o.file_mode = 0400;
  CHECK_STATUS(nwal_open(dir, "s", &o, &w), NWAL_ERR_INVALID_CONFIG);
  o = nwal_options_default();
  o.reserved[2] = 1;
  CHECK_STATUS(nwal_open(dir, "s", &o, &w), NWAL_ERR_INVALID_CONFIG);
  CHECK(strstr(nwal_last_error_message(), "reserved") != NULL);
  o = nwal_options_default();
  o.flags = 2;
  CHECK_STATUS(nwal_open(dir, "s", &o, &w), NWAL_ERR_INVALID_CONFIG);
  CHECK(w == NULL);

  /* A success does not clear the last message. */
  CHECK_OK(nwal_open(dir, "s", NULL, &w));
  CHECK(strstr(nwal_last_error_message(), "flags") != NULL);
  CHECK_OK(nwal_close(w));
}

static void locked_shutdown_not_found_header(void) {
  char dir[300];
  test_path(dir, sizeof dir, "misc");
  nwal *w = NULL, *w2 = NULL;
  CHECK_OK(nwal_open(dir, "one", NULL, &w));

  /* One open handle per stream. Another stream in the same dir is fine. */
  CHECK_STATUS(nwal_open(dir, "one", NULL, &w2), NWAL_ERR_LOCKED);
  CHECK(w2 == NULL);
  CHECK_OK(nwal_open(dir, "one-2", NULL, &w2));
  CHECK_OK(nwal_close(w2));

  nwal_entry_ref ref;
  CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)"x", 1, T, 0, &ref));

  /* Unknown segment. */
  nwal_entry_ref missing = ref;
  missing.segment_id = 999;
  nwal_record r;
  nwal_read_buf *buf = NULL;
  CHECK_STATUS(nwal_read_batch(w, &missing, 1, &r, &buf), NWAL_ERR_NOT_FOUND);
  CHECK(buf == NULL);
  nwal_iter *it = NULL;
  CHECK_STATUS(nwal_iter_open(w, &missing, &it), NWAL_ERR_NOT_FOUND);
  CHECK(it == NULL);

  /* Header of 65,536 bytes: one too many. 65,535 is fine. */
  static uint8_t big[65536];
  memset(big, 'h', sizeof big);
  CHECK_STATUS(nwal_append(w, big, 65536, (const uint8_t *)"c", 1, T, 0, NULL), NWAL_ERR_HEADER_TOO_LARGE);
  nwal_write_entry e = {big, 65536, (const uint8_t *)"c", 1};
  CHECK_STATUS(nwal_append_batch(w, &e, 1, T, 0, NULL), NWAL_ERR_HEADER_TOO_LARGE);
  nwal_span sp = {.header_off = 0, .header_len = 65536, .content_off = 0, .content_len = 1, .has_header = 1};
  CHECK_STATUS(nwal_append_batch_packed(w, big, sizeof big, &sp, 1, T, 0, NULL), NWAL_ERR_HEADER_TOO_LARGE);
  nwal_entry_ref maxh;
  CHECK_OK(nwal_append(w, big, 65535, (const uint8_t *)"c", 1, T, 0, &maxh));
  CHECK_OK(nwal_read_batch(w, &maxh, 1, &r, &buf));
  CHECK(r.header_len == 65535 && r.content_len == 1);
  nwal_read_buf_free(buf);

  /* Shutdown: appends and cleanups refused, reads and sync still work, and
   * the stream lock is released (it can be opened again elsewhere). */
  CHECK_OK(nwal_shutdown(w));
  CHECK_OK(nwal_shutdown(w)); /* idempotent */
  CHECK_STATUS(nwal_append(w, NULL, 0, (const uint8_t *)"y", 1, T, 0, NULL), NWAL_ERR_SHUTDOWN);
  nwal_write_entry small = {NULL, 0, (const uint8_t *)"y", 1};
  CHECK_STATUS(nwal_append_batch(w, &small, 1, T, 0, NULL), NWAL_ERR_SHUTDOWN);
  CHECK_STATUS(nwal_cleanup(w, T, NULL), NWAL_ERR_SHUTDOWN);
  CHECK_OK(nwal_sync(w));
  CHECK_OK(nwal_read_batch(w, &ref, 1, &r, &buf));
  CHECK(record_is(&r, NULL, "x"));
  nwal_read_buf_free(buf);
  CHECK_OK(nwal_open(dir, "one", NULL, &w2));
  CHECK_OK(nwal_close(w2));
  CHECK_OK(nwal_close(w));
}

static void corrupted(void) {
  char dir[300], seg[600];
  test_path(dir, sizeof dir, "corrupt");
  nwal_options o = test_options(1000, 60000);
  nwal *w = NULL;
  CHECK_OK(nwal_open(dir, "c", &o, &w));

  /* Two segments: an older (sealed) one with three records, a newer one. */
  nwal_entry_ref old[3], newer[3];
  for (int i = 0; i < 3; i++)
    CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)"old-record", 10, 0, 0, &old[i]));
  for (int i = 0; i < 3; i++)
    CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)"new-record", 10, 1000, 0, &newer[i]));
  CHECK(old[0].segment_id != newer[0].segment_id);

  /* A ref inside the segment that is not exactly one record. */
  nwal_record r;
  nwal_read_buf *buf = NULL;
  nwal_entry_ref bad = old[0];
  bad.size += old[1].size; /* two records */
  CHECK_STATUS(nwal_read_batch(w, &bad, 1, &r, &buf), NWAL_ERR_CORRUPTED_DATA);
  bad = old[1];
  bad.offset += 1; /* not at a record start */
  bad.size -= 1;
  CHECK_STATUS(nwal_read_batch(w, &bad, 1, &r, &buf), NWAL_ERR_CORRUPTED_DATA);
  CHECK_OK(nwal_close(w));

  /* Damage the middle record of the older segment: open still succeeds
   * (sealed segments are only header-checked), reading it or replaying
   * through it gives CORRUPTED_DATA, and the other records still read. */
  segment_path(dir, "c", old[1].segment_id, seg, sizeof seg);
  flip_byte(seg, old[1].offset + 24 + 3);
  CHECK_OK(nwal_open(dir, "c", &o, &w));
  CHECK_STATUS(nwal_read_batch(w, &old[1], 1, &r, &buf), NWAL_ERR_CORRUPTED_DATA);
  CHECK(strstr(nwal_last_error_message(), "checksum") != NULL);
  CHECK_OK(nwal_read_batch(w, &old[2], 1, &r, &buf));
  nwal_read_buf_free(buf);
  nwal_iter *it = NULL;
  CHECK_OK(nwal_iter_open(w, NULL, &it));
  CHECK_OK(nwal_iter_next(it, &r, NULL));
  CHECK_STATUS(nwal_iter_next(it, &r, NULL), NWAL_ERR_CORRUPTED_DATA);
  CHECK_STATUS(nwal_iter_next(it, &r, NULL), NWAL_DONE); /* finished after an error */
  nwal_iter_free(it);
  CHECK_OK(nwal_close(w));

  /* Damage the middle record of the newest segment: a corrupted record
   * followed by a valid one is not a torn tail, so open fails... */
  segment_path(dir, "c", newer[1].segment_id, seg, sizeof seg);
  flip_byte(seg, newer[1].offset + 24 + 3);
  w = NULL;
  CHECK_STATUS(nwal_open(dir, "c", &o, &w), NWAL_ERR_CORRUPTED_DATA);
  CHECK(w == NULL);
  /* ...unless salvage is asked for: it cuts the segment at the damage. */
  o.flags = NWAL_OPT_SALVAGE;
  CHECK_OK(nwal_open(dir, "c", &o, &w));
  CHECK_OK(nwal_read_batch(w, &newer[0], 1, &r, &buf));
  CHECK(record_is(&r, NULL, "new-record"));
  nwal_read_buf_free(buf);
  CHECK_STATUS(nwal_read_batch(w, &newer[2], 1, &r, &buf), NWAL_ERR_NOT_FOUND); /* cut off */
  CHECK_OK(nwal_close(w));
}

/* BUFFER_TOO_SMALL from nwal_meta_get, and CORRUPTED_DATA from a metadata
 * file whose two slots are both damaged (salvage opens it empty). */
static void metadata(void) {
  char dir[300], path[400];
  test_path(dir, sizeof dir, "meta");
  nwal *w = NULL;
  CHECK_OK(nwal_open(dir, "m", NULL, &w));
  CHECK_OK(nwal_meta_put(w, "k", (const uint8_t *)"value", 5));
  CHECK_OK(nwal_meta_put(w, "k", (const uint8_t *)"value 2", 7));
  size_t len = 0;
  CHECK_STATUS(nwal_meta_get(w, "k", NULL, 0, &len), NWAL_ERR_BUFFER_TOO_SMALL);
  CHECK(len == 7);
  CHECK_OK(nwal_close(w));
  snprintf(path, sizeof path, "%s/m.meta", dir);
  flip_byte(path, 0);           /* slot 0's magic */
  flip_byte(path, 270336 + 20); /* slot 1 (at SLOT_SIZE), in its generation */
  w = NULL;
  CHECK_STATUS(nwal_open(dir, "m", NULL, &w), NWAL_ERR_CORRUPTED_DATA);
  CHECK(strstr(nwal_last_error_message(), "m.meta") != NULL);
  CHECK(w == NULL);
  nwal_options o = nwal_options_default();
  o.flags = NWAL_OPT_SALVAGE;
  CHECK_OK(nwal_open(dir, "m", &o, &w));
  CHECK_STATUS(nwal_meta_get(w, "k", NULL, 0, &len), NWAL_ERR_NOT_FOUND);
  CHECK_OK(nwal_close(w));
}

/* CLOCK_SKEW: the clock guard refuses a time too far past the newest
 * window; nothing is written. */
static void clock_skew(void) {
  char dir[300];
  test_path(dir, sizeof dir, "skew");
  nwal_options o = test_options(1000, 3600000);
  o.max_clock_skew_ms = 5000;
  nwal *w = NULL;
  CHECK_OK(nwal_open(dir, "c", &o, &w));
  CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)"a", 1, 1000, 0, NULL));
  /* The newest window ends at 2000: 7000 is the last time taken. */
  CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)"b", 1, 7000, 0, NULL));
  nwal_entry_ref r = {0};
  CHECK_STATUS(nwal_append(w, NULL, 0, (const uint8_t *)"c", 1, 13001, NWAL_DURABLE, &r),
               NWAL_ERR_CLOCK_SKEW);
  CHECK(strstr(nwal_last_error_message(), "max_clock_skew") != NULL);
  CHECK(r.size == 0); /* the output is untouched */
  nwal_log_state st;
  CHECK_OK(nwal_log_state_get(w, &st));
  CHECK(st.last_index == 2);
  CHECK_OK(nwal_close(w));
}

/* The recovery report after a torn tail: what open cut, and that nothing
 * below the durable watermark was. */
static void recovery_report(void) {
  char dir[300], seg[600];
  test_path(dir, sizeof dir, "report");
  nwal *w = NULL;
  CHECK_OK(nwal_open(dir, "t", NULL, &w));
  nwal_recovery_report rep;
  CHECK_OK(nwal_recovery_report_get(w, &rep));
  CHECK(rep.has_tail == 0 && rep.removed_segments == 0);
  nwal_entry_ref r;
  for (int i = 0; i < 3; i++)
    CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)"record", 6, 1000, NWAL_DURABLE, &r));
  CHECK_OK(nwal_close(w));
  segment_path(dir, "t", r.segment_id, seg, sizeof seg);
  FILE *f = fopen(seg, "ab");
  CHECK(f != NULL);
  fputs("a torn tail", f);
  fclose(f);
  CHECK_OK(nwal_open(dir, "t", NULL, &w));
  CHECK_OK(nwal_recovery_report_get(w, &rep));
  CHECK(rep.has_tail == 1 && rep.tail_segment_id == r.segment_id);
  CHECK(rep.kept_len == r.offset + r.size && rep.found_len == rep.kept_len + 11);
  CHECK(rep.records_kept == 3 && rep.cut_below_durable == 0);
  CHECK(rep.durable_watermark <= rep.kept_len);
  CHECK_STATUS(nwal_recovery_report_get(w, NULL), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_recovery_report_get(NULL, &rep), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_OK(nwal_close(w));
}

/* HELD: a purge past a reader hold; nothing purged. */
static void held(void) {
  char dir[300];
  test_path(dir, sizeof dir, "held");
  nwal *w = NULL;
  CHECK_OK(nwal_open(dir, "h", NULL, &w));
  for (int i = 0; i < 5; i++)
    CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)"r", 1, 1000, 0, NULL));
  CHECK_OK(nwal_hold(w, "reader", 3));
  CHECK_STATUS(nwal_purge_before(w, 4), NWAL_ERR_HELD);
  CHECK(strstr(nwal_last_error_message(), "reader") != NULL);
  nwal_log_state st;
  CHECK_OK(nwal_log_state_get(w, &st));
  CHECK(st.first_index == 1);
  CHECK_OK(nwal_close(w));
}

int main(void) {
  io_and_config();
  metadata();
  clock_skew();
  held();
  recovery_report();
  locked_shutdown_not_found_header();
  corrupted();

  /* DONE and INVALID_ARGUMENT, the last two. */
  char dir[300];
  test_path(dir, sizeof dir, "done");
  nwal *w = NULL;
  nwal_iter *it = NULL;
  nwal_record r;
  CHECK_STATUS(nwal_open(dir, "bad/name", NULL, &w), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_OK(nwal_open(dir, "d", NULL, &w));
  CHECK_OK(nwal_iter_open(w, NULL, &it));
  CHECK_STATUS(nwal_iter_next(it, &r, NULL), NWAL_DONE);
  nwal_iter_free(it);
  CHECK_OK(nwal_close(w));
  printf("test_status: OK\n");
  return 0;
}
