/* SPDX-License-Identifier: MIT */
/* Power cuts under LazyFS, through the C API (run by `scripts/test.sh
 * lazyfs`, not by CTest: it needs root, FUSE and a LazyFS binary).
 *
 * usage: lazyfs_power_cut LAZYFS_BINARY WORK_DIR
 *   NWAL_LAZYFS_ITERS  iterations (default 70: ten of each cut kind)
 *   NWAL_LAZYFS_SEED   seed of the run (default 0x1A2F5)
 *   NWAL_LAZYFS_ONLY   run only this iteration of the run (implies KEEP)
 *   NWAL_LAZYFS_KEEP   stop at the first iteration whose first reopen
 *                      fails a check, keeping its files
 *
 * LazyFS is a FUSE file system with its own page cache: data written to it
 * reaches the directory underneath (WORK_DIR/root) only when it is
 * fsync'ed, so dropping its cache, or killing it, leaves exactly what a
 * power cut would. Each iteration, on a fresh root:
 *  1. mount LazyFS on WORK_DIR/mnt and fork a workload that opens the log
 *     through the C API and runs a seeded plan: rounds of three appender
 *     threads (singles and batches, 1 in 6 NWAL_DURABLE, a shared clock
 *     advancing 1-8 ms per append through 50 ms windows, the 64 KiB size
 *     cap) beside a fourth thread calling nwal_sync, nwal_cleanup (1.5 s
 *     retention) and nwal_meta_put, paced on the appenders' progress;
 *     between rounds, with all threads joined, nwal_truncate_after. Every
 *     acknowledged operation is written to a pipe (the record's thread,
 *     sequence number, place in its batch, durability, time and ref; the
 *     acks a sync covers; truncations, cleanups and puts, begun and done),
 *     so the parent knows what was acknowledged;
 *  2. cut the power, one kind per iteration in turn: kill the workload,
 *     then `lazyfs::clear-cache` (every unsynced byte gone); a crash of
 *     LazyFS before or after the next fsync or write of a segment file
 *     (`lazyfs::crash`); a torn write of the newest segment, some of its
 *     parts persisted (`lazyfs::torn-op`); a torn sequence of writes to it,
 *     some persisted out of order (`lazyfs::torn-seq`). A fault that never
 *     fires (the plan ended first) falls back to clear-cache and is counted
 *     apart;
 *  3. remount, nwal_open, and check: open succeeds (after a torn cut, a
 *     tear finer than a sector may be refused as damage; then salvage must
 *     succeed, see sub_sector_tear) and its recovery report
 *     says no cut byte lay below the durable watermark; replay (nwal_iter_*)
 *     has dense indexes, every record exactly as written, no duplicate, each
 *     thread's records in its order, no half batch (but one a truncation
 *     cut); every acknowledged record at or below the last one acknowledged
 *     durable (or covered by an OK nwal_sync) is there, at its index, with
 *     its exact bytes (nwal_read_batch); records below the first index only
 *     if a cleanup could have deleted them; every lost or truncated record's
 *     ref and index never read OK; each metadata key holds its acknowledged
 *     value or the one being put;
 *  4. a second cut right after recovery: append a few records (one durable
 *     batch among them) and put a key, clear-cache, remount, reopen: every
 *     record the first recovery kept is still there, exactly, and so is the
 *     durable batch (the rest a dense prefix) and the key.
 * A failed check is printed with the iteration's seed and counted; the run
 * fails if any did. Deterministic in what is done; where a crash lands
 * depends on timing, and every check holds wherever it lands. */
#define _GNU_SOURCE
#include "check.h"
#include "kill_plan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/mount.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>

#define NTHREADS 3
#define ROUNDS 5
#define OPS 30 /* per appender thread and round */
#define MAX_SEQ (ROUNDS * OPS)
#define MAX_BATCH 12
#define MAX_PAYLOAD 2500
#define MAX_HDR 16
#define ID_LEN 16 /* the content's prefix naming the record */
#define AUX_ACTIONS 8 /* syncs, cleanups and puts per round */
#define SEG_MS 50
#define RETENTION_MS 1500
#define T0 INT64_C(1700000000000)
#define NKEYS 4
#define MAX_ACKS (NTHREADS * MAX_SEQ * MAX_BATCH)
#define MAX_IDX (MAX_ACKS + 64)
#define AFTER_THREAD NTHREADS /* the records appended after recovery */
#define AFTER_RECORDS 10

enum cut_kind {
  CUT_CLEAR,
  CUT_CRASH_BEFORE_FSYNC,
  CUT_CRASH_AFTER_FSYNC,
  CUT_CRASH_BEFORE_WRITE,
  CUT_CRASH_AFTER_WRITE,
  CUT_TORN_OP,
  CUT_TORN_SEQ,
  CUT_KINDS
};
static const char *const cut_names[CUT_KINDS] = {
    "clear-cache",        "crash before fsync", "crash after fsync", "crash before write",
    "crash after write",  "torn-op",            "torn-seq"};

/* ------------------------------------------------------------------ */
/* Records: everything about one is derived from the seed and its id.  */

typedef struct {
  uint32_t t, seq;
  uint16_t k, n;
} rec_id;

typedef struct {
  int has_header;
  size_t header_len;
  uint8_t header[MAX_HDR];
  size_t content_len;
  uint8_t content[ID_LEN + MAX_PAYLOAD];
} rec_bytes;

static void put_le(uint8_t *p, uint64_t v, int n) {
  for (int b = 0; b < n; b++) p[b] = (uint8_t)(v >> (8 * b));
}
static uint64_t get_le(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int b = 0; b < n; b++) v |= (uint64_t)p[b] << (8 * b);
  return v;
}

static void rec_make(uint64_t seed, rec_id id, rec_bytes *out) {
  kill_rng r = {seed ^ (((uint64_t)id.t << 40 | (uint64_t)id.seq << 16 | id.k) *
                        UINT64_C(0x9E3779B97F4A7C15))};
  size_t len = 1 + (size_t)kill_below(&r, MAX_PAYLOAD);
  put_le(out->content, id.t, 4);
  put_le(out->content + 4, id.seq, 4);
  put_le(out->content + 8, id.k, 2);
  put_le(out->content + 10, id.n, 2);
  put_le(out->content + 12, len, 4);
  for (size_t b = 0; b < len; b++) out->content[ID_LEN + b] = (uint8_t)kill_next(&r);
  out->content_len = ID_LEN + len;
  out->has_header = kill_below(&r, 4) == 0;
  out->header_len = out->has_header ? (size_t)kill_below(&r, MAX_HDR + 1) : 0;
  for (size_t b = 0; b < out->header_len; b++) out->header[b] = (uint8_t)kill_next(&r);
}

static int rec_matches(const nwal_record *rec, const rec_bytes *want) {
  return kill_bytes_match(rec, want->content, want->content_len, want->has_header, want->header,
                          want->header_len);
}

/* One appender operation of the plan: how many records, durable or not. */
typedef struct {
  uint16_t n;
  int durable;
} plan_op;

static plan_op plan_op_of(uint64_t seed, uint32_t t, uint32_t seq) {
  kill_rng r = {seed ^ UINT64_C(0xA5A5) ^ (((uint64_t)t << 32 | seq) * UINT64_C(0xD6E8FEB86659FD93))};
  plan_op op;
  op.n = kill_below(&r, 3) == 0 ? (uint16_t)(2 + kill_below(&r, MAX_BATCH - 1)) : 1;
  op.durable = kill_below(&r, 6) == 0;
  return op;
}

/* The value of metadata key `key` at version `ver` (1..). */
static size_t meta_value(uint64_t seed, int key, int ver, uint8_t *out) {
  kill_rng r = {seed ^ ((uint64_t)(key + 1) << 32 | (uint64_t)ver) * UINT64_C(0x2545F4914F6CDD1D)};
  size_t len = 1 + (size_t)kill_below(&r, 200);
  put_le(out, (uint64_t)ver, 4);
  for (size_t b = 4; b < len + 4; b++) out[b] = (uint8_t)kill_next(&r);
  return len + 4;
}

static const char *const meta_keys[NKEYS + 1] = {"k0", "k1", "k2", "k3", "after"};

static nwal_options cut_options(void) {
  nwal_options o = nwal_options_default();
  o.segment_duration_ms = SEG_MS;
  o.retention_ms = RETENTION_MS;
  o.max_segment_bytes = 65536;
  return o;
}

/* ------------------------------------------------------------------ */
/* The workload (a forked child): acks go to `ack_fd`.                 */

static int ack_fd = -1;
static uint64_t wl_seed;
static nwal *wl_log;
static pthread_mutex_t ack_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ack_cv = PTHREAD_COND_INITIALIZER;
static uint64_t ack_count; /* records acknowledged, under ack_mu */
static uint64_t ops_done;  /* appender operations done this round, under ack_mu */
static atomic_llong clock_ms;
static int meta_ver[NKEYS];

/* Write `len` bytes to the pipe; the caller holds ack_mu (one writer at a
 * time, so lines never interleave). */
static void ack_write(const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(ack_fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(4);
    buf += n;
    len -= (size_t)n;
  }
}

static void ack_line(const char *fmt, ...) {
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  pthread_mutex_lock(&ack_mu);
  ack_write(line, (size_t)len);
  pthread_mutex_unlock(&ack_mu);
}

/* An nwal call failed: expected once LazyFS is gone (a crash cut). Report
 * it with its errno and stop at once, as a power cut would. */
static void wl_fail(const char *what, nwal_status s) {
  char line[512];
  int len = snprintf(line, sizeof line, "X %d %s %s: %s\n", nwal_last_os_error(), what,
                     nwal_status_name(s), nwal_last_error_message());
  if (write(ack_fd, line, (size_t)len) < 0) _exit(4);
  _exit(3);
}

typedef struct {
  uint32_t t;
  int round;
} wl_arg;

static void *wl_appender(void *p) {
  const wl_arg *a = p;
  static _Thread_local rec_bytes recs[MAX_BATCH];
  for (int i = 0; i < OPS; i++) {
    uint32_t seq = (uint32_t)(a->round * OPS + i);
    plan_op op = plan_op_of(wl_seed, a->t, seq);
    nwal_write_entry e[MAX_BATCH];
    for (uint16_t k = 0; k < op.n; k++) {
      rec_id id = {a->t, seq, k, op.n};
      rec_make(wl_seed, id, &recs[k]);
      e[k].header = recs[k].has_header ? recs[k].header : NULL;
      e[k].header_len = recs[k].header_len;
      e[k].content = recs[k].content;
      e[k].content_len = recs[k].content_len;
    }
    int64_t now = atomic_fetch_add(&clock_ms, 1 + (int64_t)(seq * 7 + a->t) % 8);
    uint32_t flags = op.durable ? NWAL_DURABLE : 0;
    nwal_entry_ref refs[MAX_BATCH];
    nwal_status s;
    if (op.n == 1)
      s = nwal_append(wl_log, e[0].header, e[0].header_len, e[0].content, e[0].content_len, now,
                      flags, &refs[0]);
    else
      s = nwal_append_batch(wl_log, e, op.n, now, flags, refs);
    if (s != NWAL_OK) wl_fail(op.n == 1 ? "nwal_append" : "nwal_append_batch", s);
    char buf[MAX_BATCH * 160];
    size_t used = 0;
    for (uint16_t k = 0; k < op.n; k++)
      used += (size_t)snprintf(buf + used, sizeof buf - used,
                               "R %" PRIu32 " %" PRIu32 " %u %u %d %" PRId64 " %" PRIu64
                               " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
                               a->t, seq, (unsigned)k, (unsigned)op.n, op.durable, now,
                               refs[k].segment_id, refs[k].offset, refs[k].size, refs[k].index);
    pthread_mutex_lock(&ack_mu);
    ack_write(buf, used);
    ack_count += op.n;
    ops_done++;
    pthread_cond_broadcast(&ack_cv);
    pthread_mutex_unlock(&ack_mu);
  }
  return NULL;
}

/* Syncs, cleanups and metadata puts, each once the appenders are that far
 * through the round (paced on their progress, not on time). */
static void *wl_aux(void *p) {
  const wl_arg *a = p;
  kill_rng r = {wl_seed ^ UINT64_C(0xC1EA) ^ (uint64_t)a->round * UINT64_C(0x9E3779B97F4A7C15)};
  for (int i = 0; i < AUX_ACTIONS; i++) {
    uint64_t target = (uint64_t)(i + 1) * NTHREADS * OPS / (AUX_ACTIONS + 1);
    pthread_mutex_lock(&ack_mu);
    while (ops_done < target) pthread_cond_wait(&ack_cv, &ack_mu);
    uint64_t covered = ack_count;
    pthread_mutex_unlock(&ack_mu);
    switch (kill_below(&r, 3)) {
    case 0: {
      nwal_status s = nwal_sync(wl_log);
      if (s != NWAL_OK) wl_fail("nwal_sync", s);
      ack_line("S %" PRIu64 "\n", covered);
      break;
    }
    case 1: {
      int64_t now = atomic_load(&clock_ms);
      ack_line("c %" PRId64 "\n", now);
      nwal_cleanup_result res;
      nwal_status s = nwal_cleanup(wl_log, now, &res);
      if (s != NWAL_OK) wl_fail("nwal_cleanup", s);
      ack_line("C %" PRId64 " %" PRIu64 "\n", now, res.deleted_segments);
      break;
    }
    default: {
      int key = (int)kill_below(&r, NKEYS);
      int ver = ++meta_ver[key];
      uint8_t val[256];
      size_t len = meta_value(wl_seed, key, ver, val);
      ack_line("m %d %d\n", key, ver);
      nwal_status s = nwal_meta_put(wl_log, meta_keys[key], val, len);
      if (s != NWAL_OK) wl_fail("nwal_meta_put", s);
      ack_line("M %d %d\n", key, ver);
      break;
    }
    }
  }
  return NULL;
}

static void workload(const char *dir, uint64_t seed, int fd) {
  ack_fd = fd;
  wl_seed = seed;
  atomic_store(&clock_ms, T0);
  nwal_options o = cut_options();
  nwal_status s = nwal_open(dir, "s", &o, &wl_log);
  if (s != NWAL_OK) wl_fail("nwal_open", s);
  kill_rng r = {seed ^ UINT64_C(0x7E57)};
  for (int round = 0; round < ROUNDS; round++) {
    pthread_t th[NTHREADS + 1];
    wl_arg args[NTHREADS + 1];
    ops_done = 0;
    for (uint32_t t = 0; t <= NTHREADS; t++) {
      args[t].t = t;
      args[t].round = round;
      if (pthread_create(&th[t], NULL, t < NTHREADS ? wl_appender : wl_aux, &args[t]) != 0)
        _exit(5);
    }
    for (int t = 0; t <= NTHREADS; t++) pthread_join(th[t], NULL);
    /* Quiescent: every append of the round is acknowledged, so the parent
     * knows the record at each index the truncation keeps or drops. */
    if (kill_below(&r, 3) != 0) {
      nwal_log_state st;
      s = nwal_log_state_get(wl_log, &st);
      if (s != NWAL_OK) wl_fail("nwal_log_state_get", s);
      uint64_t len = st.last_index + 1 - st.first_index;
      uint64_t target = kill_below(&r, 8) == 0
                            ? st.first_index - 1
                            : st.last_index - kill_below(&r, (len < 30 ? len : 30) + 1);
      ack_line("t %" PRIu64 "\n", target);
      s = nwal_truncate_after(wl_log, target);
      if (s != NWAL_OK) wl_fail("nwal_truncate_after", s);
      ack_line("T %" PRIu64 "\n", target);
    }
  }
  ack_line("END\n");
  /* No close: the log is left as a killed process leaves it. */
  _exit(0);
}

/* ------------------------------------------------------------------ */
/* The parent: LazyFS, the model of what was acknowledged, the checks. */

static const char *lazyfs_bin;
static char work[512], root[600], short_dir[32], short_root[64], mnt[600], logdir[700], rootlog[700], cfg[600], fifo[600],
    done_fifo[600], lazyfs_log[600];
static pid_t lazyfs_pid;
static int fifo_fd = -1, done_fd = -1;
static uint64_t it_seed;
static int iter;
static int failures_this_iter;
static uint64_t failures;
static int failed_iters;

static void infra_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "lazyfs_power_cut: ");
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, " (iteration %d, seed 0x%" PRIx64 "; LazyFS log: %s)\n", iter, it_seed,
          lazyfs_log);
  if (lazyfs_pid > 0) kill(lazyfs_pid, SIGKILL);
  umount2(mnt, MNT_DETACH);
  exit(2);
}

/* A check failed: say what, with the seed to replay it; go on. */
static void fail(const char *fmt, ...) {
  va_list ap;
  if (failures_this_iter++ >= 8) return; /* the first ones say enough */
  va_start(ap, fmt);
  fprintf(stderr, "FAIL iteration %d (seed 0x%" PRIx64 "): ", iter, it_seed);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "lazyfs_power_cut: timed out\n";
  if (lazyfs_pid > 0) kill(lazyfs_pid, SIGKILL);
  if (write(2, msg, sizeof msg - 1) < 0) _exit(2);
  _exit(2);
}

static void write_config(void) {
  FILE *f = fopen(cfg, "w");
  CHECK(f != NULL);
  fprintf(f,
          "[faults]\nfifo_path=\"%s\"\nfifo_path_completed=\"%s\"\n"
          "[cache]\napply_eviction=false\n[cache.simple]\ncustom_size=\"128mb\"\n"
          "blocks_per_page=1\n[filesystem]\nlog_all_operations=false\nlogfile=\"\"\n",
          fifo, done_fifo);
  CHECK(fclose(f) == 0);
}

static int is_mounted(void) {
  struct stat a, b;
  char parent[700];
  snprintf(parent, sizeof parent, "%s/..", mnt);
  return stat(mnt, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

/* Mount LazyFS over `root` at `mnt` and open its two FIFOs. */
static void lazyfs_start(void) {
  unlink(fifo);
  unlink(done_fifo);
  fflush(NULL);
  lazyfs_pid = fork();
  CHECK(lazyfs_pid >= 0);
  if (lazyfs_pid == 0) {
    int out = open(lazyfs_log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out >= 0) {
      dup2(out, 1);
      dup2(out, 2);
    }
    char subdir[700];
    snprintf(subdir, sizeof subdir, "subdir=%s", short_root);
    execl(lazyfs_bin, lazyfs_bin, mnt, "--config-path", cfg, "-o", "modules=subdir", "-o", subdir,
          "-f", (char *)NULL);
    _exit(127);
  }
  /* FUSE says nothing when the mount is up: poll for it, a bounded number
   * of times (5 s), giving up early if LazyFS exits. */
  int tries = 0;
  while (!is_mounted()) {
    int st;
    if (waitpid(lazyfs_pid, &st, WNOHANG) == lazyfs_pid) {
      lazyfs_pid = 0;
      infra_fail("LazyFS exited before mounting (status %d)", st);
    }
    if (++tries > 500) infra_fail("LazyFS did not mount %s", mnt);
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  /* Both opens block until LazyFS's fault thread opens its ends (no race:
   * each side waits for the other). */
  fifo_fd = open(fifo, O_WRONLY);
  if (fifo_fd < 0) infra_fail("open %s: %s", fifo, strerror(errno));
  done_fd = open(done_fifo, O_RDONLY);
  if (done_fd < 0) infra_fail("open %s: %s", done_fifo, strerror(errno));
}

static void lazyfs_command(const char *cmd) {
  char line[1024];
  int len = snprintf(line, sizeof line, "%s\n", cmd);
  /* LazyFS reads a command in one read of at most 100 bytes. */
  if (len > 100) infra_fail("LazyFS command too long: %s", cmd);
  /* One write per command: LazyFS takes one command per read. */
  if (write(fifo_fd, line, (size_t)len) != len)
    infra_fail("writing %s to the LazyFS FIFO failed: %s", cmd, strerror(errno));
}

/* Drop every unsynced byte and wait until LazyFS says it is done. */
static void lazyfs_clear_cache(void) {
  lazyfs_command("lazyfs::clear-cache");
  char buf[64];
  ssize_t n = read(done_fd, buf, sizeof buf - 1);
  if (n <= 0) infra_fail("no completion from lazyfs::clear-cache");
  buf[n] = '\0';
  if (strstr(buf, "finished::clear-cache") == NULL) infra_fail("LazyFS said '%s'", buf);
}

/* The machine is off: LazyFS dies with its cache (SIGKILL, or it already
 * crashed itself), and the dead mount is detached. */
static void lazyfs_stop(void) {
  if (lazyfs_pid > 0) {
    kill(lazyfs_pid, SIGKILL);
    waitpid(lazyfs_pid, NULL, 0);
    lazyfs_pid = 0;
  }
  if (fifo_fd >= 0) close(fifo_fd);
  if (done_fd >= 0) close(done_fd);
  fifo_fd = done_fd = -1;
  if (umount2(mnt, MNT_DETACH) != 0 && errno != EINVAL)
    infra_fail("umount %s: %s", mnt, strerror(errno));
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  return ftw->level == 0 ? 0 : remove(path);
}

/* The model of what the workload acknowledged. */
typedef struct {
  rec_id id;
  int durable;
  int64_t now;
  nwal_entry_ref ref;
  uint64_t ordinal; /* acks before it */
  int dropped;      /* by an acknowledged truncation */
} ack_t;

static ack_t acks[MAX_ACKS];
static size_t n_acks;
static int at_index[MAX_IDX];                        /* ack slot + 1, current log */
static unsigned char cut_ok[NTHREADS + 1][MAX_SEQ];  /* a truncation may cut this batch */
static unsigned char seen[NTHREADS + 1][MAX_SEQ][MAX_BATCH];
static uint64_t sync_cover;
static int64_t max_cleanup_now;
static int meta_acked[NKEYS], meta_inflight[NKEYS];
static int trunc_pending;
static uint64_t trunc_target;
static uint64_t child_errno;
static char child_error[512];

/* Counts for the summary. */
static uint64_t n_fired[CUT_KINDS], n_fallback, n_acked_total, n_covered_total, n_present_total,
    n_lost_total, n_cleaned_total, n_dropped_total, n_trunc_total, n_puts_total, n_cleanups_total, n_second_total,
    n_sub_sector_tears;

static void model_reset(void) {
  n_acks = 0;
  memset(at_index, 0, sizeof at_index);
  memset(cut_ok, 0, sizeof cut_ok);
  sync_cover = 0;
  max_cleanup_now = INT64_MIN;
  memset(meta_acked, 0, sizeof meta_acked);
  memset(meta_inflight, 0, sizeof meta_inflight);
  trunc_pending = 0;
  child_errno = 0;
}

/* A truncation after `target`: the records above it are dropped; a batch
 * it cuts may legitimately be left half. */
static void model_truncate(uint64_t target, int acknowledged) {
  if (target < MAX_IDX && at_index[target] != 0) {
    const ack_t *a = &acks[at_index[target] - 1];
    if (a->id.k + 1 < a->id.n) cut_ok[a->id.t][a->id.seq] = 1;
  }
  if (!acknowledged) return;
  for (uint64_t i = target + 1; i < MAX_IDX; i++) {
    if (at_index[i] != 0) acks[at_index[i] - 1].dropped = 1;
    at_index[i] = 0;
  }
}

/* One line of the workload; returns 1 at its end. */
static int model_line(const char *line) {
  ack_t a;
  unsigned k, n;
  int key, ver;
  uint64_t u;
  int64_t now;
  memset(&a, 0, sizeof a);
  if (line[0] == 'R') {
    if (sscanf(line, "R %" SCNu32 " %" SCNu32 " %u %u %d %" SCNd64 " %" SCNu64 " %" SCNu64
                     " %" SCNu64 " %" SCNu64,
               &a.id.t, &a.id.seq, &k, &n, &a.durable, &a.now, &a.ref.segment_id, &a.ref.offset,
               &a.ref.size, &a.ref.index) != 10 ||
        a.id.t >= NTHREADS || a.id.seq >= MAX_SEQ || k >= n || n > MAX_BATCH ||
        a.ref.index >= MAX_IDX || n_acks >= MAX_ACKS)
      infra_fail("bad line from the workload: %s", line);
    a.id.k = (uint16_t)k;
    a.id.n = (uint16_t)n;
    a.ordinal = n_acks;
    acks[n_acks] = a;
    n_acks++;
    at_index[a.ref.index] = (int)n_acks;
    return 0;
  }
  if (sscanf(line, "S %" SCNu64, &u) == 1) {
    if (u > sync_cover) sync_cover = u;
  } else if (sscanf(line, "c %" SCNd64, &now) == 1) {
    if (now > max_cleanup_now) max_cleanup_now = now;
  } else if (line[0] == 'C') {
    n_cleanups_total++;
  } else if (sscanf(line, "m %d %d", &key, &ver) == 2 && key >= 0 && key < NKEYS) {
    meta_inflight[key] = ver;
  } else if (sscanf(line, "M %d %d", &key, &ver) == 2 && key >= 0 && key < NKEYS) {
    meta_acked[key] = ver;
    meta_inflight[key] = 0;
    n_puts_total++;
  } else if (sscanf(line, "t %" SCNu64, &u) == 1) {
    trunc_pending = 1;
    trunc_target = u;
    model_truncate(u, 0);
  } else if (sscanf(line, "T %" SCNu64, &u) == 1) {
    trunc_pending = 0;
    model_truncate(u, 1);
    n_trunc_total++;
  } else if (line[0] == 'X') {
    child_errno = strtoull(line + 2, NULL, 10);
    snprintf(child_error, sizeof child_error, "%s", line + 2);
    return 1;
  } else if (strcmp(line, "END\n") == 0) {
    return 1;
  } else {
    infra_fail("bad line from the workload: %s", line);
  }
  return 0;
}

/* The newest segment file under the root (what the torn faults target):
 * its full path as LazyFS sees it. */
static int newest_segment(char *out, size_t size) {
  DIR *d = opendir(rootlog);
  if (d == NULL) return 0;
  uint64_t best = 0;
  char name[256] = "";
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    long long exp;
    unsigned long long id;
    if (sscanf(e->d_name, "s_%lld_%llu.seg", &exp, &id) == 2 && id >= best) {
      best = id;
      snprintf(name, sizeof name, "%s", e->d_name);
    }
  }
  closedir(d);
  if (name[0] == '\0') return 0;
  snprintf(out, size, "%s/%s", rootlog, name);
  return 1;
}

/* Arm the fault of `kind` (not clear-cache). */
static void arm_fault(enum cut_kind kind, kill_rng *r) {
  char cmd[1024], file[800];
  static const char *const torn_persist[] = {"1", "2", "1,3", "2,3", "3"};
  /* At most the third write of a group: groups end at every fdatasync,
   * and durable appends make them short. */
  static const char *const seq_persist[] = {"2", "1,3", "2,3", "3", "1,2"};
  switch (kind) {
  case CUT_CRASH_BEFORE_FSYNC:
  case CUT_CRASH_AFTER_FSYNC:
  case CUT_CRASH_BEFORE_WRITE:
  case CUT_CRASH_AFTER_WRITE:
    snprintf(cmd, sizeof cmd, "lazyfs::crash::timing=%s::op=%s::from_rgx=\\.seg",
             kind == CUT_CRASH_BEFORE_FSYNC || kind == CUT_CRASH_BEFORE_WRITE ? "before"
                                                                                : "after",
             kind == CUT_CRASH_BEFORE_FSYNC || kind == CUT_CRASH_AFTER_FSYNC ? "fsync" : "write");
    break;
  case CUT_TORN_OP:
    if (!newest_segment(file, sizeof file)) return;
    snprintf(cmd, sizeof cmd, "lazyfs::torn-op::file=%s::parts=3::persist=%s", file,
             torn_persist[kill_below(r, 5)]);
    break;
  case CUT_TORN_SEQ:
    if (!newest_segment(file, sizeof file)) return;
    snprintf(cmd, sizeof cmd, "lazyfs::torn-seq::op=write::file=%s::persist=%s", file,
             seq_persist[kill_below(r, 5)]);
    break;
  default:
    return;
  }
  lazyfs_command(cmd);
}

static uint64_t plan_records(uint64_t seed) {
  uint64_t total = 0;
  for (uint32_t t = 0; t < NTHREADS; t++)
    for (uint32_t s = 0; s < MAX_SEQ; s++) total += plan_op_of(seed, t, s).n;
  return total;
}

/* Run the workload and cut the power; returns whether the fault fired. */
static int run_and_cut(enum cut_kind kind) {
  kill_rng r = {it_seed ^ UINT64_C(0xF00D)};
  uint64_t total = plan_records(it_seed);
  /* Cut (or arm the fault) after this many acknowledged records: anywhere
   * for clear-cache, in the first 80% for the faults, so writes follow. */
  uint64_t cut_at = 1 + kill_below(&r, kind == CUT_CLEAR ? total : total * 4 / 5);
  int fds[2];
  CHECK(pipe(fds) == 0);
  fflush(NULL);
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    close(fds[0]);
    close(fifo_fd);
    close(done_fd);
    workload(logdir, it_seed, fds[1]);
  }
  close(fds[1]);
  FILE *in = fdopen(fds[0], "r");
  CHECK(in != NULL);
  char line[512];
  int armed = 0, ended = 0;
  while (fgets(line, sizeof line, in) != NULL) {
    if (model_line(line)) {
      ended = 1;
      break;
    }
    if (n_acks >= cut_at && !armed) {
      armed = 1;
      if (kind == CUT_CLEAR) {
        kill(child, SIGKILL);
      } else {
        arm_fault(kind, &r);
      }
    }
  }
  /* Everything written to the pipe before the child died was acknowledged. */
  while (!ended && fgets(line, sizeof line, in) != NULL)
    if (model_line(line)) break;
  /* The child exits right after its last line (or was killed): no kill
   * here, which could hide the status that says why it stopped. */
  int status = 0;
  CHECK(waitpid(child, &status, 0) == child);
  fclose(in);
  int fired = 0;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
    /* An nwal call failed: LazyFS must be gone (its connection aborted). */
    if (child_errno != ENOTCONN && child_errno != ECONNABORTED) {
      fail("the workload failed with LazyFS up: %s", child_error);
    } else {
      waitpid(lazyfs_pid, NULL, 0);
      lazyfs_pid = 0;
      fired = 1;
    }
  } else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) &&
             !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
    fail("the workload ended with status %d", status);
  }
  if (lazyfs_pid > 0) {
    int st;
    if (waitpid(lazyfs_pid, &st, WNOHANG) == lazyfs_pid) {
      lazyfs_pid = 0;
      fired = 1;
    }
  }
  if (kind == CUT_CLEAR) fired = 1;
  if (lazyfs_pid > 0) lazyfs_clear_cache();
  lazyfs_stop();
  return fired;
}

/* What the first reopen kept, for the second cut. */
static rec_id kept[MAX_IDX];
static uint64_t kept_first, kept_last;
static uint8_t kept_meta[NKEYS][512];
static size_t kept_meta_len[NKEYS];
static int kept_meta_has[NKEYS];

/* Whether some cleanup begun before the cut could have deleted the record:
 * its segment's window starts no earlier than the record's time's window
 * (a late record goes to a later segment), and a segment expires one
 * window plus the retention after its start. */
static int deletable(const ack_t *a) {
  int64_t exp = a->now - a->now % SEG_MS + SEG_MS + RETENTION_MS;
  return max_cleanup_now != INT64_MIN && exp <= max_cleanup_now;
}

/* Replay the whole log: dense indexes, exact bytes, no duplicate, each
 * thread in order, whole batches. Fills `out` (index - first). */
static uint64_t replay_check(nwal *w, uint64_t first, uint64_t seed, rec_id *out, const char *when) {
  static rec_bytes want;
  nwal_iter *it = NULL;
  nwal_status s = nwal_iter_open(w, NULL, &it);
  if (s != NWAL_OK) {
    fail("%s: nwal_iter_open: %s", when, nwal_status_name(s));
    return 0;
  }
  memset(seen, 0, sizeof seen);
  int64_t last_seq[NTHREADS + 1];
  for (int t = 0; t <= NTHREADS; t++) last_seq[t] = -1;
  nwal_record rec;
  nwal_entry_ref ref;
  uint64_t n = 0;
  rec_id open_batch = {0, 0, 0, 0};
  int in_batch = 0;
  while ((s = nwal_iter_next(it, &rec, &ref)) == NWAL_OK) {
    if (ref.index != first + n) {
      fail("%s: replay index %" PRIu64 " where %" PRIu64 " was due", when, ref.index, first + n);
      break;
    }
    rec_id id;
    if (rec.content_len < ID_LEN) {
      fail("%s: record %" PRIu64 " is %zu bytes", when, ref.index, rec.content_len);
      break;
    }
    id.t = (uint32_t)get_le(rec.content, 4);
    id.seq = (uint32_t)get_le(rec.content + 4, 4);
    id.k = (uint16_t)get_le(rec.content + 8, 2);
    id.n = (uint16_t)get_le(rec.content + 10, 2);
    if (id.t > NTHREADS || id.seq >= MAX_SEQ || id.k >= id.n || id.n > MAX_BATCH) {
      fail("%s: record %" PRIu64 " is none the test wrote", when, ref.index);
      break;
    }
    rec_make(seed, id, &want);
    if (!rec_matches(&rec, &want)) {
      fail("%s: record %" PRIu64 " (thread %u seq %u part %u/%u) has wrong bytes", when, ref.index,
           id.t, id.seq, id.k, id.n);
      break;
    }
    if (seen[id.t][id.seq][id.k]++) {
      fail("%s: record thread %u seq %u part %u twice (index %" PRIu64 ")", when, id.t, id.seq,
           id.k, ref.index);
      break;
    }
    if (in_batch) {
      if (id.t != open_batch.t || id.seq != open_batch.seq || id.k != open_batch.k + 1) {
        if (!cut_ok[open_batch.t][open_batch.seq])
          fail("%s: half batch (thread %u seq %u: %u of %u records) before index %" PRIu64, when,
               open_batch.t, open_batch.seq, open_batch.k + 1, open_batch.n, ref.index);
        in_batch = 0;
      }
    }
    if (!in_batch) {
      if (id.k != 0) {
        fail("%s: batch thread %u seq %u starts at part %u (index %" PRIu64 ")", when, id.t,
             id.seq, id.k, ref.index);
        break;
      }
      if ((int64_t)id.seq <= last_seq[id.t] && id.t != AFTER_THREAD) {
        fail("%s: thread %u's seq %u after its seq %" PRId64 " (index %" PRIu64 ")", when, id.t,
             id.seq, last_seq[id.t], ref.index);
        break;
      }
      last_seq[id.t] = id.seq;
    }
    in_batch = id.k + 1 < id.n;
    open_batch = id;
    if (n < MAX_IDX) out[n] = id;
    n++;
  }
  if (s != NWAL_OK && s != NWAL_DONE)
    fail("%s: nwal_iter_next: %s (%s)", when, nwal_status_name(s), nwal_last_error_message());
  if (in_batch && !cut_ok[open_batch.t][open_batch.seq])
    fail("%s: the log ends inside a batch (thread %u seq %u: %u of %u records)", when,
         open_batch.t, open_batch.seq, open_batch.k + 1, open_batch.n);
  nwal_iter_free(it);
  return n;
}

static int read_ok(nwal *w, const nwal_entry_ref *ref, const rec_bytes *want) {
  nwal_record rec;
  nwal_read_buf *buf = NULL;
  nwal_status s = nwal_read_batch(w, ref, 1, &rec, &buf);
  if (s != NWAL_OK) return 0;
  int ok = want == NULL || rec_matches(&rec, want);
  nwal_read_buf_free(buf);
  return ok ? 1 : -1;
}

static int index_reads(nwal *w, uint64_t index) {
  nwal_record rec;
  nwal_read_buf *buf = NULL;
  size_t cnt = 0;
  nwal_status s = nwal_read_range(w, index, 1, 1 << 20, &rec, NULL, &cnt, &buf);
  if (s == NWAL_OK) nwal_read_buf_free(buf);
  return s == NWAL_OK;
}

static int ack_covered(const ack_t *a) { return a->durable || a->ordinal < sync_cover; }

/* Is `msg` (open's refusal after a torn cut) a tear finer than a sector?
 * LazyFS splits a write in thirds at any byte; a lost middle third reads
 * as zeros but may not cover a whole 512-byte-aligned sector, which is what
 * open takes as the mark of a lost write (disks write sectors whole), so
 * open refuses it as damage (docs/RELIABILITY.md, "LazyFS"). Accepted only
 * for damage no later record proves synced, and only when the damaged bytes
 * hold the zero run a lost part leaves (record bytes are random). */
static int sub_sector_tear(const char *msg) {
  const char *at = strstr(msg, " at offset ");
  const char *next = strstr(msg, "a valid record follows at offset ");
  if (at == NULL || next == NULL || strstr(msg, "not a lost (zeroed) write") == NULL) return 0;
  uint64_t from = strtoull(at + strlen(" at offset "), NULL, 10);
  uint64_t to = strtoull(next + strlen("a valid record follows at offset "), NULL, 10);
  char path[800];
  if (to <= from || to - from > (1u << 20) || !newest_segment(path, sizeof path)) return 0;
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 0;
  static uint8_t buf[1 << 20];
  ssize_t n = pread(fd, buf, (size_t)(to - from), (off_t)from);
  close(fd);
  size_t run = 0, best = 0;
  for (ssize_t i = 0; i < n; i++) {
    run = buf[i] == 0 ? run + 1 : 0;
    if (run > best) best = run;
  }
  return best >= 64;
}

/* The checks after the first reopen. Returns the open log (or NULL). */
static nwal *check_first(enum cut_kind kind) {
  static rec_bytes want;
  nwal_options o = cut_options();
  nwal *w = NULL;
  nwal_status s = nwal_open(logdir, "s", &o, &w);
  if (s == NWAL_ERR_CORRUPTED_DATA && (kind == CUT_TORN_OP || kind == CUT_TORN_SEQ) &&
      sub_sector_tear(nwal_last_error_message())) {
    /* Salvage cuts at the damage; every check below still holds: nothing
     * acknowledged durable may lie past it. */
    n_sub_sector_tears++;
    o.flags |= NWAL_OPT_SALVAGE;
    s = nwal_open(logdir, "s", &o, &w);
  }
  if (s != NWAL_OK) {
    fail("nwal_open after the cut: %s (%s)", nwal_status_name(s), nwal_last_error_message());
    return NULL;
  }
  nwal_recovery_report rep;
  CHECK_OK(nwal_recovery_report_get(w, &rep));
  if (rep.cut_below_durable)
    fail("recovery cut below the durable watermark (segment %" PRIu64 ", found %" PRIu64
         " bytes, kept %" PRIu64 ", watermark %" PRIu64 ")",
         rep.tail_segment_id, rep.found_len, rep.kept_len, rep.durable_watermark);
  nwal_log_state st;
  CHECK_OK(nwal_log_state_get(w, &st));
  uint64_t first = st.first_index, last = st.last_index;
  uint64_t n = replay_check(w, first, it_seed, kept, "first reopen");
  if (n != last + 1 - first)
    fail("replay gave %" PRIu64 " records, the state says %" PRIu64 "..%" PRIu64, n, first, last);
  kept_first = first;
  kept_last = first + n - 1;

  /* The highest index the acknowledgements make durable: every record at
   * or below it must be there (the durable position is a prefix). */
  uint64_t required = 0;
  for (size_t i = 0; i < n_acks; i++)
    if (!acks[i].dropped && ack_covered(&acks[i]) && acks[i].ref.index > required)
      required = acks[i].ref.index;
  /* A truncation under way at the cut may have happened, or not. */
  if (trunc_pending && last <= trunc_target && required > trunc_target) required = trunc_target;
  if (required > last)
    fail("durable records lost: the log ends at %" PRIu64 ", acknowledged durable up to %" PRIu64,
         last, required);

  for (size_t i = 0; i < n_acks; i++) {
    const ack_t *a = &acks[i];
    uint64_t idx = a->ref.index;
    int covered = !a->dropped && ack_covered(a);
    n_acked_total++;
    if (covered) n_covered_total++;
    rec_make(it_seed, a->id, &want);
    int live = !a->dropped && idx >= first && idx <= kept_last;
    if (live) {
      rec_id got = kept[idx - first];
      if (got.t != a->id.t || got.seq != a->id.seq || got.k != a->id.k) {
        fail("index %" PRIu64 " holds thread %u seq %u part %u, acknowledged for thread %u seq "
             "%u part %u",
             idx, got.t, got.seq, got.k, a->id.t, a->id.seq, a->id.k);
        continue;
      }
      int rd = read_ok(w, &a->ref, &want);
      if (rd != 1)
        fail("acknowledged record at index %" PRIu64 " %s by its ref", idx,
             rd == 0 ? "does not read" : "reads wrong bytes");
      n_present_total++;
      continue;
    }
    if (a->dropped)
      n_dropped_total++;
    else if (idx < first)
      n_cleaned_total++;
    else
      n_lost_total++;
    if (!a->dropped && idx < first && !deletable(a))
      fail("acknowledged record at index %" PRIu64 " is below the first index %" PRIu64
           " and no cleanup could delete it",
           idx, first);
    if (covered && idx > last && idx <= required)
      fail("record acknowledged %s at index %" PRIu64 " is lost",
           a->durable ? "durable" : "before an OK sync", idx);
    /* Lost, cleaned or truncated: its ref never reads OK; nor does its
     * index once past the end. */
    if (read_ok(w, &a->ref, NULL) != 0)
      fail("the ref of a record no longer in the log (index %" PRIu64 ") reads OK", idx);
    if (idx > last && index_reads(w, idx))
      fail("index %" PRIu64 " past the log's end reads OK", idx);
  }
  if (index_reads(w, last + 1)) fail("index %" PRIu64 " past the end reads OK", last + 1);

  /* Metadata: the acknowledged value, or the one being put at the cut. */
  for (int key = 0; key < NKEYS; key++) {
    uint8_t got[512], val[512];
    size_t len = 0;
    s = nwal_meta_get(w, meta_keys[key], got, sizeof got, &len);
    kept_meta_has[key] = s == NWAL_OK;
    if (s == NWAL_OK) {
      memcpy(kept_meta[key], got, len);
      kept_meta_len[key] = len;
    }
    int ok = 0;
    if (s == NWAL_ERR_NOT_FOUND) ok = meta_acked[key] == 0;
    for (int pass = 0; pass < 2 && s == NWAL_OK && !ok; pass++) {
      int ver = pass == 0 ? meta_acked[key] : meta_inflight[key];
      if (ver == 0) continue;
      size_t vl = meta_value(it_seed, key, ver, val);
      ok = vl == len && memcmp(val, got, len) == 0;
    }
    if (!ok)
      fail("metadata key %s: %s, acknowledged version %d (version %d being put)", meta_keys[key],
           s == NWAL_OK ? "another value" : nwal_status_name(s), meta_acked[key],
           meta_inflight[key]);
  }
  return w;
}

/* The second cut: a few appends right after recovery, clear-cache,
 * remount; nothing recovery kept may go, nor the durable batch. */
static void second_cut(nwal *w) {
  static rec_bytes recs[AFTER_RECORDS];
  nwal_log_state st;
  CHECK_OK(nwal_log_state_get(w, &st));
  uint64_t next = st.last_index + 1;
  uint64_t durable_end = 0;
  int64_t now = T0 + 100000;
  /* 4 singles, a durable batch of 3, 3 singles. */
  for (int i = 0; i < AFTER_RECORDS;) {
    int batch = i == 4;
    uint16_t cnt = batch ? 3 : 1;
    nwal_write_entry e[3];
    for (uint16_t k = 0; k < cnt; k++) {
      rec_id id = {AFTER_THREAD, (uint32_t)i, k, cnt};
      rec_make(it_seed, id, &recs[i + k]);
      e[k].header = recs[i + k].has_header ? recs[i + k].header : NULL;
      e[k].header_len = recs[i + k].header_len;
      e[k].content = recs[i + k].content;
      e[k].content_len = recs[i + k].content_len;
    }
    nwal_entry_ref refs[3];
    nwal_status s = nwal_append_batch(w, e, cnt, now + i, batch ? NWAL_DURABLE : 0, refs);
    if (s != NWAL_OK) {
      fail("append after recovery: %s (%s)", nwal_status_name(s), nwal_last_error_message());
      break;
    }
    if (refs[0].index != next + (uint64_t)i)
      fail("append after recovery got index %" PRIu64 ", not %" PRIu64, refs[0].index,
           next + (uint64_t)i);
    if (batch) durable_end = refs[cnt - 1].index;
    i += cnt;
  }
  uint8_t val[512];
  size_t vlen = meta_value(it_seed, NKEYS, 1, val);
  nwal_status ps = nwal_meta_put(w, meta_keys[NKEYS], val, vlen);
  if (ps != NWAL_OK) fail("meta put after recovery: %s", nwal_status_name(ps));
  lazyfs_clear_cache();
  lazyfs_stop();
  nwal_close(w); /* fails (LazyFS is gone), as a close after a power cut would */

  lazyfs_start();
  nwal_options o = cut_options();
  nwal_status s = nwal_open(logdir, "s", &o, &w);
  if (s != NWAL_OK) {
    fail("nwal_open after the second cut: %s (%s)", nwal_status_name(s),
         nwal_last_error_message());
    return;
  }
  CHECK_OK(nwal_log_state_get(w, &st));
  static rec_id again[MAX_IDX];
  uint64_t n = replay_check(w, st.first_index, it_seed, again, "second reopen");
  if (st.first_index != kept_first)
    fail("second reopen: first index %" PRIu64 ", was %" PRIu64, st.first_index, kept_first);
  uint64_t kept_n = kept_last + 1 - kept_first;
  if (n < kept_n)
    fail("second reopen: %" PRIu64 " records, the first reopen kept %" PRIu64, n, kept_n);
  for (uint64_t i = 0; i < kept_n && i < n; i++)
    if (memcmp(&again[i], &kept[i], sizeof kept[i]) != 0) {
      fail("second reopen: index %" PRIu64 " changed", kept_first + i);
      break;
    }
  for (uint64_t i = kept_n; i < n; i++)
    if (again[i].t != AFTER_THREAD || again[i].seq + again[i].k != i - kept_n) {
      fail("second reopen: index %" PRIu64 " is not the append after recovery", kept_first + i);
      break;
    }
  if (durable_end != 0 && st.last_index < durable_end)
    fail("second reopen: the durable batch after recovery (up to %" PRIu64
         ") is lost, the log ends at %" PRIu64,
         durable_end, st.last_index);
  n_second_total += n;
  for (int key = 0; key <= NKEYS; key++) {
    uint8_t got[512];
    size_t len = 0;
    s = nwal_meta_get(w, meta_keys[key], got, sizeof got, &len);
    const uint8_t *want = key == NKEYS ? val : kept_meta[key];
    size_t want_len = key == NKEYS ? vlen : kept_meta_len[key];
    int has = key == NKEYS ? ps == NWAL_OK : kept_meta_has[key];
    if (has ? s != NWAL_OK || len != want_len || memcmp(got, want, len) != 0 : s == NWAL_OK)
      fail("second reopen: metadata key %s changed", meta_keys[key]);
  }
  /* Appends go on. */
  static const char tail[] = "after the second cut";
  nwal_entry_ref ref;
  s = nwal_append(w, NULL, 0, (const uint8_t *)tail, sizeof tail - 1, now + 1000, NWAL_DURABLE,
                  &ref);
  if (s != NWAL_OK || ref.index != st.last_index + 1)
    fail("append after the second reopen: %s", nwal_status_name(s));
  nwal_close(w);
}

static void remove_short_root(void) {
  unlink(short_root);
  rmdir(short_dir);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: lazyfs_power_cut LAZYFS_BINARY WORK_DIR\n");
    return 2;
  }
  lazyfs_bin = argv[1];
  CHECK(realpath(argv[2], work) != NULL);
  snprintf(root, sizeof root, "%s/root", work);
  snprintf(mnt, sizeof mnt, "%s/mnt", work);
  snprintf(logdir, sizeof logdir, "%s/log", mnt);
  /* The torn faults name their file by the path LazyFS sees, and a
   * command must fit in 100 bytes: LazyFS serves the root through a short
   * symlink to it. */
  snprintf(short_dir, sizeof short_dir, "/tmp/nwlzXXXXXX");
  CHECK(mkdtemp(short_dir) != NULL);
  snprintf(short_root, sizeof short_root, "%s/r", short_dir);
  atexit(remove_short_root);
  snprintf(rootlog, sizeof rootlog, "%s/log", short_root);
  snprintf(cfg, sizeof cfg, "%s/lazyfs.toml", work);
  snprintf(fifo, sizeof fifo, "%s/faults.fifo", work);
  snprintf(done_fifo, sizeof done_fifo, "%s/done.fifo", work);
  snprintf(lazyfs_log, sizeof lazyfs_log, "%s/lazyfs.log", work);
  umount2(mnt, MNT_DETACH); /* a mount left by an interrupted run */
  mkdir(root, 0755);
  mkdir(mnt, 0755);
  CHECK(symlink(root, short_root) == 0);
  unlink(lazyfs_log);
  write_config();
  signal(SIGPIPE, SIG_IGN);

  int iters = 10 * CUT_KINDS;
  const char *env = getenv("NWAL_LAZYFS_ITERS");
  if (env != NULL) iters = atoi(env);
  CHECK(iters > 0);
  uint64_t seed = 0x1A2F5;
  env = getenv("NWAL_LAZYFS_SEED");
  if (env != NULL) seed = strtoull(env, NULL, 0);
  /* A bound on the whole run, so a hung mount cannot hang the test. */
  signal(SIGALRM, on_alarm);
  alarm(120 + (unsigned)iters * 10);

  /* Replaying one iteration of a run: its files are kept if it fails. */
  int only = -1;
  env = getenv("NWAL_LAZYFS_ONLY");
  if (env != NULL) only = atoi(env);
  int keep = only >= 0 || getenv("NWAL_LAZYFS_KEEP") != NULL;

  kill_rng rng = {seed};
  for (iter = 0; iter < iters; iter++) {
    it_seed = kill_next(&rng);
    if (only >= 0 && iter != only) continue;
    enum cut_kind kind = (enum cut_kind)(iter % CUT_KINDS);
    failures_this_iter = 0;
    nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    model_reset();
    lazyfs_start();
    int fired = run_and_cut(kind);
    if (fired)
      n_fired[kind]++;
    else
      n_fallback++;
    lazyfs_start();
    nwal *w = check_first(kind);
    if (keep && failures_this_iter > 0) {
      fprintf(stderr, "iteration %d failed; its files are in %s\n", iter, root);
      lazyfs_stop();
      return 1;
    }
    if (w != NULL)
      second_cut(w);
    lazyfs_stop();
    if (failures_this_iter > 0) {
      fprintf(stderr, "  iteration %d: %s, %d failed checks; replay with NWAL_LAZYFS_SEED=0x%" PRIx64
              " NWAL_LAZYFS_ONLY=%d\n",
              iter, cut_names[kind], failures_this_iter, seed, iter);
      failures += (uint64_t)failures_this_iter;
      failed_iters++;
    }
  }
  nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);

  printf("lazyfs power cuts: %d iterations (seed 0x%" PRIx64 ")\n", iters, seed);
  printf("  crash states:");
  for (int k = 0; k < CUT_KINDS; k++) printf(" %s %" PRIu64 ",", cut_names[k], n_fired[k]);
  printf(" fault not fired (clear-cache instead) %" PRIu64 "\n", n_fallback);
  printf("  acknowledged records checked: %" PRIu64 " (%" PRIu64 " durable or synced); after the "
         "cut %" PRIu64 " in the log, %" PRIu64 " lost past its end, %" PRIu64
         " deleted by cleanup, %" PRIu64 " truncated\n",
         n_acked_total, n_covered_total, n_present_total, n_lost_total, n_cleaned_total,
         n_dropped_total);
  printf("  acknowledged truncations %" PRIu64 ", cleanups %" PRIu64 ", metadata puts %" PRIu64
         "; records checked after the second cut %" PRIu64 "\n",
         n_trunc_total, n_cleanups_total, n_puts_total, n_second_total);
  printf("  torn writes finer than a sector, refused by open and salvaged: %" PRIu64 "\n",
         n_sub_sector_tears);
  printf("  failures: %" PRIu64 " (in %d iterations)\n", failures, failed_iters);
  return failures == 0 ? 0 : 1;
}
