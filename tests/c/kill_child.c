/* SPDX-License-Identifier: MIT */
/* Child of the C kill test (test_kill.c): opens the log in argv[1] through
 * the C API and runs the plan of seed argv[2] (kill_plan.h) until it is
 * killed, printing "record segment offset size index" for every record
 * appended, "T index" after a truncation and "R index" after a reset, and
 * flushing after each step, so the parent knows exactly what was
 * acknowledged when it sends SIGKILL. Exits 3 if never killed. */
#include "check.h"
#include "kill_plan.h"

#include <inttypes.h>

static kill_record recs[KILL_MAX_BATCH];

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: kill_child DIR SEED\n");
    return 2;
  }
  uint64_t seed = strtoull(argv[2], NULL, 10);
  nwal_options o = kill_options();
  nwal *w = NULL;
  CHECK_OK(nwal_open(argv[1], "k", &o, &w));
  static kill_plan plan;
  kill_plan_init(&plan, seed);
  static uint8_t packed[KILL_MAX_BATCH * (KILL_MAX_HEADER + KILL_MAX_CONTENT)];
  while (plan.next < KILL_MAX_RECORDS) {
    kill_step s = kill_plan_step(&plan);
    if (s.api == KILL_TRUNCATE || s.api == KILL_RESET || s.api == KILL_PURGE) {
      if (s.api == KILL_TRUNCATE)
        CHECK_OK(nwal_truncate_after(w, s.target));
      else if (s.api == KILL_RESET)
        CHECK_OK(nwal_reset(w, s.target));
      else
        CHECK_OK(nwal_purge_before(w, s.target));
      printf("%c %" PRIu64 "\n", kill_step_letter(s.api), s.target);
      CHECK(fflush(stdout) == 0);
      continue;
    }
    nwal_entry_ref refs[KILL_MAX_BATCH];
    uint32_t flags = s.durable ? NWAL_DURABLE : 0;
    for (uint64_t k = 0; k < s.count; k++) kill_record_make(seed, s.first + k, &recs[k]);
    if (s.api == KILL_APPEND) {
      CHECK_OK(nwal_append(w, recs[0].has_header ? recs[0].header : NULL, recs[0].header_len,
                           recs[0].content, recs[0].content_len, s.now_ms, flags, &refs[0]));
    } else {
      nwal_write_entry e[KILL_MAX_BATCH];
      for (uint64_t k = 0; k < s.count; k++) {
        e[k].header = recs[k].has_header ? recs[k].header : NULL;
        e[k].header_len = recs[k].header_len;
        e[k].content = recs[k].content;
        e[k].content_len = recs[k].content_len;
      }
      if (s.api == KILL_BATCH) {
        CHECK_OK(nwal_append_batch(w, e, s.count, s.now_ms, flags, refs));
      } else {
        nwal_span spans[KILL_MAX_BATCH];
        size_t used = pack_entries(e, s.count, packed, spans);
        CHECK_OK(nwal_append_batch_packed(w, packed, used, spans, s.count, s.now_ms, flags, refs));
      }
    }
    for (uint64_t k = 0; k < s.count; k++)
      printf("%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", s.first + k,
             refs[k].segment_id, refs[k].offset, refs[k].size, refs[k].index);
    CHECK(fflush(stdout) == 0);
  }
  fprintf(stderr, "kill_child: never killed\n");
  nwal_close(w);
  return 3;
}
