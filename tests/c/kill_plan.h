/* SPDX-License-Identifier: MIT */
/* The deterministic plan shared by the C kill test's child (kill_child.c)
 * and parent (test_kill.c): both derive, from the seed alone, the sequence
 * of steps (appends: singles and batches, which C entry point, durable or
 * not, at what time; truncations of the tail; resets), the log after each
 * step, and the exact header and content of every record, so the parent
 * can check any record it finds against its number (its first 8 bytes). */
#ifndef NWAL_TEST_KILL_PLAN_H
#define NWAL_TEST_KILL_PLAN_H

#include <stdint.h>
#include <string.h>

#define KILL_T0 INT64_C(1700000000000)
#define KILL_SEGMENT_MS 100
#define KILL_MAX_BATCH 31
#define KILL_MAX_CONTENT (8 + 2000)
#define KILL_MAX_HEADER 19

/* splitmix64, the same generator as tests/common/mod.rs. */
typedef struct { uint64_t s; } kill_rng;

static inline uint64_t kill_next(kill_rng *r) {
  uint64_t z = (r->s += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

static inline uint64_t kill_below(kill_rng *r, uint64_t n) { return kill_next(r) % n; }

/* How a step is made: an append (three C entry points), a truncation of
 * the tail, a reset or a purge of the head. */
enum kill_api { KILL_APPEND, KILL_BATCH, KILL_BATCH_PACKED, KILL_TRUNCATE, KILL_RESET, KILL_PURGE };

/* The letter the child prints for a step that is not an append. */
static inline char kill_step_letter(enum kill_api api) {
  return api == KILL_TRUNCATE ? 'T' : api == KILL_RESET ? 'R' : 'P';
}

typedef struct {
  uint64_t first;  /* number of the step's first record (appends) */
  uint64_t count;  /* records in the step (1 = single append or batch of one) */
  int durable;
  enum kill_api api;
  int64_t now_ms;
  uint64_t target; /* truncate after, reset to or purge before this index */
} kill_step;

/* The child stops appending at this many records (the pipe keeps it within
 * ~3,000 of the parent), so the plan's log never holds more. */
#define KILL_MAX_RECORDS 20000
#define KILL_LOG_CAP (KILL_MAX_RECORDS + KILL_MAX_BATCH)

/* The plan's state: the next record number, and the log after the steps
 * made so far (its first index and the numbers of its records). */
typedef struct {
  kill_rng rng;
  uint64_t next;
  uint64_t log_first;
  size_t log_len;
  uint64_t log[KILL_LOG_CAP];
} kill_plan;

static inline void kill_plan_init(kill_plan *p, uint64_t seed) {
  p->rng.s = seed;
  p->next = 0;
  p->log_first = 1;
  p->log_len = 0;
}

/* The index the next record gets. */
static inline uint64_t kill_plan_next_index(const kill_plan *p) {
  return p->log_first + p->log_len;
}

/* The next step; the plan's log becomes the log after it. One in 25 steps
 * truncates (mostly a few records, sometimes all of them, sometimes none),
 * one in 50 resets (forward, back or into the middle), one in 50 purges
 * the head (up to every record). */
static inline kill_step kill_plan_step(kill_plan *p) {
  kill_step s;
  memset(&s, 0, sizeof s);
  uint64_t kind = kill_below(&p->rng, 50);
  if (kind <= 1) {
    uint64_t len = p->log_len;
    uint64_t last = kill_plan_next_index(p) - 1;
    s.api = KILL_TRUNCATE;
    s.target = kill_below(&p->rng, 8) == 0 ? p->log_first - 1
                                            : last - kill_below(&p->rng, (len < 60 ? len : 60) + 1);
    p->log_len = (size_t)(s.target + 1 - p->log_first);
    return s;
  }
  if (kind == 2) {
    s.api = KILL_RESET;
    switch (kill_below(&p->rng, 3)) {
    case 0: s.target = kill_plan_next_index(p) + kill_below(&p->rng, 1000); break;
    case 1: s.target = 1 + kill_below(&p->rng, p->log_first); break;
    default: s.target = p->log_first + kill_below(&p->rng, p->log_len + 1); break;
    }
    p->log_first = s.target;
    p->log_len = 0;
    return s;
  }
  if (kind == 3) {
    s.api = KILL_PURGE;
    uint64_t drop = kill_below(&p->rng, p->log_len + 1);
    s.target = p->log_first + drop;
    memmove(p->log, p->log + drop, (p->log_len - (size_t)drop) * sizeof p->log[0]);
    p->log_len -= (size_t)drop;
    p->log_first = s.target;
    return s;
  }
  s.count = kill_below(&p->rng, 4) == 0 ? 2 + kill_below(&p->rng, KILL_MAX_BATCH - 1) : 1;
  s.first = p->next;
  p->next += s.count;
  for (uint64_t k = 0; k < s.count && p->log_len < KILL_LOG_CAP; k++)
    p->log[p->log_len++] = s.first + k;
  s.durable = kill_below(&p->rng, 8) == 0;
  if (s.count == 1)
    s.api = kill_below(&p->rng, 4) == 0 ? KILL_BATCH : KILL_APPEND;
  else
    s.api = kill_below(&p->rng, 2) == 0 ? KILL_BATCH_PACKED : KILL_BATCH;
  /* Time moves on one 100 ms window every 40 records (rotation by time);
   * one step in 10 is 150 ms late (goes to the active segment). */
  int late = kill_below(&p->rng, 10) == 0;
  s.now_ms = KILL_T0 + (int64_t)(s.first / 40) * KILL_SEGMENT_MS - (late ? 150 : 0);
  return s;
}

/* Record `i` of run `seed`: content = 8 bytes of i (LE) + 1..2000 bytes;
 * one record in four has a header of 0..19 bytes (0 = an empty header,
 * which is not the same as no header). */
typedef struct {
  int has_header;
  size_t header_len;
  uint8_t header[KILL_MAX_HEADER];
  size_t content_len;
  uint8_t content[KILL_MAX_CONTENT];
} kill_record;

static inline void kill_record_make(uint64_t seed, uint64_t i, kill_record *out) {
  kill_rng r = {seed ^ (i * UINT64_C(0x9E3779B97F4A7C15))};
  size_t len = 1 + (size_t)kill_below(&r, 2000);
  for (int b = 0; b < 8; b++) out->content[b] = (uint8_t)(i >> (8 * b));
  for (size_t b = 0; b < len; b++) out->content[8 + b] = (uint8_t)kill_next(&r);
  out->content_len = 8 + len;
  out->has_header = kill_below(&r, 4) == 0;
  out->header_len = out->has_header ? (size_t)kill_below(&r, KILL_MAX_HEADER + 1) : 0;
  for (size_t b = 0; b < out->header_len; b++) out->header[b] = (uint8_t)kill_next(&r);
}

/* True when `rec` (read back through the C API) has exactly this content
 * and header, `has_header` 0 meaning none (an empty header is not none).
 * Takes the fields, not a struct, so that tests with records of their own
 * layout (tests/lazyfs/power_cut.c) check them the same way. */
static inline int kill_bytes_match(const nwal_record *rec, const uint8_t *content,
                                   size_t content_len, int has_header, const uint8_t *header,
                                   size_t header_len) {
  if (rec->content_len != content_len || memcmp(rec->content, content, content_len) != 0)
    return 0;
  if (!has_header) return rec->header == NULL && rec->header_len == 0;
  return rec->header != NULL && rec->header_len == header_len &&
         (header_len == 0 || memcmp(rec->header, header, header_len) == 0);
}

/* True when `rec` (read back through the C API) is exactly `want`. */
static inline int kill_record_matches(const nwal_record *rec, const kill_record *want) {
  return kill_bytes_match(rec, want->content, want->content_len, want->has_header, want->header,
                          want->header_len);
}

/* Options of the kill test: 100 ms windows, 64 KiB size cap. */
static inline nwal_options kill_options(void) {
  nwal_options o = nwal_options_default();
  o.segment_duration_ms = KILL_SEGMENT_MS;
  o.retention_ms = 3600 * 1000;
  o.max_segment_bytes = 65536;
  return o;
}

#endif
