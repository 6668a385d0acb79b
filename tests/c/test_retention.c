/* SPDX-License-Identifier: MIT */
/* Retention explained: nwal_retention says for every segment why it stays
 * (active, not expired until its expiration, held by a reader hold, within
 * the size budget) or which rule a cleanup would delete it by, and deletes
 * nothing; a cleanup at the same time then deletes exactly the segments it
 * named. Its array is the caller's: a sizing call with cap 0, a too-small
 * array (NWAL_ERR_BUFFER_TOO_SMALL with the count, nothing written), slots
 * past the count untouched, NULLs refused; it works after nwal_shutdown. */
#include "check.h"

#include <dirent.h>

enum { SEGMENTS = 4, SLOTS = 8 };

/* Windows of 1 s, kept 2 s after they end: the segment of window
 * [W, W + 1000) expires at W + 3000. */
static const int64_t WINDOW = 1000;
static const int64_t KEPT_AFTER = 2000;

/* A slot no call has written: every byte 0xA5. */
static nwal_segment_retention untouched(void) {
  nwal_segment_retention r;
  memset(&r, 0xA5, sizeof r);
  return r;
}

static int is_untouched(const nwal_segment_retention *r) {
  nwal_segment_retention u = untouched();
  return memcmp(r, &u, sizeof u) == 0;
}

/* The size of this stream's segment file `id` (named
 * `{stream}_{expiration}_{id}.seg`), by stat. */
static uint64_t segment_file_size(const char *dir, uint64_t id) {
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  struct dirent *e;
  uint64_t size = UINT64_MAX;
  while ((e = readdir(d)) != NULL) {
    const char *u = strrchr(e->d_name, '_');
    char *end = NULL;
    if (u == NULL || strtoull(u + 1, &end, 10) != id || strcmp(end, ".seg") != 0) continue;
    char path[600];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    CHECK(stat(path, &st) == 0);
    CHECK(size == UINT64_MAX); /* one file per id */
    size = (uint64_t)st.st_size;
  }
  closedir(d);
  CHECK(size != UINT64_MAX);
  return size;
}

/* A stream of SEGMENTS segments, one record each, in windows 0, 1000, ... */
static nwal *filled(const char *dir, const nwal_options *o, nwal_entry_ref *refs) {
  nwal *w = NULL;
  CHECK_OK(nwal_open(dir, "ret", o, &w));
  for (int i = 0; i < SEGMENTS; i++)
    CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)"payload", 7, i * WINDOW, 0, &refs[i]));
  return w;
}

/* nwal_retention into a fresh array of SLOTS slots: exactly SEGMENTS
 * segments, in log order (the ids of `refs`), the slots after them
 * untouched, and each with a size and expiration that are the file's and
 * its window's. */
static void retention(nwal *w, int64_t now_ms, const char *dir, const nwal_entry_ref *refs,
                      nwal_segment_retention *out) {
  for (int i = 0; i < SLOTS; i++) out[i] = untouched();
  size_t n = 0;
  CHECK_OK(nwal_retention(w, now_ms, out, SLOTS, &n));
  CHECK(n == SEGMENTS);
  for (int i = 0; i < SEGMENTS; i++) {
    CHECK(out[i].segment_id == refs[i].segment_id);
    CHECK(out[i].expiration_ms == i * WINDOW + WINDOW + KEPT_AFTER);
    CHECK(out[i].file_size == segment_file_size(dir, refs[i].segment_id));
    /* Either kept for some reason or deleted by a rule, never both. */
    CHECK((out[i].kept == 0) != (out[i].deleted_by == 0));
    for (int k = 0; k < 4; k++) CHECK(out[i].reserved[k] == 0);
  }
  for (int i = SEGMENTS; i < SLOTS; i++) CHECK(is_untouched(&out[i]));
}

/* No hold keeps segment `r`. */
static int unheld(const nwal_segment_retention *r) {
  return r->holds == 0 && r->hold_index == 0 && r->hold_name[0] == '\0' &&
         (r->kept & NWAL_KEPT_HELD) == 0;
}

/* A cleanup at `now_ms` deletes what `r` said it would: `expired` segments
 * expired, `over_budget` more for the size budget. */
static void cleanup_agrees(nwal *w, int64_t now_ms, const nwal_segment_retention *r) {
  uint64_t expired = 0, over_budget = 0;
  for (int i = 0; i < SEGMENTS; i++) {
    expired += r[i].deleted_by == NWAL_DELETE_EXPIRED;
    over_budget += r[i].deleted_by == NWAL_DELETE_SIZE_BUDGET;
  }
  nwal_cleanup_result res;
  CHECK_OK(nwal_cleanup(w, now_ms, &res));
  CHECK(res.deleted_segments == expired + over_budget);
  CHECK(res.deleted_over_budget == over_budget);
  CHECK(res.live_segments == SEGMENTS - expired - over_budget);
}

/* Expiry and the active segment; sizing, a short array, bad arguments. */
static void expiry_and_arguments(void) {
  char dir[300];
  test_path(dir, sizeof dir, "expiry");
  nwal_options o = test_options(WINDOW, KEPT_AFTER);
  nwal *w = NULL;

  /* A stream without segments: nothing to say, NWAL_OK with a count of 0. */
  CHECK_OK(nwal_open(dir, "ret", &o, &w));
  size_t n = 99;
  CHECK_OK(nwal_retention(w, 0, NULL, 0, &n));
  CHECK(n == 0);
  CHECK_OK(nwal_close(w));

  nwal_entry_ref refs[SEGMENTS];
  w = filled(dir, &o, refs);

  /* Sizing: cap 0 gives the count. */
  n = 0;
  CHECK_STATUS(nwal_retention(w, 0, NULL, 0, &n), NWAL_ERR_BUFFER_TOO_SMALL);
  CHECK(n == SEGMENTS);
  CHECK(strstr(nwal_last_error_message(), "nwal_retention") != NULL);
  /* Too small: the count, and not a slot written. */
  nwal_segment_retention out[SLOTS];
  for (int i = 0; i < SLOTS; i++) out[i] = untouched();
  n = 0;
  CHECK_STATUS(nwal_retention(w, 0, out, SEGMENTS - 1, &n), NWAL_ERR_BUFFER_TOO_SMALL);
  CHECK(n == SEGMENTS);
  for (int i = 0; i < SLOTS; i++) CHECK(is_untouched(&out[i]));
  /* Exactly enough slots is enough. */
  CHECK_OK(nwal_retention(w, 0, out, SEGMENTS, &n));
  CHECK(n == SEGMENTS && out[SEGMENTS - 1].segment_id == refs[SEGMENTS - 1].segment_id);

  /* NULLs: refused with a message naming the argument, nothing written. */
  for (int i = 0; i < SLOTS; i++) out[i] = untouched();
  n = 77;
  CHECK_STATUS(nwal_retention(NULL, 0, out, SLOTS, &n), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nwal_last_error_message(), "NULL") != NULL);
  CHECK_STATUS(nwal_retention(w, 0, out, SLOTS, NULL), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nwal_last_error_message(), "out_count") != NULL);
  CHECK_STATUS(nwal_retention(w, 0, NULL, SLOTS, &n), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nwal_last_error_message(), "nwal_retention: out") != NULL);
  CHECK(n == 77);
  for (int i = 0; i < SLOTS; i++) CHECK(is_untouched(&out[i]));

  /* At t = 3999 the first window (expires at 3000) is over, the others not;
   * the newest segment is the active one. */
  retention(w, 3999, dir, refs, out);
  CHECK(out[0].deleted_by == NWAL_DELETE_EXPIRED && out[0].kept == 0 && unheld(&out[0]));
  for (int i = 1; i < SEGMENTS - 1; i++)
    CHECK(out[i].kept == NWAL_KEPT_NOT_EXPIRED && out[i].deleted_by == 0 && unheld(&out[i]));
  CHECK(out[3].kept == (NWAL_KEPT_ACTIVE | NWAL_KEPT_NOT_EXPIRED) && unheld(&out[3]));
  /* It deleted nothing: asking again says the same. */
  nwal_segment_retention again[SLOTS];
  retention(w, 3999, dir, refs, again);
  CHECK(memcmp(out, again, sizeof out) == 0);

  /* Far in the future every sealed segment has expired; the active one
   * stays, for being active alone. */
  retention(w, 1000000, dir, refs, out);
  for (int i = 0; i < SEGMENTS - 1; i++) CHECK(out[i].deleted_by == NWAL_DELETE_EXPIRED);
  CHECK(out[3].kept == NWAL_KEPT_ACTIVE && out[3].deleted_by == 0);

  /* After a shutdown it still answers (and cleanup refuses). */
  CHECK_OK(nwal_shutdown(w));
  retention(w, 3999, dir, refs, out);
  CHECK(out[0].deleted_by == NWAL_DELETE_EXPIRED && out[1].kept == NWAL_KEPT_NOT_EXPIRED);
  CHECK(out[3].kept == (NWAL_KEPT_ACTIVE | NWAL_KEPT_NOT_EXPIRED));
  CHECK_STATUS(nwal_cleanup(w, 3999, NULL), NWAL_ERR_SHUTDOWN);
  CHECK_OK(nwal_close(w));

  /* Reopened, a cleanup at 3999 deletes what it predicted: the first. */
  CHECK_OK(nwal_open(dir, "ret", &o, &w));
  retention(w, 3999, dir, refs, out);
  cleanup_agrees(w, 3999, out);
  n = 0;
  CHECK_OK(nwal_retention(w, 3999, out, SLOTS, &n));
  CHECK(n == SEGMENTS - 1 && out[0].segment_id == refs[1].segment_id);
  CHECK_OK(nwal_close(w));
}

/* Reader holds: which hold keeps which segment, and a hold past its lag
 * limit is left out (but not dropped: only a cleanup drops it). */
static void holds(void) {
  char dir[300];
  test_path(dir, sizeof dir, "holds");
  nwal_options o = test_options(WINDOW, KEPT_AFTER);
  nwal_entry_ref refs[SEGMENTS];
  nwal *w = filled(dir, &o, refs);
  /* One record a segment: index i + 1 is in segment i. "replica" keeps
   * from index 2 (segment 1), "backup" from 3 (segment 2). */
  CHECK_OK(nwal_hold(w, "replica", 2));
  CHECK_OK(nwal_hold(w, "backup", 3));

  nwal_segment_retention out[SLOTS];
  retention(w, 1000000, dir, refs, out);
  CHECK(out[0].deleted_by == NWAL_DELETE_EXPIRED && unheld(&out[0]));
  /* Segment 1: "replica" alone (backup's index 3 lies past it). */
  CHECK(out[1].kept == NWAL_KEPT_HELD && out[1].deleted_by == 0);
  CHECK(out[1].holds == 1 && out[1].hold_index == 2 && strcmp(out[1].hold_name, "replica") == 0);
  /* Segment 2: both; the one named keeps from the lowest index, though
   * "backup" comes first by name. */
  CHECK(out[2].kept == NWAL_KEPT_HELD);
  CHECK(out[2].holds == 2 && out[2].hold_index == 2 && strcmp(out[2].hold_name, "replica") == 0);
  CHECK(out[3].kept == (NWAL_KEPT_ACTIVE | NWAL_KEPT_HELD) && out[3].holds == 2);
  /* Two holds at the same index: the first by name is named. */
  CHECK_OK(nwal_hold(w, "backup", 2));
  retention(w, 1000000, dir, refs, out);
  CHECK(out[2].holds == 2 && out[2].hold_index == 2 && strcmp(out[2].hold_name, "backup") == 0);
  /* Not expired and held: both reasons. */
  retention(w, 3999, dir, refs, out);
  CHECK(out[0].deleted_by == NWAL_DELETE_EXPIRED);
  CHECK(out[1].kept == (NWAL_KEPT_HELD | NWAL_KEPT_NOT_EXPIRED));
  retention(w, 1000000, dir, refs, out);
  cleanup_agrees(w, 1000000, out);
  CHECK_OK(nwal_close(w));

  /* A lag limit of one byte: the holds lag past it, so retention leaves
   * them out (what cleanup would do once it dropped them) and keeps them. */
  o.max_hold_lag_bytes = 1;
  CHECK_OK(nwal_open(dir, "ret", &o, &w));
  size_t n = 0;
  CHECK_OK(nwal_retention(w, 1000000, out, SLOTS, &n));
  CHECK(n == SEGMENTS - 1);
  CHECK(out[0].segment_id == refs[1].segment_id && out[0].deleted_by == NWAL_DELETE_EXPIRED);
  CHECK(out[1].deleted_by == NWAL_DELETE_EXPIRED && out[2].kept == NWAL_KEPT_ACTIVE);
  CHECK(unheld(&out[0]) && unheld(&out[1]) && unheld(&out[2]));
  uint64_t at = 0;
  CHECK_OK(nwal_hold_get(w, "replica", &at));
  CHECK(at == 2);
  CHECK_OK(nwal_close(w));
}

/* The size budget: over it, the oldest sealed segments go before they
 * expire; within it, the unexpired ones say so. */
static void size_budget(void) {
  char dir[300];
  test_path(dir, sizeof dir, "budget");
  nwal_options o = test_options(WINDOW, KEPT_AFTER);
  nwal_entry_ref refs[SEGMENTS];
  nwal *w = filled(dir, &o, refs);
  CHECK_OK(nwal_close(w));
  /* A budget that holds the newest two files exactly. */
  o.max_stream_bytes =
      segment_file_size(dir, refs[2].segment_id) + segment_file_size(dir, refs[3].segment_id);
  CHECK_OK(nwal_open(dir, "ret", &o, &w));
  nwal_segment_retention out[SLOTS];
  retention(w, 0, dir, refs, out);
  CHECK(out[0].deleted_by == NWAL_DELETE_SIZE_BUDGET && out[0].kept == 0);
  CHECK(out[1].deleted_by == NWAL_DELETE_SIZE_BUDGET && out[1].kept == 0);
  CHECK(out[2].kept == (NWAL_KEPT_NOT_EXPIRED | NWAL_KEPT_WITHIN_BUDGET));
  CHECK(out[3].kept == (NWAL_KEPT_ACTIVE | NWAL_KEPT_NOT_EXPIRED | NWAL_KEPT_WITHIN_BUDGET));
  /* At 3000 the first has expired: expiry is named before the budget. */
  retention(w, 3000, dir, refs, out);
  CHECK(out[0].deleted_by == NWAL_DELETE_EXPIRED);
  CHECK(out[1].deleted_by == NWAL_DELETE_SIZE_BUDGET);
  /* A hold at segment 1 stops the budget there: the rest stays, over it. */
  CHECK_OK(nwal_hold(w, "replica", 2));
  retention(w, 0, dir, refs, out);
  CHECK(out[0].deleted_by == NWAL_DELETE_SIZE_BUDGET);
  CHECK(out[1].kept == (NWAL_KEPT_HELD | NWAL_KEPT_NOT_EXPIRED));
  CHECK(out[2].kept == (NWAL_KEPT_HELD | NWAL_KEPT_NOT_EXPIRED));
  CHECK_OK(nwal_hold_release(w, "replica"));
  retention(w, 0, dir, refs, out);
  cleanup_agrees(w, 0, out);
  CHECK_OK(nwal_close(w));
}

int main(void) {
  expiry_and_arguments();
  holds();
  size_budget();
  printf("test_retention: OK\n");
  return 0;
}
