/* SPDX-License-Identifier: MIT */
/* Kill test through the C API. For each of 100 kill points (NWAL_KILL_POINTS
 * to change it): start kill_child (argv[1]) on a fresh log with a seeded
 * plan (kill_plan.h: singles, batches and packed batches, 1 in 8 durable,
 * time and size rotations, late records, truncations of the tail and
 * resets), read the steps it acknowledges (each checked against the plan),
 * SIGKILL it after a seeded random number of acknowledged records, then
 * reopen the log through the C API and check:
 *  - it is exactly the plan's log after some number of steps, at least the
 *    acknowledged ones (the step in flight happened whole or not at all: no
 *    batch cut, no half truncation), with its first index, every record's
 *    header and content, refs strictly increasing;
 *  - every acknowledged record that log holds reads back by its ref,
 *    durable or not (a killed process leaves the page cache to the
 *    kernel), and every one a truncation or reset dropped is NOT_FOUND;
 *  - appends work afterwards, at the next index (and read back).
 * Deterministic in what is done; the kill point is a count of acked
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
  uint64_t record; /* its number in the plan */
  nwal_entry_ref ref;
} acked_rec;

#define MAX_ACKED (MAX_KILL_AFTER + KILL_MAX_BATCH)
static acked_rec acked[MAX_ACKED];
static kill_record want;
static kill_plan plan;
static uint64_t found[KILL_LOG_CAP];

/* The child's next line, or exit when it ended. */
static void next_line(FILE *in, char *line, size_t size, int point) {
  if (fgets(line, (int)size, in) == NULL) {
    fprintf(stderr, "kill point %d: child ended early\n", point);
    exit(1);
  }
}

/* Read the steps the child acknowledges, checking each against the plan,
 * until `kill_after` records are acknowledged (a batch is read whole).
 * Returns the number of steps; `*n_acked` the records, `*restarts` the
 * truncations and resets. */
static uint64_t read_acks(FILE *in, uint64_t seed, size_t kill_after, int point, size_t *n_acked,
                          uint64_t *restarts) {
  char line[256];
  uint64_t steps = 0;
  kill_plan_init(&plan, seed);
  *n_acked = 0;
  while (*n_acked < kill_after) {
    uint64_t before = kill_plan_next_index(&plan);
    kill_step st = kill_plan_step(&plan);
    steps++;
    if (st.api == KILL_TRUNCATE || st.api == KILL_RESET || st.api == KILL_PURGE) {
      next_line(in, line, sizeof line, point);
      char kind = 0;
      uint64_t target = 0;
      CHECK(sscanf(line, "%c %" SCNu64, &kind, &target) == 2);
      CHECK(kind == kill_step_letter(st.api) && target == st.target);
      (*restarts)++;
      continue;
    }
    for (uint64_t k = 0; k < st.count; k++) {
      next_line(in, line, sizeof line, point);
      acked_rec *a = &acked[*n_acked];
      CHECK(sscanf(line, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64, &a->record,
                   &a->ref.segment_id, &a->ref.offset, &a->ref.size, &a->ref.index) == 5);
      CHECK(a->record == st.first + k);
      CHECK(a->ref.index == before + k); /* dense log indexes */
      (*n_acked)++;
    }
  }
  return steps;
}

/* True when the plan's log is the `n` records of `found` from `first`. */
static int plan_log_is(uint64_t first, uint64_t n) {
  return plan.log_first == first && plan.log_len == n &&
         (n == 0 || memcmp(plan.log, found, n * sizeof found[0]) == 0);
}

/* Runs one kill point; returns the number of acknowledged records. */
static size_t run_point(int point, uint64_t seed, size_t kill_after, uint64_t *restarts_total) {
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
  uint64_t restarts = 0;
  uint64_t steps = read_acks(in, seed, kill_after, point, &n_acked, &restarts);
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

  /* Iteration: the plan's records, each exactly, refs increasing. */
  nwal_iter *it = NULL;
  CHECK_OK(nwal_iter_open(w, NULL, &it));
  nwal_record rec;
  nwal_entry_ref ref, prev = {0, 0, 0, 0};
  uint64_t n = 0;
  nwal_status s;
  while ((s = nwal_iter_next(it, &rec, &ref)) == NWAL_OK) {
    uint64_t k = 0;
    CHECK(n < KILL_LOG_CAP && rec.content_len >= 8);
    for (int b = 0; b < 8; b++) k |= (uint64_t)rec.content[b] << (8 * b);
    kill_record_make(seed, k, &want);
    if (k >= KILL_MAX_RECORDS + KILL_MAX_BATCH || !kill_record_matches(&rec, &want)) {
      fprintf(stderr, "kill point %d: iterated record at index %" PRIu64 " is not the plan's\n",
              point, ref.index);
      exit(1);
    }
    CHECK(ref.segment_id > prev.segment_id ||
          (ref.segment_id == prev.segment_id && ref.offset >= prev.offset + prev.size));
    prev = ref;
    found[n++] = k;
  }
  CHECK_STATUS(s, NWAL_DONE);
  nwal_iter_free(it);
  nwal_log_state state;
  CHECK_OK(nwal_log_state_get(w, &state));
  CHECK(state.last_index + 1 == state.first_index + n);

  /* The plan's log after at least the acknowledged steps. */
  kill_plan_init(&plan, seed);
  for (uint64_t k = 0; k < steps; k++) kill_plan_step(&plan);
  uint64_t extra = 0;
  while (!plan_log_is(state.first_index, n)) {
    if (++extra > 20000 || plan.next > KILL_MAX_RECORDS) {
      fprintf(stderr,
              "kill point %d: the log (%" PRIu64 " records from %" PRIu64
              ") is no state of the plan after %" PRIu64 " steps or more\n",
              point, n, state.first_index, steps);
      exit(1);
    }
    kill_plan_step(&plan);
  }

  /* Acknowledged records: read back while the log holds them, NOT_FOUND
   * once dropped. */
  for (size_t i = 0; i < n_acked; i++) {
    const acked_rec *a = &acked[i];
    int live = a->ref.index >= state.first_index && a->ref.index - state.first_index < n &&
               found[a->ref.index - state.first_index] == a->record;
    nwal_read_buf *buf = NULL;
    nwal_status rs = nwal_read_batch(w, &a->ref, 1, &rec, &buf);
    if (!live) {
      CHECK_STATUS(rs, NWAL_ERR_NOT_FOUND);
      CHECK(buf == NULL);
      continue;
    }
    CHECK_OK(rs);
    kill_record_make(seed, a->record, &want);
    if (!kill_record_matches(&rec, &want)) {
      fprintf(stderr, "kill point %d: record %" PRIu64 " reads back wrong bytes\n", point,
              a->record);
      exit(1);
    }
    nwal_read_buf_free(buf);
  }
  *restarts_total += restarts;

  /* Appends work after the kill, in a later window and in the same one. */
  static const char after[] = "after the kill";
  nwal_entry_ref r1, r2;
  CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)after, sizeof after - 1,
                       KILL_T0 + 10000000, NWAL_DURABLE, &r1));
  CHECK_OK(nwal_append(w, (const uint8_t *)"h", 1, (const uint8_t *)after, sizeof after - 1,
                       KILL_T0 + 10000000, 0, &r2));
  CHECK(r1.index == state.last_index + 1 && r2.index == r1.index + 1);
  nwal_entry_ref rr[2] = {r1, r2};
  nwal_record out[2];
  nwal_read_buf *buf = NULL;
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
  uint64_t restarts = 0;
  for (int p = 0; p < points; p++) {
    uint64_t seed = kill_next(&rng);
    size_t kill_after = 1 + (size_t)kill_below(&rng, MAX_KILL_AFTER);
    total += run_point(p, seed, kill_after, &restarts);
  }
  printf("%d kill points, %zu acknowledged records and %" PRIu64
         " truncations and resets checked\n",
         points, total, restarts);
  CHECK(total >= (size_t)points);
  CHECK(points < 50 || restarts >= (uint64_t)points / 2);
  return 0;
}
