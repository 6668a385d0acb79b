/* SPDX-License-Identifier: MIT */
/* quickstart: open a log, append records, read them back by ref, replay the
 * whole log, close. Every call's status is checked; on failure the program
 * prints the status name, the library's message and errno, and cleans up.
 *
 *   usage: quickstart [DIR]      (default DIR: ./quickstart-wal)
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <nano_wal.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Print a failed call with everything the library knows about it. */
static int report(const char *what, nwal_status s) {
  fprintf(stderr, "quickstart: %s failed: %s: %s", what, nwal_status_name(s),
          nwal_last_error_message());
  if (s == NWAL_ERR_IO) fprintf(stderr, " (errno %d)", nwal_last_os_error());
  fprintf(stderr, "\n");
  return 1;
}

/* Run `call`; on failure report it and jump to the cleanup label `out`. */
#define TRY(what, call)                 \
  do {                                  \
    nwal_status s_ = (call);            \
    if (s_ != NWAL_OK) {                \
      rc = report(what, s_);            \
      goto out;                         \
    }                                   \
  } while (0)

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "quickstart-wal";
  int rc = 0;
  nwal *w = NULL;
  nwal_read_buf *buf = NULL;
  nwal_iter *it = NULL;
  printf("nano_wal %s, log in %s\n", nwal_version(), dir);

  /* Segments of 10 minutes, kept for an hour after their window ends. */
  nwal_options opts = nwal_options_default();
  opts.segment_duration_ms = 10 * 60 * 1000;
  opts.retention_ms = 60 * 60 * 1000;
  TRY("nwal_open", nwal_open(dir, "quickstart", &opts, &w));

  /* Append: the library never reads the clock, the caller passes the time. */
  const char *msgs[3] = {"first record", "second record", "third record"};
  const char *hdr = "type=demo";
  nwal_entry_ref refs[3];
  for (int i = 0; i < 3; i++) {
    /* The last one is durable: on NWAL_OK it (and all before it) survive
     * power loss. */
    uint32_t flags = i == 2 ? NWAL_DURABLE : 0;
    TRY("nwal_append", nwal_append(w, (const uint8_t *)hdr, strlen(hdr),
                                   (const uint8_t *)msgs[i], strlen(msgs[i]),
                                   now_ms(), flags, &refs[i]));
    printf("appended %-14s -> segment %llu, offset %llu, size %llu\n", msgs[i],
           (unsigned long long)refs[i].segment_id, (unsigned long long)refs[i].offset,
           (unsigned long long)refs[i].size);
  }

  /* Read back by ref: the records point into `buf` until it is freed. */
  nwal_record recs[3];
  TRY("nwal_read_batch", nwal_read_batch(w, refs, 3, recs, &buf));
  for (int i = 0; i < 3; i++)
    printf("read     [%.*s] %.*s\n", (int)recs[i].header_len, (const char *)recs[i].header,
           (int)recs[i].content_len, (const char *)recs[i].content);
  nwal_read_buf_free(buf);
  buf = NULL;

  /* Replay the whole log in order (every run of quickstart adds three). */
  TRY("nwal_iter_open", nwal_iter_open(w, NULL, &it));
  int n = 0;
  nwal_record r;
  nwal_entry_ref ref;
  nwal_status s;
  while ((s = nwal_iter_next(it, &r, &ref)) == NWAL_OK) n++;
  if (s != NWAL_DONE) {
    rc = report("nwal_iter_next", s);
    goto out;
  }
  printf("replayed %d record(s); the last one: %.*s\n", n, (int)r.content_len,
         (const char *)r.content);

out:
  nwal_iter_free(it);
  nwal_read_buf_free(buf);
  if (w != NULL) {
    nwal_status s2 = nwal_close(w);
    if (s2 != NWAL_OK && rc == 0) rc = report("nwal_close", s2);
  }
  if (rc == 0) printf("quickstart: OK\n");
  return rc;
}
