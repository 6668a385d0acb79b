/* SPDX-License-Identifier: MIT */
/* Rotation and cleanup under concurrency, through the C API from pthreads
 * sharing one handle:
 *
 *  - APPENDERS threads append singles, nwal_append_batch and
 *    nwal_append_batch_packed batches of 1-8 records (some NWAL_DURABLE, 1 in
 *    8 late by up to 1.5 windows), with a shared clock that advances 10 ms
 *    per operation through 1 s windows, and a 64 KiB size cap, so the log
 *    rotates through dozens of segments (by time and by size) while the
 *    others append, read and iterate;
 *  - a cleanup thread calls nwal_cleanup with a clock trailing the
 *    appenders' by LAG_MS, so expired segments are deleted under the
 *    readers' feet (main first appends a prologue of older records, deleted
 *    by the first cleanup: deletion while appending is certain);
 *  - READERS threads nwal_read_batch refs already acknowledged (there is no
 *    single-record read function: a batch of one is the single read);
 *  - an iterator thread replays the whole log, and from acknowledged refs;
 *  - a follower thread (nwal_follow_next) follows the log from its first
 *    index to its end: every record it returns is one of ours with its
 *    exact bytes and acknowledged ref, at the next index (or, after
 *    NWAL_GAP, the index reported: cleanup deleted records ahead of it),
 *    never NWAL_CUT; at the end it has reached one past the last index.
 *
 * What may be deleted is known: the cleanup thread publishes its bound B
 * (the largest now_ms it has passed to nwal_cleanup) before each call. A
 * record appended at now_ms lives in a segment whose window starts at or
 * after floor(now_ms / DUR) * DUR (rotation only moves forward), so its
 * segment expires at or after exp_lb = window + DUR + RET. A ref with
 * exp_lb > B must read back exactly; any other ref reads back exactly or
 * gives NWAL_ERR_NOT_FOUND, never other bytes; once a thread saw a segment
 * deleted it never reads that one or an older one again. nwal_iter_open
 * from a ref gives NOT_FOUND only for a ref that may be deleted. The header
 * lists no NWAL_ERR_NOT_FOUND for nwal_iter_next, so a replay must always
 * end with NWAL_DONE (an iterator inside a deleted segment finishes it from
 * its open file; segments deleted before it gets there are not visited),
 * yield records of ours with their acknowledged refs in strictly increasing
 * order, contiguous within a segment, and yield every record acknowledged
 * before it was opened whose exp_lb is above the bound read after it ended.
 *
 * At the end, and again after close + reopen: every ref reads back its own
 * bytes (header and content encode thread and index) or NOT_FOUND, and
 * NOT_FOUND exactly when its segment file (named as docs/FORMAT.md says) is
 * gone; the deleted segments are a prefix of the ids; the files left are
 * as many as nwal_cleanup reported and none but the active one has expired
 * by B; refs of all threads never overlap, per-thread refs are strictly
 * increasing, batches are contiguous, segments respect the size cap; and a
 * replay yields exactly the live records, in ref order, contiguous from
 * each segment's first record, nothing doubled.
 *
 * Deterministic checks: seeded per-thread randomness; threads pace each
 * other with a mutex and condition variable on the appenders' progress
 * (never sleeps), and the appenders wait once, at 3/4 of their operations,
 * for two rounds of every other thread. NWAL_ROTATION_OPS overrides the
 * operations per appender (default 600; e.g. 5000 for a longer run). */
#include "check.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define APPENDERS 4
#define PROLOGUE APPENDERS /* slot of the records main appends first */
#define NSLOTS (APPENDERS + 1)
#define PROLOGUE_RECORDS 200
#define READERS 2
#define DEFAULT_OPS 600  /* operations per appender */
#define MAX_BATCH 8      /* records per batch, at most */
#define MAX_OPS 100000
#define DUR 1000         /* segment_duration_ms */
#define RET 1000         /* retention_ms (the minimum: one window) */
#define STEP 10          /* clock advance per append operation, ms */
#define LAG_MS 3000      /* the cleanup clock trails the appenders' by this */
#define CAP 65536        /* max_segment_bytes (the minimum) */
#define MAX_CONTENT 720
#define READ_ROUNDS 150  /* per reader */
#define ITER_ROUNDS 16
#define CLEANUP_ROUNDS 40

static const int64_t T0 = 1711234560000; /* a multiple of DUR */

static nwal *w;
static const char *dir;
static nwal_options opts;
static int ops; /* operations per appender */
static int cap_records; /* per slot: ops * MAX_BATCH */

/* Per slot (an appender, or main's prologue): refs[t][i] and exp_lb[t][i] of
 * its i-th record, written by its writer only, then published by a release
 * store of count[t]. */
static nwal_entry_ref *refs[NSLOTS];
static int64_t *exp_lb[NSLOTS];
static int *batch_first[NSLOTS]; /* index of the first record of i's batch */
static int *batch_len[NSLOTS];
static atomic_int count[NSLOTS];

static atomic_llong tick;   /* the appenders' clock: T0 + tick * STEP */
static atomic_llong bound;  /* largest now_ms passed to nwal_cleanup so far */

/* Pacing: appenders count finished operations; the others wait for
 * progress thresholds; appenders wait (once, at 3/4) for two rounds of
 * every other thread, so those rounds overlap appends deterministically. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long progress;
static int appenders_done;
static int cleanup_rounds, iter_rounds, read_rounds[READERS];

/* Totals, for the report and the final checks. */
static atomic_llong deleted_total, deleted_during_appends, cleanup_calls;
static atomic_llong reads_ok, reads_not_found, batch_reads, iter_records, iterations;
static atomic_llong iter_opens_not_found;
static uint64_t last_live_segments;

/* ---- records ------------------------------------------------------------ */

static uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

typedef struct {
  uint64_t s;
} rng;
static uint64_t rnd(rng *r) { return mix(r->s++); }
static uint64_t below(rng *r, uint64_t n) { return rnd(r) % n; }

/* Record (t, i): header absent, empty or "h<t>.<i>" (by i % 3); content
 * "t<t>.i<i>;" then seeded filler, 16..MAX_CONTENT bytes. */
typedef struct {
  int has_header;
  size_t hlen;
  char header[32];
  size_t clen;
  uint8_t content[MAX_CONTENT];
} rec_bytes;

static void make_record(int t, int i, rec_bytes *r) {
  uint64_t h = mix(((uint64_t)t << 32) | (uint64_t)i);
  r->has_header = i % 3 != 0;
  r->hlen = i % 3 == 2 ? (size_t)snprintf(r->header, sizeof r->header, "h%d.%d", t, i) : 0;
  r->clen = 16 + (size_t)(h % (MAX_CONTENT - 16));
  int p = snprintf((char *)r->content, MAX_CONTENT, "t%d.i%d;", t, i);
  for (size_t k = (size_t)p; k < r->clen; k++) r->content[k] = (uint8_t)(h >> (k % 56)) ^ (uint8_t)k;
}

/* True when `got` is exactly record (t, i). */
static int record_matches(const nwal_record *got, int t, int i) {
  rec_bytes e;
  make_record(t, i, &e);
  if (got->content_len != e.clen || memcmp(got->content, e.content, e.clen) != 0) return 0;
  if (!e.has_header) return got->header == NULL && got->header_len == 0;
  return got->header != NULL && got->header_len == e.hlen &&
         (e.hlen == 0 || memcmp(got->header, e.header, e.hlen) == 0);
}

/* Which record a replay returned: parses "t<t>.i<i>;", then checks every
 * byte. */
static void identify(const nwal_record *got, int *t, int *i) {
  char head[32];
  size_t n = got->content_len < sizeof head - 1 ? got->content_len : sizeof head - 1;
  memcpy(head, got->content, n);
  head[n] = '\0';
  CHECK(sscanf(head, "t%d.i%d;", t, i) == 2);
  CHECK(*t >= 0 && *t < NSLOTS && *i >= 0 && *i < cap_records);
  CHECK(record_matches(got, *t, *i));
}

static int cmp_ref(const nwal_entry_ref *x, const nwal_entry_ref *y) {
  if (x->segment_id != y->segment_id) return x->segment_id < y->segment_id ? -1 : 1;
  if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
  return 0;
}

static int ref_eq(const nwal_entry_ref *x, const nwal_entry_ref *y) {
  return x->segment_id == y->segment_id && x->offset == y->offset && x->size == y->size &&
         x->index == y->index;
}

static int64_t exp_lower_bound(int64_t now_ms) {
  int64_t window = now_ms - ((now_ms % DUR) + DUR) % DUR;
  return window + DUR + RET;
}

/* ---- pacing ------------------------------------------------------------- */

static long total_ops(void) { return (long)APPENDERS * ops; }

/* Wait until the appenders finished `target` operations (or all of them). */
static void wait_progress(long target) {
  pthread_mutex_lock(&mu);
  while (progress < target && !appenders_done) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
}

static void bump(int *counter) {
  pthread_mutex_lock(&mu);
  (*counter)++;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}

/* ---- appenders ---------------------------------------------------------- */

static void publish(int t, int first, int n, const nwal_entry_ref *out, int64_t now_ms) {
  for (int k = 0; k < n; k++) {
    int i = first + k;
    /* Totally ordered per thread (and within a batch: contiguous). */
    if (i > 0) CHECK(cmp_ref(&refs[t][i - 1], &out[k]) < 0);
    if (k > 0) {
      CHECK(out[k].segment_id == out[k - 1].segment_id);
      CHECK(out[k].offset == out[k - 1].offset + out[k - 1].size);
    }
    CHECK(out[k].offset + out[k].size <= CAP);
    refs[t][i] = out[k];
    exp_lb[t][i] = exp_lower_bound(now_ms);
    batch_first[t][i] = first;
    batch_len[t][i] = n;
  }
  atomic_store_explicit(&count[t], first + n, memory_order_release);
}

static void *appender(void *arg) {
  int t = (int)(intptr_t)arg;
  rng r = {1000 + (uint64_t)t};
  int next = 0;
  rec_bytes recs[MAX_BATCH];
  uint8_t packed[MAX_BATCH * (MAX_CONTENT + 32)];
  for (int op = 0; op < ops; op++) {
    if (op == ops * 3 / 4) {
      /* Make sure cleanups, reads and iterations ran while appends go on. */
      pthread_mutex_lock(&mu);
      for (;;) {
        int ok = cleanup_rounds >= 2 && iter_rounds >= 2;
        for (int k = 0; k < READERS; k++) ok = ok && read_rounds[k] >= 2;
        if (ok) break;
        pthread_cond_wait(&cv, &mu);
      }
      if (t == 0) atomic_store(&deleted_during_appends, atomic_load(&deleted_total));
      pthread_mutex_unlock(&mu);
    }
    int64_t now = T0 + atomic_fetch_add(&tick, 1) * STEP;
    if (below(&r, 8) == 0) now -= (int64_t)below(&r, DUR * 3 / 2); /* late */
    uint32_t flags = below(&r, t % 2 == 0 ? 4 : 25) == 0 ? NWAL_DURABLE : 0;
    int kind = (int)below(&r, 4); /* 0, 1: single; 2: batch; 3: packed */
    int n = kind < 2 ? 1 : 1 + (int)below(&r, MAX_BATCH);
    for (int k = 0; k < n; k++) make_record(t, next + k, &recs[k]);
    nwal_entry_ref out[MAX_BATCH];
    if (kind < 2) {
      CHECK_OK(nwal_append(w, recs[0].has_header ? (const uint8_t *)recs[0].header : NULL,
                           recs[0].hlen, recs[0].content, recs[0].clen, now, flags, &out[0]));
    } else {
      nwal_write_entry e[MAX_BATCH];
      for (int k = 0; k < n; k++) {
        e[k].header = recs[k].has_header ? (const uint8_t *)recs[k].header : NULL;
        e[k].header_len = recs[k].hlen;
        e[k].content = recs[k].content;
        e[k].content_len = recs[k].clen;
      }
      if (kind == 2) {
        CHECK_OK(nwal_append_batch(w, e, (size_t)n, now, flags, out));
      } else {
        nwal_span s[MAX_BATCH];
        size_t len = pack_entries(e, (size_t)n, packed, s);
        CHECK_OK(nwal_append_batch_packed(w, packed, len, s, (size_t)n, now, flags, out));
      }
    }
    publish(t, next, n, out, now);
    next += n;
    pthread_mutex_lock(&mu);
    progress++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
  }
  return NULL;
}

/* ---- cleanup ------------------------------------------------------------ */

static void cleanup_at(int64_t b) {
  /* Publish the bound before the call: whoever sees a deletion sees it. */
  int64_t cur = atomic_load(&bound);
  if (b > cur) atomic_store(&bound, b);
  nwal_cleanup_result res;
  CHECK_OK(nwal_cleanup(w, atomic_load(&bound), &res));
  CHECK(res.live_segments >= 1);
  CHECK((res.deleted_segments == 0) == (res.bytes_reclaimed == 0));
  atomic_fetch_add(&deleted_total, (long long)res.deleted_segments);
  atomic_fetch_add(&cleanup_calls, 1);
  last_live_segments = res.live_segments;
}

static void *cleaner(void *arg) {
  (void)arg;
  for (int k = 1; k <= CLEANUP_ROUNDS; k++) {
    wait_progress(total_ops() * k / (CLEANUP_ROUNDS + 1));
    cleanup_at(T0 + atomic_load(&tick) * STEP - LAG_MS);
    bump(&cleanup_rounds);
  }
  return NULL;
}

/* ---- readers ------------------------------------------------------------ */

typedef struct {
  int t, i;
} pick;

/* A random acknowledged record: with `recent`, one of the newest 64 of an
 * appender (likely live), else any (likely deleted). */
static int choose(rng *r, pick *p, int recent) {
  int t = (int)below(r, recent ? APPENDERS : NSLOTS);
  int n = atomic_load_explicit(&count[t], memory_order_acquire);
  if (n == 0) return 0;
  int i = recent ? n - 1 - (int)below(r, n < 64 ? (uint64_t)n : 64) : (int)below(r, (uint64_t)n);
  p->t = t;
  p->i = i;
  return 1;
}

/* Read one ref alone: its exact bytes, or NOT_FOUND when it may be deleted.
 * Returns 1 when found. `max_gone` is the highest segment this thread has
 * seen deleted: deletion is permanent and takes a prefix of the segments. */
static int read_one(int t, int i, uint64_t *max_gone) {
  nwal_record rec;
  nwal_read_buf *buf = NULL;
  nwal_status s = nwal_read_batch(w, &refs[t][i], 1, &rec, &buf);
  if (s == NWAL_OK) {
    CHECK(record_matches(&rec, t, i));
    CHECK(refs[t][i].segment_id > *max_gone);
    nwal_read_buf_free(buf);
    atomic_fetch_add(&reads_ok, 1);
    return 1;
  }
  CHECK_STATUS(s, NWAL_ERR_NOT_FOUND);
  CHECK(buf == NULL);
  /* Deleted: only allowed below the cleanup bound. */
  CHECK(exp_lb[t][i] <= atomic_load(&bound));
  if (refs[t][i].segment_id > *max_gone) *max_gone = refs[t][i].segment_id;
  atomic_fetch_add(&reads_not_found, 1);
  return 0;
}

static void *reader(void *arg) {
  int id = (int)(intptr_t)arg;
  rng r = {2000 + (uint64_t)id};
  uint64_t max_gone = 0;
  for (int k = 1; k <= READ_ROUNDS; k++) {
    wait_progress(total_ops() * k / (READ_ROUNDS + 1));
    pick p[16];
    nwal_entry_ref rr[16];
    nwal_record recs[16];
    /* Odd rounds: only recent records; even rounds: a quarter any. */
    int n = 0, want = 1 + (int)below(&r, 16);
    while (n < want && choose(&r, &p[n], k % 2 == 1 || below(&r, 4) != 0)) {
      rr[n] = refs[p[n].t][p[n].i];
      n++;
    }
    if (n > 0) {
      nwal_read_buf *buf = NULL;
      nwal_status s = nwal_read_batch(w, rr, (size_t)n, recs, &buf);
      if (s == NWAL_OK) {
        /* In input order, each its own bytes. */
        for (int j = 0; j < n; j++) {
          CHECK(record_matches(&recs[j], p[j].t, p[j].i));
          CHECK(rr[j].segment_id > max_gone);
        }
        nwal_read_buf_free(buf);
        atomic_fetch_add(&batch_reads, 1);
      } else {
        /* One of them is in a deleted segment: find out which, one by one. */
        CHECK_STATUS(s, NWAL_ERR_NOT_FOUND);
        CHECK(buf == NULL);
        int64_t b = atomic_load(&bound);
        int deletable = 0;
        for (int j = 0; j < n; j++) deletable |= exp_lb[p[j].t][p[j].i] <= b;
        CHECK(deletable);
        int found = 0;
        for (int j = 0; j < n; j++) found += read_one(p[j].t, p[j].i, &max_gone);
        CHECK(found < n);
      }
    }
    bump(&read_rounds[id]);
  }
  return NULL;
}

/* ---- iterator ----------------------------------------------------------- */

/* One replay, from the start or from `from`: every record is a record of
 * ours with its exact bytes and its acknowledged ref, in strictly increasing
 * ref order, contiguous within a segment, each thread's in index order; and
 * every record acknowledged before the replay whose segment outlived it
 * (exp_lb above the bound read after it ended) was yielded. Returns the
 * number of records. `seen` is scratch space: NSLOTS * cap_records. */
static long replay_check(const nwal_entry_ref *from, int from_t, int from_i, unsigned char *seen,
                         uint64_t *header_size) {
  int before[NSLOTS];
  for (int t = 0; t < NSLOTS; t++)
    before[t] = atomic_load_explicit(&count[t], memory_order_acquire);
  int64_t bound_before = atomic_load(&bound);
  nwal_iter *it = NULL;
  nwal_status s = nwal_iter_open(w, from, &it);
  if (s != NWAL_OK) {
    /* Only `from` in a deleted segment is refused. */
    CHECK(from != NULL);
    CHECK_STATUS(s, NWAL_ERR_NOT_FOUND);
    CHECK(exp_lb[from_t][from_i] <= atomic_load(&bound));
    atomic_fetch_add(&iter_opens_not_found, 1);
    return -1;
  }
  memset(seen, 0, (size_t)NSLOTS * (size_t)cap_records);
  int last[NSLOTS];
  for (int t = 0; t < NSLOTS; t++) last[t] = -1;
  nwal_record rec;
  nwal_entry_ref ref, prev = {0, 0, 0, 0};
  long n = 0;
  while ((s = nwal_iter_next(it, &rec, &ref)) == NWAL_OK) {
    int t, i;
    identify(&rec, &t, &i);
    if (n == 0 && from != NULL) CHECK(ref_eq(&ref, from));
    if (n > 0) {
      CHECK(cmp_ref(&prev, &ref) < 0);
      if (ref.segment_id == prev.segment_id) CHECK(ref.offset == prev.offset + prev.size);
    }
    if (n == 0 || ref.segment_id != prev.segment_id) {
      /* A segment is entered at its first record (unless replay started
       * inside it). */
      if (!(n == 0 && from != NULL)) {
        if (*header_size == 0) *header_size = ref.offset;
        CHECK(ref.offset == *header_size);
      }
    }
    CHECK(i > last[t]);
    last[t] = i;
    if (i < atomic_load_explicit(&count[t], memory_order_acquire)) CHECK(ref_eq(&ref, &refs[t][i]));
    seen[(size_t)t * (size_t)cap_records + (size_t)i] = 1;
    prev = ref;
    n++;
  }
  /* The header lists no NOT_FOUND for nwal_iter_next: deletion under the
   * iterator never fails it. */
  CHECK_STATUS(s, NWAL_DONE);
  CHECK_STATUS(nwal_iter_next(it, &rec, &ref), NWAL_DONE);
  nwal_iter_free(it);
  int64_t bound_after = atomic_load(&bound);
  CHECK(bound_after >= bound_before);
  for (int t = 0; t < NSLOTS; t++) {
    int start = 0;
    if (from != NULL) {
      /* From `from` on: the records of thread t after it in log order. */
      while (start < before[t] && cmp_ref(&refs[t][start], from) < 0) start++;
    }
    for (int i = start; i < before[t]; i++)
      if (exp_lb[t][i] > bound_after) CHECK(seen[(size_t)t * (size_t)cap_records + (size_t)i]);
  }
  atomic_fetch_add(&iter_records, n);
  atomic_fetch_add(&iterations, 1);
  return n;
}

static uint64_t header_size_seen;

static void *iterator(void *arg) {
  (void)arg;
  rng r = {3000};
  unsigned char *seen = malloc((size_t)NSLOTS * (size_t)cap_records);
  CHECK(seen != NULL);
  for (int k = 1; k <= ITER_ROUNDS; k++) {
    wait_progress(total_ops() * k / (ITER_ROUNDS + 1));
    replay_check(NULL, 0, 0, seen, &header_size_seen);
    pick p;
    if (choose(&r, &p, k % 2 == 1)) {
      nwal_entry_ref from = refs[p.t][p.i];
      replay_check(&from, p.t, p.i, seen, &header_size_seen);
    }
    bump(&iter_rounds);
  }
  free(seen);
  return NULL;
}

/* ---- follower ----------------------------------------------------------- */

static atomic_int follow_stop; /* set once every append has returned */
static long long follow_records, follow_gaps, follow_skipped;
static uint64_t follow_next_index;

static void *follower(void *arg) {
  nwal_follower *f = arg;
  uint64_t next = 1;
  int last[NSLOTS];
  for (int t = 0; t < NSLOTS; t++) last[t] = -1;
  for (;;) {
    /* A bounded wait while appends go on (the wake-up comes with the next
     * append); once they are over, only what is there. */
    int stop = atomic_load(&follow_stop);
    nwal_record rec;
    nwal_entry_ref ref;
    nwal_status s = nwal_follow_next(f, stop ? 0 : 100, &rec, &ref);
    if (s == NWAL_TIMED_OUT) {
      if (stop) break;
      continue;
    }
    if (s == NWAL_GAP) {
      CHECK(ref.index > next);
      follow_skipped += (long long)(ref.index - next);
      follow_gaps++;
      next = ref.index;
      continue;
    }
    CHECK_STATUS(s, NWAL_OK);
    CHECK(ref.index == next);
    int t, i;
    identify(&rec, &t, &i);
    CHECK(i > last[t]);
    last[t] = i;
    if (i < atomic_load_explicit(&count[t], memory_order_acquire)) CHECK(ref_eq(&ref, &refs[t][i]));
    follow_records++;
    next++;
  }
  follow_next_index = next;
  nwal_follow_free(f);
  return NULL;
}

/* ---- final checks ------------------------------------------------------- */

/* The segment files of the stream, by id: docs/FORMAT.md names them
 * `{stream}_{expiration_ms}_{segment_id}.seg`. */
#define MAX_FILES 4096
static uint64_t file_id[MAX_FILES];
static int64_t file_exp[MAX_FILES];
static int file_has_refs[MAX_FILES];
static int files;

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void list_segment_files(void) {
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  static uint64_t pairs[MAX_FILES][2];
  files = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len <= 4 || strcmp(e->d_name + len - 4, ".seg") != 0) continue;
    long long exp;
    unsigned long long id;
    char tail[8];
    CHECK(sscanf(e->d_name, "rot_%lld_%llu%7s", &exp, &id, tail) == 3 && strcmp(tail, ".seg") == 0);
    CHECK(files < MAX_FILES);
    pairs[files][0] = id;
    pairs[files][1] = (uint64_t)exp;
    files++;
  }
  closedir(d);
  qsort(pairs, (size_t)files, sizeof pairs[0], cmp_u64);
  for (int k = 0; k < files; k++) {
    file_id[k] = pairs[k][0];
    file_exp[k] = (int64_t)pairs[k][1];
    file_has_refs[k] = 0;
    if (k > 0) CHECK(file_id[k] > file_id[k - 1]);
  }
}

/* Index of segment `id` among the files, or -1. */
static int find_file(uint64_t id) {
  int lo = 0, hi = files - 1;
  while (lo <= hi) {
    int mid = lo + (hi - lo) / 2;
    if (file_id[mid] == id) return mid;
    if (file_id[mid] < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/* Every ref reads back exactly (its segment file exists) or is NOT_FOUND
 * (its file is gone); the deleted segments are a prefix of the ids; the
 * files left are as many as nwal_cleanup reported, none expired but the
 * active one; a replay yields exactly the live records. Returns the number
 * of live records. */
static long final_check(const char *when, long long expect_deleted) {
  int64_t b = atomic_load(&bound);
  list_segment_files();
  uint64_t max_dead = 0, min_live = UINT64_MAX, prev_seg = 0;
  long live = 0, total = 0;
  long segments = 0, dead_segments = 0;
  uint64_t overhead = 0;
  /* Segments in id order: walk all refs of all threads merged by ref. */
  int pos[NSLOTS] = {0};
  nwal_entry_ref last_ref = {0, 0, 0, 0};
  for (;;) {
    int best = -1;
    for (int t = 0; t < NSLOTS; t++)
      if (pos[t] < count[t] && (best < 0 || cmp_ref(&refs[t][pos[t]], &refs[best][pos[best]]) < 0))
        best = t;
    if (best < 0) break;
    int t = best, i = pos[t]++;
    const nwal_entry_ref *r = &refs[t][i];
    /* Refs of different threads never overlap. */
    if (total > 0) {
      CHECK(cmp_ref(&last_ref, r) < 0);
      if (r->segment_id == last_ref.segment_id) CHECK(last_ref.offset + last_ref.size <= r->offset);
    }
    last_ref = *r;
    rec_bytes e;
    make_record(t, i, &e);
    /* The framing overhead is the same for every record. */
    CHECK(r->size > e.hlen + e.clen);
    if (overhead == 0) overhead = r->size - e.hlen - e.clen;
    CHECK(r->size - e.hlen - e.clen == overhead);
    /* Batches: contiguous in one segment. */
    int f = batch_first[t][i];
    if (i > f) {
      CHECK(refs[t][i - 1].segment_id == r->segment_id);
      CHECK(refs[t][i - 1].offset + refs[t][i - 1].size == r->offset);
    }
    CHECK(i < f + batch_len[t][i]);
    nwal_record rec;
    nwal_read_buf *buf = NULL;
    nwal_status s = nwal_read_batch(w, r, 1, &rec, &buf);
    int new_seg = total == 0 || r->segment_id != prev_seg;
    if (new_seg) segments++;
    int file = find_file(r->segment_id);
    if (s == NWAL_OK) {
      CHECK(record_matches(&rec, t, i));
      nwal_read_buf_free(buf);
      CHECK(file >= 0);
      file_has_refs[file] = 1;
      /* The segment expires no earlier than the record's own window says. */
      CHECK(file_exp[file] >= exp_lb[t][i]);
      if (r->segment_id < min_live) min_live = r->segment_id;
      live++;
    } else {
      CHECK_STATUS(s, NWAL_ERR_NOT_FOUND);
      CHECK(file < 0);
      CHECK(exp_lb[t][i] <= b);
      if (new_seg) dead_segments++;
      if (r->segment_id > max_dead) max_dead = r->segment_id;
    }
    /* A segment is deleted whole. */
    if (!new_seg) CHECK((s == NWAL_OK) == (r->segment_id >= min_live));
    prev_seg = r->segment_id;
    total++;
  }
  /* Deleted segments are a prefix of the ids. nwal_cleanup may have
   * deleted more segments than hold refs: a segment can be created for an
   * append that then finds it sealed by a concurrent rotation (to a later
   * window) and lands in the next one, leaving it empty. */
  CHECK(max_dead < min_live);
  CHECK(dead_segments <= expect_deleted);
  CHECK(files == (long)last_live_segments);
  long empty = 0;
  for (int k = 0; k < files; k++) {
    CHECK(file_id[k] > max_dead);
    /* Only the active (newest) segment outlives its expiration. */
    if (k != files - 1) CHECK(file_exp[k] > b);
    empty += !file_has_refs[k];
  }
  CHECK(file_has_refs[files - 1]);

  /* Each thread's live records in one read_batch (coalesced reads). */
  for (int t = 0; t < NSLOTS; t++) {
    int first = 0;
    while (first < count[t] && refs[t][first].segment_id < min_live) first++;
    int n = count[t] - first;
    if (n == 0) continue;
    nwal_record *recs = malloc(sizeof *recs * (size_t)n);
    CHECK(recs != NULL);
    nwal_read_buf *buf = NULL;
    CHECK_OK(nwal_read_batch(w, &refs[t][first], (size_t)n, recs, &buf));
    for (int j = 0; j < n; j++) CHECK(record_matches(&recs[j], t, first + j));
    nwal_read_buf_free(buf);
    free(recs);
  }

  /* Replay: exactly the live records, in ref order, contiguous, each once. */
  unsigned char *seen = calloc((size_t)NSLOTS * (size_t)cap_records, 1);
  CHECK(seen != NULL);
  nwal_iter *it = NULL;
  CHECK_OK(nwal_iter_open(w, NULL, &it));
  nwal_record rec;
  nwal_entry_ref ref, prev = {0, 0, 0, 0};
  long n = 0;
  nwal_status s;
  while ((s = nwal_iter_next(it, &rec, &ref)) == NWAL_OK) {
    int t, i;
    identify(&rec, &t, &i);
    CHECK(i < count[t] && ref_eq(&ref, &refs[t][i]));
    CHECK(refs[t][i].segment_id >= min_live);
    size_t k = (size_t)t * (size_t)cap_records + (size_t)i;
    CHECK(!seen[k]);
    seen[k] = 1;
    if (n > 0) {
      CHECK(cmp_ref(&prev, &ref) < 0);
      if (ref.segment_id == prev.segment_id) CHECK(ref.offset == prev.offset + prev.size);
      else CHECK(ref.offset == header_size_seen);
    } else {
      CHECK(ref.segment_id == min_live && ref.offset == header_size_seen);
    }
    prev = ref;
    n++;
  }
  CHECK_STATUS(s, NWAL_DONE);
  nwal_iter_free(it);
  CHECK(n == live);
  free(seen);
  printf("test_concurrent_rotation: %s: %ld records in %ld segments, %ld of them deleted "
         "(%ld records), %ld live records, %d segment files (%ld empty), %lld empty "
         "segments deleted\n",
         when, total, segments, dead_segments, total - live, live, files, empty,
         expect_deleted - dead_segments);
  return live;
}

static double seconds_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

int main(void) {
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  ops = DEFAULT_OPS;
  const char *env = getenv("NWAL_ROTATION_OPS");
  if (env != NULL) ops = atoi(env);
  /* At least 40: the prologue fits in a slot (ops * MAX_BATCH records), and
   * the cleaner's first round comes after at least one appender operation
   * (so the prologue's segments are no longer active). */
  CHECK(ops >= 40 && ops <= MAX_OPS);
  cap_records = ops * MAX_BATCH;
  for (int t = 0; t < NSLOTS; t++) {
    refs[t] = calloc((size_t)cap_records, sizeof *refs[t]);
    exp_lb[t] = calloc((size_t)cap_records, sizeof *exp_lb[t]);
    batch_first[t] = calloc((size_t)cap_records, sizeof *batch_first[t]);
    batch_len[t] = calloc((size_t)cap_records, sizeof *batch_len[t]);
    CHECK(refs[t] && exp_lb[t] && batch_first[t] && batch_len[t]);
  }
  atomic_store(&bound, INT64_MIN);

  static char path[300];
  dir = test_path(path, sizeof path, "wal");
  opts = test_options(DUR, RET);
  opts.max_segment_bytes = CAP;
  CHECK_OK(nwal_open(dir, "rot", &opts, &w));

  /* Prologue: PROLOGUE_RECORDS older records over two windows ending by
   * T0 - LAG_MS - 2 s, so at least two segments expiring by T0 - LAG_MS
   * (window + DUR + RET). Every appender record is at T0 - 1.5 s or later
   * (window T0 - 2 s or later), so once one appender operation finished none
   * of them is active, and the cleaner's first bound (>= T0 - LAG_MS)
   * deletes them: deletion while appending is certain. */
  for (int i = 0; i < PROLOGUE_RECORDS; i++) {
    rec_bytes e;
    make_record(PROLOGUE, i, &e);
    int64_t now = T0 - LAG_MS - 4 * DUR + i * 10;
    nwal_entry_ref r;
    CHECK_OK(nwal_append(w, e.has_header ? (const uint8_t *)e.header : NULL, e.hlen, e.content,
                         e.clen, now, 0, &r));
    publish(PROLOGUE, i, 1, &r, now);
  }
  long prologue_segments = 1;
  for (int i = 1; i < PROLOGUE_RECORDS; i++)
    prologue_segments += refs[PROLOGUE][i].segment_id != refs[PROLOGUE][i - 1].segment_id;
  CHECK(prologue_segments >= 2);
  CHECK(exp_lb[PROLOGUE][PROLOGUE_RECORDS - 1] <= T0 - LAG_MS);

  pthread_t ap[APPENDERS], rd[READERS], it, cl, fo;
  nwal_follower *f = NULL;
  CHECK_OK(nwal_follow_open(w, 1, 0, &f));
  CHECK(pthread_create(&fo, NULL, follower, f) == 0);
  CHECK(pthread_create(&cl, NULL, cleaner, NULL) == 0);
  CHECK(pthread_create(&it, NULL, iterator, NULL) == 0);
  for (int k = 0; k < READERS; k++)
    CHECK(pthread_create(&rd[k], NULL, reader, (void *)(intptr_t)k) == 0);
  for (int t = 0; t < APPENDERS; t++)
    CHECK(pthread_create(&ap[t], NULL, appender, (void *)(intptr_t)t) == 0);
  for (int t = 0; t < APPENDERS; t++) CHECK(pthread_join(ap[t], NULL) == 0);
  pthread_mutex_lock(&mu);
  appenders_done = 1;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  for (int k = 0; k < READERS; k++) CHECK(pthread_join(rd[k], NULL) == 0);
  CHECK(pthread_join(it, NULL) == 0);
  CHECK(pthread_join(cl, NULL) == 0);
  atomic_store(&follow_stop, 1);
  CHECK(pthread_join(fo, NULL) == 0);
  nwal_log_state state;
  CHECK_OK(nwal_log_state_get(w, &state));
  CHECK(follow_next_index == state.last_index + 1);
  CHECK(follow_records + follow_skipped == (long long)state.last_index);

  /* Deletions happened while appends ran: appender 0 waited at 3/4 for
   * two cleanup rounds, and the first deletes the prologue's segments. */
  CHECK(atomic_load(&deleted_during_appends) >= prologue_segments);
  CHECK(header_size_seen > 0);

  /* One more cleanup after everything: the final bound. */
  cleanup_at(T0 + atomic_load(&tick) * STEP - LAG_MS);
  long long deleted = atomic_load(&deleted_total);
  long live = final_check("after the run", deleted);
  CHECK(live > 0);

  CHECK_OK(nwal_close(w));
  w = NULL;
  CHECK_OK(nwal_open(dir, "rot", &opts, &w));
  /* The same bound deletes nothing more after reopen. */
  nwal_cleanup_result res;
  CHECK_OK(nwal_cleanup(w, atomic_load(&bound), &res));
  CHECK(res.deleted_segments == 0 && res.live_segments == last_live_segments);
  CHECK(final_check("after reopen", deleted) == live);
  CHECK_OK(nwal_close(w));

  long records = 0;
  for (int t = 0; t < NSLOTS; t++) records += count[t];
  printf("test_concurrent_rotation: OK: %d appenders x %d operations (%ld records), "
         "%d readers (%lld batch reads, %lld single reads ok, %lld not found), "
         "%lld replays (%lld records, %lld starts refused), %lld cleanups deleting %lld "
         "segments (%lld while appending), a follower (%lld records, %lld gaps of %lld "
         "records), %.2f s\n",
         APPENDERS, ops, records, READERS, atomic_load(&batch_reads), atomic_load(&reads_ok),
         atomic_load(&reads_not_found), atomic_load(&iterations), atomic_load(&iter_records),
         atomic_load(&iter_opens_not_found), atomic_load(&cleanup_calls), deleted,
         atomic_load(&deleted_during_appends), follow_records, follow_gaps, follow_skipped,
         seconds_since(&start));
  for (int t = 0; t < NSLOTS; t++) {
    free(refs[t]);
    free(exp_lb[t]);
    free(batch_first[t]);
    free(batch_len[t]);
  }
  return 0;
}
