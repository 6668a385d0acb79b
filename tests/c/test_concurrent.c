/* SPDX-License-Identifier: MIT */
/* Concurrent appenders on pthreads sharing one handle (half of them durable,
 * exercising group commit), with a concurrent reader; then every ref reads
 * back its own bytes and the refs are totally ordered. */
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>

#define THREADS 4
#define PER_THREAD 500

static nwal *w;
static nwal_entry_ref refs[THREADS][PER_THREAD];
static const int64_t now = 1711234567890;

static void *appender(void *arg) {
  int t = (int)(intptr_t)arg;
  for (int i = 0; i < PER_THREAD; i++) {
    char content[32];
    int len = snprintf(content, sizeof content, "t%d-i%d", t, i);
    uint32_t flags = (t % 2 == 0 && i % 10 == 0) ? NWAL_DURABLE : 0;
    if (i % 50 == 49) {
      /* A small batch now and then. */
      nwal_write_entry e[2] = {{NULL, 0, (const uint8_t *)content, (size_t)len},
                               {(const uint8_t *)"x", 1, (const uint8_t *)"batched", 7}};
      nwal_entry_ref r2[2];
      CHECK_OK(nwal_append_batch(w, e, 2, now, flags, r2));
      refs[t][i] = r2[0];
      CHECK(r2[1].segment_id == r2[0].segment_id && r2[1].offset == r2[0].offset + r2[0].size);
    } else {
      CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)content, (size_t)len, now, flags, &refs[t][i]));
    }
  }
  return NULL;
}

/* Atomic, not volatile: volatile is a data race in C11 (ThreadSanitizer
 * reports it). */
static atomic_int stop_reader;

static void *reader(void *arg) {
  (void)arg;
  /* Reads what thread 0 has published so far, again and again. */
  while (!atomic_load(&stop_reader)) {
    nwal_iter *it = NULL;
    CHECK_OK(nwal_iter_open(w, NULL, &it));
    nwal_record r;
    nwal_status s;
    while ((s = nwal_iter_next(it, &r, NULL)) == NWAL_OK) CHECK(r.content_len > 0);
    CHECK_STATUS(s, NWAL_DONE);
    nwal_iter_free(it);
  }
  return NULL;
}

static int cmp_ref(const void *a, const void *b) {
  const nwal_entry_ref *x = a, *y = b;
  if (x->segment_id != y->segment_id) return x->segment_id < y->segment_id ? -1 : 1;
  if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
  return 0;
}

int main(void) {
  char dir[300];
  test_path(dir, sizeof dir, "wal");
  CHECK_OK(nwal_open(dir, "concurrent", NULL, &w));

  pthread_t th[THREADS], rd;
  CHECK(pthread_create(&rd, NULL, reader, NULL) == 0);
  for (int t = 0; t < THREADS; t++)
    CHECK(pthread_create(&th[t], NULL, appender, (void *)(intptr_t)t) == 0);
  for (int t = 0; t < THREADS; t++) CHECK(pthread_join(th[t], NULL) == 0);
  atomic_store(&stop_reader, 1);
  CHECK(pthread_join(rd, NULL) == 0);

  /* Every ref reads back its own content. */
  for (int t = 0; t < THREADS; t++) {
    nwal_record recs[PER_THREAD];
    nwal_read_buf *buf = NULL;
    CHECK_OK(nwal_read_batch(w, refs[t], PER_THREAD, recs, &buf));
    for (int i = 0; i < PER_THREAD; i++) {
      char content[32];
      snprintf(content, sizeof content, "t%d-i%d", t, i);
      CHECK(record_is(&recs[i], NULL, content));
    }
    nwal_read_buf_free(buf);
  }

  /* No two records overlap: sorted by (segment, offset), each ends at or
   * before the next begins. */
  static nwal_entry_ref all[THREADS * PER_THREAD];
  memcpy(all, refs, sizeof all);
  qsort(all, THREADS * PER_THREAD, sizeof all[0], cmp_ref);
  for (int i = 1; i < THREADS * PER_THREAD; i++) {
    if (all[i].segment_id == all[i - 1].segment_id)
      CHECK(all[i - 1].offset + all[i - 1].size <= all[i].offset);
  }

  /* Iteration sees every record exactly once, in ref order. */
  nwal_iter *it = NULL;
  CHECK_OK(nwal_iter_open(w, NULL, &it));
  nwal_record r;
  nwal_entry_ref ref, prev = {0, 0, 0, 0};
  int n = 0;
  nwal_status s;
  while ((s = nwal_iter_next(it, &r, &ref)) == NWAL_OK) {
    if (n > 0) CHECK(cmp_ref(&prev, &ref) < 0);
    prev = ref;
    n++;
  }
  CHECK_STATUS(s, NWAL_DONE);
  CHECK(n == THREADS * PER_THREAD + THREADS * (PER_THREAD / 50));
  nwal_iter_free(it);

  CHECK_OK(nwal_close(w));
  printf("test_concurrent: OK (%d records)\n", n);
  return 0;
}
