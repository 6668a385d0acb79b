/* SPDX-License-Identifier: MIT */
/* Kill test through the C API. For each of 100 kill points (NWAL_KILL_POINTS
 * to change it): start kill_child (argv[1]) on a fresh log with a seeded
 * plan (kill_plan.h: singles, batches and packed batches, 1 in 8 durable,
 * time and size rotations, late records), read the refs it acknowledges,
 * SIGKILL it after a seeded random number of them, then reopen the log
 * through the C API and check:
 *  - every acknowledged record reads back exactly (header and content, from
 *    its index and the seed), durable or not (a killed process leaves the
 *    page cache to the kernel);
 *  - iteration yields the child's records in plan order with the refs it
 *    acknowledged, strictly increasing, nothing doubled, at least everything
 *    acknowledged, and ends on a batch boundary;
 *  - appends work afterwards (and read back).
 * Deterministic in what is appended; the kill point is a count of acked
 * records, so only how far the child got past it depends on timing. */
#include "check.h"
#include "kill_plan.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>

#define MAX_KILL_AFTER 400

static const char *child_exe;
static pid_t child_pid;

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "test_kill: timed out\n";
  if (child_pid > 0) kill(child_pid, SIGKILL);
  if (write(2, msg, sizeof msg - 1) < 0) _exit(1);
  _exit(1);
}

typedef struct {
  uint64_t index;
  nwal_entry_ref ref;
} acked_rec;

static acked_rec acked[MAX_KILL_AFTER];
static nwal_entry_ref acked_refs[MAX_KILL_AFTER];
static nwal_record acked_out[MAX_KILL_AFTER];
static kill_record want;

/* Runs one kill point; returns the number of acknowledged records. */
static size_t run_point(int point, uint64_t seed, size_t kill_after) {
  char dir[300];
  char name[32];
  snprintf(name, sizeof name, "kill%d", point);
  test_path(dir, sizeof dir, name);

  int fds[2];
  CHECK(pipe(fds) == 0);
  char seed_arg[32];
  snprintf(seed_arg, sizeof seed_arg, "%" PRIu64, seed);
  fflush(NULL);
  child_pid = fork();
  CHECK(child_pid >= 0);
  if (child_pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execl(child_exe, child_exe, dir, seed_arg, (char *)NULL);
    perror("exec kill_child");
    _exit(127);
  }
  close(fds[1]);
  FILE *in = fdopen(fds[0], "r");
  CHECK(in != NULL);
  size_t n_acked = 0;
  char line[256];
  while (n_acked < kill_after) {
    if (fgets(line, sizeof line, in) == NULL) {
      fprintf(stderr, "kill point %d: child ended after %zu acknowledged records\n", point,
              n_acked);
      exit(1);
    }
    acked_rec *a = &acked[n_acked];
    CHECK(sscanf(line, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64, &a->index,
                 &a->ref.segment_id, &a->ref.offset, &a->ref.size, &a->ref.index) == 5);
    CHECK(a->index == n_acked);
    CHECK(a->ref.index == n_acked + 1); /* dense log indexes from 1 */
    acked_refs[n_acked] = a->ref;
    n_acked++;
  }
  CHECK(kill(child_pid, SIGKILL) == 0);
  int status = 0;
  CHECK(waitpid(child_pid, &status, 0) == child_pid);
  child_pid = 0;
  fclose(in);
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
    fprintf(stderr, "kill point %d: child was not killed by SIGKILL (status %d)\n", point,
            status);
    exit(1);
  }

  nwal_options o = kill_options();
  nwal *w = NULL;
  CHECK_OK(nwal_open(dir, "k", &o, &w));

  /* Every acknowledged record reads back exactly. */
  nwal_read_buf *buf = NULL;
  CHECK_OK(nwal_read_batch(w, acked_refs, n_acked, acked_out, &buf));
  for (size_t i = 0; i < n_acked; i++) {
    kill_record_make(seed, acked[i].index, &want);
    if (!kill_record_matches(&acked_out[i], &want)) {
      fprintf(stderr, "kill point %d: record %zu reads back wrong bytes\n", point, i);
      exit(1);
    }
  }
  nwal_read_buf_free(buf);

  /* Iteration: the plan's records in order, the acknowledged refs. */
  nwal_iter *it = NULL;
  CHECK_OK(nwal_iter_open(w, NULL, &it));
  nwal_record rec;
  nwal_entry_ref ref, prev = {0, 0, 0, 0};
  uint64_t n = 0;
  nwal_status s;
  while ((s = nwal_iter_next(it, &rec, &ref)) == NWAL_OK) {
    kill_record_make(seed, n, &want);
    if (!kill_record_matches(&rec, &want)) {
      fprintf(stderr, "kill point %d: iteration record %" PRIu64 " is not the plan's\n", point,
              n);
      exit(1);
    }
    if (n < n_acked && memcmp(&ref, &acked_refs[n], sizeof ref) != 0) {
      fprintf(stderr, "kill point %d: record %" PRIu64 " iterated at another ref\n", point, n);
      exit(1);
    }
    CHECK(ref.segment_id > prev.segment_id ||
          (ref.segment_id == prev.segment_id && ref.offset >= prev.offset + prev.size));
    prev = ref;
    n++;
  }
  CHECK_STATUS(s, NWAL_DONE);
  nwal_iter_free(it);
  if (n < n_acked) {
    fprintf(stderr, "kill point %d: %" PRIu64 " records iterated < %zu acknowledged\n", point, n,
            n_acked);
    exit(1);
  }
  /* The end is a batch boundary of the plan. */
  kill_plan plan;
  kill_plan_init(&plan, seed);
  uint64_t boundary = 0;
  while (boundary < n) {
    kill_step st = kill_plan_step(&plan);
    boundary = st.first + st.count;
  }
  if (boundary != n) {
    fprintf(stderr, "kill point %d: log ends inside a batch (%" PRIu64 " records)\n", point, n);
    exit(1);
  }

  /* Appends work after the kill, in a later window and in the same one. */
  static const char after[] = "after the kill";
  nwal_entry_ref r1, r2;
  CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)after, sizeof after - 1,
                       KILL_T0 + 10000000, NWAL_DURABLE, &r1));
  CHECK_OK(nwal_append(w, (const uint8_t *)"h", 1, (const uint8_t *)after, sizeof after - 1,
                       KILL_T0 + 10000000, 0, &r2));
  nwal_entry_ref rr[2] = {r1, r2};
  nwal_record out[2];
  CHECK_OK(nwal_read_batch(w, rr, 2, out, &buf));
  CHECK(record_is(&out[0], NULL, after) && record_is(&out[1], "h", after));
  nwal_read_buf_free(buf);
  CHECK_OK(nwal_close(w));
  nftw(dir, nwal_test_rm_, 16, FTW_DEPTH | FTW_PHYS);
  return n_acked;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: test_kill PATH_TO_KILL_CHILD\n");
    return 2;
  }
  child_exe = argv[1];
  int points = 100;
  const char *env = getenv("NWAL_KILL_POINTS");
  if (env != NULL) points = atoi(env);
  CHECK(points > 0);
  /* A bound on the whole run, so a hung child cannot hang CTest. */
  signal(SIGALRM, on_alarm);
  alarm(60 + (unsigned)points / 2);

  kill_rng rng = {UINT64_C(0xC0FFEE)};
  size_t total = 0;
  for (int p = 0; p < points; p++) {
    uint64_t seed = kill_next(&rng);
    size_t kill_after = 1 + (size_t)kill_below(&rng, MAX_KILL_AFTER);
    total += run_point(p, seed, kill_after);
  }
  printf("%d kill points, %zu acknowledged records checked\n", points, total);
  CHECK(total >= (size_t)points);
  return 0;
}
