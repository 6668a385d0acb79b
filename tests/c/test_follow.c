/* SPDX-License-Identifier: MIT */
/* Followers, waiting for durability and the event fd through the C API:
 *
 *  - nwal_wait_durable: NWAL_TIMED_OUT with a timeout of 0 (no fdatasync
 *    started), NWAL_OK once synced, NWAL_ERR_NOT_FOUND past the last index,
 *    NULL handle;
 *  - a follower returns every record in order, NWAL_TIMED_OUT at the end,
 *    and wakes in another thread when a record is appended; a durable
 *    follower only returns what a sync made durable;
 *  - NWAL_CUT after a truncation that dropped returned records (with the
 *    index it goes on at in out_ref), NWAL_GAP after a purge;
 *  - the event fd: readable at first, cleared, readable after an append,
 *    and the documented loop (clear, drain, poll) wakes in poll() for an
 *    append from another thread, then for the shutdown (NWAL_DONE);
 *  - bad arguments: NULL follower, NULL out_rec, unknown flags, a `from`
 *    outside the log, a closed log.
 * Threads are paced by what they wait for, never by sleeps. */
#include "check.h"

#include <poll.h>
#include <pthread.h>

static const int64_t T = 1711234567890;

static nwal_entry_ref append(nwal *w, const char *content, uint32_t flags) {
  nwal_entry_ref r;
  CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)content, strlen(content), T, flags, &r));
  return r;
}

/* The follower's next record must be `index` with `content`. */
static void next_is(nwal_follower *f, int64_t timeout_ms, uint64_t index, const char *content) {
  nwal_record rec;
  nwal_entry_ref r;
  CHECK_OK(nwal_follow_next(f, timeout_ms, &rec, &r));
  CHECK(r.index == index);
  CHECK(record_is(&rec, NULL, content));
}

static int readable(int fd, int timeout_ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int n = poll(&p, 1, timeout_ms);
  CHECK(n >= 0);
  return n == 1 && (p.revents & POLLIN);
}

static void wait_durable(void) {
  char dir[300];
  nwal *w = NULL;
  CHECK_OK(nwal_open(test_path(dir, sizeof dir, "wait"), "s", NULL, &w));
  nwal_entry_ref r = append(w, "a", 0);
  append(w, "b", 0);
  CHECK_STATUS(nwal_wait_durable(w, r.index, 0), NWAL_TIMED_OUT);
  nwal_log_state st;
  CHECK_OK(nwal_log_state_get(w, &st));
  CHECK(st.durable_index == 0);
  CHECK_OK(nwal_wait_durable(w, r.index, -1));
  CHECK_OK(nwal_log_state_get(w, &st));
  CHECK(st.durable_index == 2); /* one sync covers both */
  CHECK_OK(nwal_wait_durable(w, 1, 0));
  CHECK_STATUS(nwal_wait_durable(w, 3, -1), NWAL_ERR_NOT_FOUND);
  CHECK(strstr(nwal_last_error_message(), "nwal_wait_durable") != NULL);
  CHECK_STATUS(nwal_wait_durable(NULL, 1, 0), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_OK(nwal_close(w));
}

struct waiter {
  nwal_follower *f;
  nwal_status status;
  nwal_entry_ref ref;
};

static void *wait_next(void *arg) {
  struct waiter *wt = arg;
  nwal_record rec;
  wt->status = nwal_follow_next(wt->f, -1, &rec, &wt->ref);
  return NULL;
}

static void follow(void) {
  char dir[300];
  nwal *w = NULL;
  CHECK_OK(nwal_open(test_path(dir, sizeof dir, "follow"), "s", NULL, &w));
  append(w, "one", 0);
  append(w, "two", 0);
  nwal_follower *f = NULL, *d = NULL;
  CHECK_OK(nwal_follow_open(w, 1, 0, &f));
  CHECK_OK(nwal_follow_open(w, 1, NWAL_FOLLOW_DURABLE, &d));
  next_is(f, 0, 1, "one");
  next_is(f, 0, 2, "two");
  nwal_record rec;
  CHECK_STATUS(nwal_follow_next(f, 0, &rec, NULL), NWAL_TIMED_OUT);
  CHECK_STATUS(nwal_follow_next(d, 0, &rec, NULL), NWAL_TIMED_OUT); /* nothing durable */

  /* A waiting follower wakes for the append. */
  struct waiter wt = {.f = f};
  pthread_t t;
  CHECK(pthread_create(&t, NULL, wait_next, &wt) == 0);
  append(w, "three", 0);
  CHECK(pthread_join(t, NULL) == 0);
  CHECK(wt.status == NWAL_OK && wt.ref.index == 3);

  /* The durable follower wakes for the sync, which covers all three. */
  wt.f = d;
  CHECK(pthread_create(&t, NULL, wait_next, &wt) == 0);
  CHECK_OK(nwal_sync(w));
  CHECK(pthread_join(t, NULL) == 0);
  CHECK(wt.status == NWAL_OK && wt.ref.index == 1);
  next_is(d, 0, 2, "two");
  next_is(d, 0, 3, "three");

  /* A truncation below what it returned: NWAL_CUT, then the new record. */
  CHECK_OK(nwal_truncate_after(w, 1));
  append(w, "new two", 0);
  nwal_entry_ref at;
  CHECK_STATUS(nwal_follow_next(f, 0, &rec, &at), NWAL_CUT);
  CHECK(at.index == 2 && at.segment_id == 0 && at.size == 0);
  next_is(f, 0, 2, "new two");

  /* A purge past a follower that had not got there: NWAL_GAP. */
  nwal_follower *g = NULL;
  CHECK_OK(nwal_follow_open(w, 1, 0, &g));
  CHECK_OK(nwal_purge_before(w, 2));
  CHECK_STATUS(nwal_follow_next(g, 0, &rec, &at), NWAL_GAP);
  CHECK(at.index == 2);
  next_is(g, 0, 2, "new two");
  nwal_follow_free(g);

  /* Bad arguments. */
  CHECK_STATUS(nwal_follow_next(NULL, 0, &rec, NULL), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_follow_next(f, 0, NULL, NULL), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nwal_last_error_message(), "out_rec") != NULL);
  CHECK_STATUS(nwal_follow_open(w, 1, 2, &g), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nwal_last_error_message(), "flag") != NULL);
  CHECK_STATUS(nwal_follow_open(w, 1, 0, &g), NWAL_ERR_NOT_FOUND); /* purged */
  CHECK_STATUS(nwal_follow_open(w, 4, 0, &g), NWAL_ERR_NOT_FOUND);
  CHECK_STATUS(nwal_follow_open(w, 2, 0, NULL), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_follow_open(NULL, 2, 0, &g), NWAL_ERR_INVALID_ARGUMENT);

  /* Closing the log ends the followers after what is left. */
  append(w, "last", 0);
  CHECK_OK(nwal_close(w));
  next_is(f, -1, 3, "last");
  CHECK_STATUS(nwal_follow_next(f, -1, &rec, NULL), NWAL_DONE);
  CHECK_STATUS(nwal_follow_next(d, -1, &rec, &at), NWAL_CUT); /* it had returned 2 and 3 */
  CHECK(at.index == 2);
  next_is(d, -1, 2, "new two");
  next_is(d, -1, 3, "last"); /* the close synced it */
  CHECK_STATUS(nwal_follow_next(d, -1, &rec, NULL), NWAL_DONE);
  nwal_follow_free(f);
  nwal_follow_free(d);
  nwal_follow_free(NULL);
}

static void *append_one(void *arg) {
  append(arg, "from a thread", 0);
  return NULL;
}

static void event_fd(void) {
  char dir[300];
  nwal *w = NULL;
  CHECK_OK(nwal_open(test_path(dir, sizeof dir, "event"), "s", NULL, &w));
  CHECK_OK(nwal_event_clear(w)); /* nothing to do yet */
  int fd = -1, again = -1;
  CHECK_OK(nwal_event_fd(w, &fd));
  CHECK(fd >= 0);
  CHECK_OK(nwal_event_fd(w, &again));
  CHECK(again == fd);
  CHECK(readable(fd, 0));
  CHECK_OK(nwal_event_clear(w));
  CHECK(!readable(fd, 0));
  append(w, "a", 0);
  CHECK(readable(fd, 0));

  /* The loop of the header: clear, drain, poll. */
  nwal_follower *f = NULL;
  CHECK_OK(nwal_follow_open(w, 1, 0, &f));
  pthread_t t;
  int got = 0, done = 0, polls = 0, started = 0;
  while (!done) {
    CHECK_OK(nwal_event_clear(w));
    for (;;) {
      nwal_record rec;
      nwal_status s = nwal_follow_next(f, 0, &rec, NULL);
      if (s == NWAL_TIMED_OUT) break;
      if (s == NWAL_DONE) {
        done = 1;
        break;
      }
      CHECK_STATUS(s, NWAL_OK);
      if (++got == 2) {
        CHECK(pthread_join(t, NULL) == 0);
        CHECK_OK(nwal_shutdown(w));
      }
    }
    if (!done) {
      /* The other thread appends once this one has drained, so it must
       * wake in (or pass through) poll() for that record. */
      if (!started) CHECK(pthread_create(&t, NULL, append_one, w) == 0);
      started = 1;
      CHECK(readable(fd, -1));
      polls++;
    }
  }
  CHECK(got == 2 && polls >= 1);
  CHECK_STATUS(nwal_event_fd(NULL, &fd), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_event_fd(w, NULL), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_event_clear(NULL), NWAL_ERR_INVALID_ARGUMENT);
  nwal_follow_free(f);
  CHECK_OK(nwal_close(w));
}

int main(void) {
  wait_durable();
  follow();
  event_fd();
  printf("test_follow: ok\n");
  return 0;
}
