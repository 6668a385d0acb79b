/* SPDX-License-Identifier: MIT */
/* Batches: 10,000 records in one nwal_append_batch (far beyond IOV_MAX, the
 * original crate's flaw 2 in tests/flaws.rs), read back in one
 * nwal_read_batch; the packed (pointer-free) variant; zero-count batches. */
#include "check.h"

#define N 10000

int main(void) {
  char dir[300];
  test_path(dir, sizeof dir, "wal");
  const int64_t now = 1711234567890;
  nwal *w = NULL;
  CHECK_OK(nwal_open(dir, "batch", NULL, &w));

  /* Every record has its own content (and every third a header). */
  static char contents[N][24];
  static char headers[N][16];
  static nwal_write_entry entries[N];
  static nwal_entry_ref refs[N];
  for (int i = 0; i < N; i++) {
    int clen = snprintf(contents[i], sizeof contents[i], "record-%d", i);
    entries[i].content = (const uint8_t *)contents[i];
    entries[i].content_len = (size_t)clen;
    if (i % 3 == 0) {
      int hlen = snprintf(headers[i], sizeof headers[i], "h%d", i);
      entries[i].header = (const uint8_t *)headers[i];
      entries[i].header_len = (size_t)hlen;
    } else {
      entries[i].header = NULL;
      entries[i].header_len = 0;
    }
  }
  CHECK_OK(nwal_append_batch(w, entries, N, now, NWAL_DURABLE, refs));

  /* One segment, contiguous, in order. */
  for (int i = 1; i < N; i++) {
    CHECK(refs[i].segment_id == refs[0].segment_id);
    CHECK(refs[i].offset == refs[i - 1].offset + refs[i - 1].size);
    CHECK(refs[i].size == 24 + entries[i].header_len + entries[i].content_len);
  }

  /* Read all of them back in one call, in reverse order. */
  static nwal_entry_ref rev[N];
  static nwal_record recs[N];
  for (int i = 0; i < N; i++) rev[i] = refs[N - 1 - i];
  nwal_read_buf *buf = NULL;
  CHECK_OK(nwal_read_batch(w, rev, N, recs, &buf));
  for (int i = 0; i < N; i++) {
    int k = N - 1 - i;
    CHECK(record_is(&recs[i], k % 3 == 0 ? headers[k] : NULL, contents[k]));
  }
  nwal_read_buf_free(buf);

  /* Zero-count batches: OK and nothing happens (NULL arrays allowed). */
  CHECK_OK(nwal_append_batch(w, NULL, 0, now, 0, NULL));
  CHECK_OK(nwal_append_batch_packed(w, NULL, 0, NULL, 0, now, 0, NULL));
  buf = (nwal_read_buf *)&buf; /* must be overwritten with NULL */
  CHECK_OK(nwal_read_batch(w, NULL, 0, NULL, &buf));
  CHECK(buf == NULL);

  /* Packed batch: one buffer, spans of offsets. Record 0 has a header,
   * record 1 an empty header, record 2 none, record 3 empty content. */
  const char packed[] = "HDRfirstsecondthird";
  nwal_span spans[4];
  memset(spans, 0, sizeof spans);
  spans[0] = (nwal_span){.header_off = 0, .header_len = 3, .content_off = 3, .content_len = 5, .has_header = 1};
  spans[1] = (nwal_span){.header_off = 3, .header_len = 0, .content_off = 8, .content_len = 6, .has_header = 1};
  spans[2] = (nwal_span){.content_off = 14, .content_len = 5};
  spans[3] = (nwal_span){.content_off = 19, .content_len = 0};
  nwal_entry_ref prefs[4];
  CHECK_OK(nwal_append_batch_packed(w, (const uint8_t *)packed, strlen(packed), spans, 4, now, 0, prefs));
  CHECK(prefs[0].offset == refs[N - 1].offset + refs[N - 1].size);
  nwal_record precs[4];
  CHECK_OK(nwal_read_batch(w, prefs, 4, precs, &buf));
  CHECK(record_is(&precs[0], "HDR", "first"));
  CHECK(record_is(&precs[1], "", "second"));
  CHECK(record_is(&precs[2], NULL, "third"));
  CHECK(record_is(&precs[3], NULL, ""));
  nwal_read_buf_free(buf);

  /* Everything survives a reopen: iterate and count. */
  CHECK_OK(nwal_close(w));
  CHECK_OK(nwal_open(dir, "batch", NULL, &w));
  nwal_iter *it = NULL;
  CHECK_OK(nwal_iter_open(w, NULL, &it));
  nwal_record r;
  nwal_entry_ref ref;
  int n = 0;
  nwal_status s;
  while ((s = nwal_iter_next(it, &r, &ref)) == NWAL_OK) {
    if (n < N) {
      CHECK(ref.offset == refs[n].offset && ref.size == refs[n].size);
      CHECK(record_is(&r, n % 3 == 0 ? headers[n] : NULL, contents[n]));
    }
    n++;
  }
  CHECK_STATUS(s, NWAL_DONE);
  CHECK(n == N + 4);
  nwal_iter_free(it);
  CHECK_OK(nwal_close(w));
  printf("test_batch: OK (%d records)\n", n);
  return 0;
}
