/* SPDX-License-Identifier: MIT */
/* Calls that carry many records: nwal_iter_next_batch returns what
 * nwal_iter_next would, several records per call, each batch valid until
 * the next call; the _into reads fill a buffer the caller keeps, replacing
 * what it held, with the records and errors of the reads that allocate a
 * buffer; bad arguments are refused with a status and a message. */
#include "check.h"

#define N 300

static int same_ref(const nwal_entry_ref *a, const nwal_entry_ref *b) {
  return a->segment_id == b->segment_id && a->offset == b->offset && a->size == b->size &&
         a->index == b->index;
}

int main(void) {
  char dir[300];
  test_path(dir, sizeof dir, "wal");
  /* 1-second windows: records go to three segments. */
  nwal_options o = test_options(1000, 60000);
  nwal *w = NULL;
  CHECK_OK(nwal_open(dir, "rb", &o, &w));
  const int64_t t0 = 1000000;
  static nwal_entry_ref refs[N];
  static char content[N][24];
  for (int i = 0; i < N; i++) {
    int len = snprintf(content[i], sizeof content[i], "record-%d", i);
    CHECK_OK(nwal_append(w, i % 2 ? (const uint8_t *)"h" : NULL, i % 2, (const uint8_t *)content[i],
                         (size_t)len, t0 + (i / 100) * 1000, 0, &refs[i]));
  }
  CHECK(refs[0].segment_id < refs[100].segment_id && refs[100].segment_id < refs[200].segment_id);

  /* Batches of 7: every record once, in order, with its ref; a batch never
   * spans segments, so the segment ends cut batches short. */
  nwal_iter *it = NULL;
  nwal_record recs[7];
  nwal_entry_ref got[7];
  size_t n = 99;
  CHECK_OK(nwal_iter_open(w, NULL, &it));
  int seen = 0, batches = 0;
  nwal_status s;
  while ((s = nwal_iter_next_batch(it, recs, got, 7, &n)) == NWAL_OK) {
    CHECK(n >= 1 && n <= 7);
    for (size_t k = 0; k < n; k++, seen++) {
      CHECK(same_ref(&got[k], &refs[seen]));
      CHECK(record_is(&recs[k], seen % 2 ? "h" : NULL, content[seen]));
    }
    batches++;
  }
  CHECK_STATUS(s, NWAL_DONE);
  CHECK(n == 0 && seen == N);
  CHECK(batches == 3 * 15); /* 100 records per segment: 14 batches of 7, then 2 */
  CHECK_STATUS(nwal_iter_next_batch(it, recs, NULL, 7, &n), NWAL_DONE);
  nwal_iter_free(it);

  /* One large batch per segment; refs may be declined; the records of a
   * batch stay valid until the next call, whatever the log does. */
  static nwal_record big[1000];
  CHECK_OK(nwal_iter_open(w, &refs[150], &it));
  CHECK_OK(nwal_iter_next_batch(it, big, NULL, 1000, &n));
  CHECK(n == 50);
  for (int i = 0; i < 100; i++)
    CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)"filler", 6, t0 + 2000, 0, NULL));
  for (size_t k = 0; k < n; k++) CHECK(record_is(&big[k], (150 + k) % 2 ? "h" : NULL, content[150 + k]));
  /* Mixed with single steps: the next record is the first of the next
   * segment. */
  nwal_record one;
  nwal_entry_ref one_ref;
  CHECK_OK(nwal_iter_next(it, &one, &one_ref));
  CHECK(same_ref(&one_ref, &refs[200]));
  CHECK_OK(nwal_iter_next_batch(it, big, NULL, 1000, &n));
  CHECK(n == 99 + 100); /* the rest of the segment, and the fillers */

  /* Bad arguments: a status and a message; the iterator goes on. */
  CHECK_STATUS(nwal_iter_next_batch(NULL, recs, got, 7, &n), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_iter_next_batch(it, NULL, got, 7, &n), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_iter_next_batch(it, recs, got, 7, NULL), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_iter_next_batch(it, recs, got, 0, &n), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nwal_last_error_message(), "max_count") != NULL);
  CHECK_STATUS(nwal_iter_next_batch(it, recs, got, 7, &n), NWAL_DONE);
  nwal_iter_free(it);

  /* A buffer the caller keeps: each read replaces what it held. */
  nwal_read_buf *buf = NULL;
  CHECK_OK(nwal_read_buf_new(&buf));
  CHECK(buf != NULL);
  for (int i = 0; i < N; i += 37) {
    CHECK_OK(nwal_read_into(w, &refs[i], buf, &one));
    CHECK(record_is(&one, i % 2 ? "h" : NULL, content[i]));
  }
  nwal_entry_ref picked[4] = {refs[250], refs[3], refs[120], refs[4]};
  nwal_record four[4];
  CHECK_OK(nwal_read_batch_into(w, picked, 4, buf, four));
  CHECK(record_is(&four[0], NULL, content[250]) && record_is(&four[1], "h", content[3]) &&
        record_is(&four[2], NULL, content[120]) && record_is(&four[3], NULL, content[4]));
  nwal_record range[10];
  nwal_entry_ref range_refs[10];
  CHECK_OK(nwal_read_range_into(w, refs[95].index, 10, UINT64_MAX, buf, range, range_refs, &n));
  CHECK(n == 10);
  for (size_t k = 0; k < n; k++) {
    CHECK(same_ref(&range_refs[k], &refs[95 + k]));
    CHECK(record_is(&range[k], (95 + k) % 2 ? "h" : NULL, content[95 + k]));
  }
  /* A byte budget: always at least one record. */
  CHECK_OK(nwal_read_range_into(w, refs[10].index, 10, 1, buf, range, NULL, &n));
  CHECK(n == 1 && record_is(&range[0], NULL, content[10]));
  /* Zero refs: OK, nothing read. */
  CHECK_OK(nwal_read_batch_into(w, NULL, 0, buf, NULL));

  /* Errors: the status of the allocating reads, and the buffer works on. */
  nwal_entry_ref bad = refs[5];
  bad.segment_id += 1000;
  CHECK_STATUS(nwal_read_into(w, &bad, buf, &one), NWAL_ERR_NOT_FOUND);
  bad = refs[5];
  bad.size += 1;
  CHECK_STATUS(nwal_read_into(w, &bad, buf, &one), NWAL_ERR_CORRUPTED_DATA);
  nwal_entry_ref with_bad[2] = {refs[1], refs[2]};
  with_bad[1].segment_id += 1000;
  CHECK_STATUS(nwal_read_batch_into(w, with_bad, 2, buf, four), NWAL_ERR_NOT_FOUND);
  nwal_log_state st;
  CHECK_OK(nwal_log_state_get(w, &st));
  CHECK_STATUS(nwal_read_range_into(w, st.last_index + 1, 10, UINT64_MAX, buf, range, NULL, &n),
               NWAL_ERR_NOT_FOUND);
  CHECK_STATUS(nwal_read_range_into(w, 1, 0, UINT64_MAX, buf, range, NULL, &n),
               NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_read_into(w, NULL, buf, &one), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nwal_last_error_message(), "ref") != NULL);
  CHECK_STATUS(nwal_read_into(w, &refs[0], NULL, &one), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nwal_last_error_message(), "buf") != NULL);
  CHECK_STATUS(nwal_read_into(w, &refs[0], buf, NULL), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_read_into(NULL, &refs[0], buf, &one), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_read_batch_into(w, picked, 4, NULL, four), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_read_batch_into(w, picked, 4, buf, NULL), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_read_batch_into(w, NULL, 4, buf, four), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_read_range_into(w, 1, 10, UINT64_MAX, NULL, range, NULL, &n),
               NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_read_range_into(w, 1, 10, UINT64_MAX, buf, NULL, NULL, &n),
               NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_read_range_into(w, 1, 10, UINT64_MAX, buf, range, NULL, NULL),
               NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_read_buf_new(NULL), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_OK(nwal_read_into(w, &refs[7], buf, &one));
  CHECK(record_is(&one, "h", content[7]));

  /* A buffer from nwal_read_batch (one ref) and one from nwal_read_range
   * are refilled the same way; a buffer serves another log too, and
   * outlives its log. */
  nwal_read_buf *from_batch = NULL;
  CHECK_OK(nwal_read_batch(w, &refs[8], 1, &one, &from_batch));
  CHECK_OK(nwal_read_batch_into(w, picked, 4, from_batch, four));
  CHECK(record_is(&four[0], NULL, content[250]) && record_is(&four[3], NULL, content[4]));
  nwal_read_buf *from_range = NULL;
  CHECK_OK(nwal_read_range(w, 1, 3, UINT64_MAX, range, NULL, &n, &from_range));
  CHECK_OK(nwal_read_into(w, &refs[9], from_range, &one));
  CHECK(record_is(&one, "h", content[9]));
  char other_dir[300];
  test_path(other_dir, sizeof other_dir, "other");
  nwal *w2 = NULL;
  CHECK_OK(nwal_open(other_dir, "rb", &o, &w2));
  nwal_entry_ref r2;
  CHECK_OK(nwal_append(w2, NULL, 0, (const uint8_t *)"other log", 9, t0, 0, &r2));
  CHECK_OK(nwal_read_into(w2, &r2, buf, &one));
  CHECK_OK(nwal_close(w2));
  CHECK(record_is(&one, NULL, "other log"));
  CHECK_OK(nwal_close(w));
  nwal_read_buf_free(from_batch);
  nwal_read_buf_free(from_range);
  nwal_read_buf_free(buf);
  nwal_read_buf_free(NULL);
  printf("test_read_into: %d records in %d batches; reads into a kept buffer: ok\n", seen, batches);
  return 0;
}
