/* SPDX-License-Identifier: MIT */
/* tail_epoll: a replica's loop. A writer thread appends COUNT records
 * without waiting for each, then waits once for the last to be durable
 * (nwal_wait_durable); the main thread follows only durable records
 * (NWAL_FOLLOW_DURABLE), woken by epoll on the log's event fd, the way a
 * server puts the log into the event loop it already runs. It prints how
 * many records it shipped and how often epoll woke it.
 *
 *   usage: tail_epoll [DIR] [COUNT]   (default DIR: ./tail-wal, COUNT: 1000)
 */
#define _POSIX_C_SOURCE 200809L
#include <nano_wal.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static int report(const char *what, nwal_status s) {
  fprintf(stderr, "tail_epoll: %s failed: %s: %s\n", what, nwal_status_name(s),
          nwal_last_error_message());
  return 1;
}

struct writer {
  nwal *w;
  uint64_t count;
  nwal_status status;
};

/* Append `count` records, then make them durable with one wait. */
static void *write_records(void *arg) {
  struct writer *wr = arg;
  nwal_entry_ref r = {0};
  for (uint64_t i = 0; i < wr->count; i++) {
    char msg[32];
    int len = snprintf(msg, sizeof msg, "record %llu", (unsigned long long)i);
    wr->status = nwal_append(wr->w, NULL, 0, (const uint8_t *)msg, (size_t)len,
                             1711234567890, 0, &r);
    if (wr->status != NWAL_OK) break;
  }
  /* Everything is durable once the last record is (the log is a prefix). */
  if (wr->status == NWAL_OK) wr->status = nwal_wait_durable(wr->w, r.index, -1);
  /* On failure, shutting down wakes the follower (NWAL_DONE). */
  if (wr->status != NWAL_OK) nwal_shutdown(wr->w);
  return NULL;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "tail-wal";
  uint64_t count = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000;
  nwal *w = NULL;
  nwal_follower *f = NULL;
  int ep = -1, rc = 0;
  nwal_status s = nwal_open(dir, "tail", NULL, &w);
  if (s != NWAL_OK) return report("nwal_open", s);
  nwal_log_state st;
  nwal_log_state_get(w, &st);
  if ((s = nwal_follow_open(w, st.last_index + 1, NWAL_FOLLOW_DURABLE, &f)) != NWAL_OK) {
    rc = report("nwal_follow_open", s);
    goto out;
  }
  int fd;
  if ((s = nwal_event_fd(w, &fd)) != NWAL_OK) {
    rc = report("nwal_event_fd", s);
    goto out;
  }
  ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN};
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
    perror("tail_epoll: epoll");
    rc = 1;
    goto out;
  }

  struct writer wr = {.w = w, .count = count};
  pthread_t t;
  pthread_create(&t, NULL, write_records, &wr);
  uint64_t shipped = 0, wakeups = 0;
  while (shipped < count) {
    /* Clear first, then take everything there: a record made durable after
     * the clear makes the fd readable again, so no wake-up is lost. */
    nwal_event_clear(w);
    for (;;) {
      nwal_record rec;
      nwal_entry_ref r;
      s = nwal_follow_next(f, 0, &rec, &r);
      if (s == NWAL_TIMED_OUT) break;
      if (s != NWAL_OK) {
        rc = report("nwal_follow_next", s);
        break;
      }
      shipped++; /* a replica would send rec.content to its peers here */
    }
    if (rc != 0 || shipped == count) break;
    struct epoll_event got;
    if (epoll_wait(ep, &got, 1, -1) < 0) {
      perror("tail_epoll: epoll_wait");
      rc = 1;
      break;
    }
    wakeups++;
  }
  pthread_join(t, NULL);
  if (rc == 0 && wr.status != NWAL_OK) rc = report("the writer", wr.status);
  if (rc == 0) {
    printf("shipped %llu durable record(s), woken %llu time(s)\n",
           (unsigned long long)shipped, (unsigned long long)wakeups);
    printf("tail_epoll: OK\n");
  }
out:
  if (ep >= 0) close(ep);
  nwal_follow_free(f);
  s = nwal_close(w);
  if (rc == 0 && s != NWAL_OK) rc = report("nwal_close", s);
  return rc;
}
