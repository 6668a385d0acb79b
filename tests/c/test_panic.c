/* SPDX-License-Identifier: MIT */
/* A panic inside the library becomes NWAL_ERR_PANIC (the process goes on)
 * and poisons that handle: every later call on it but nwal_close returns
 * NWAL_ERR_PANIC. Other handles are unaffected; the data is intact.
 * Built only against a library with the cargo feature `test-panic`. */
#include "check.h"

/* Test-only entry point: not in nano_wal.h. */
nwal_status nwal_test_panic(nwal *w);

int main(void) {
  char dir[300];
  test_path(dir, sizeof dir, "wal");
  const int64_t T = 1711234567890;
  nwal *w = NULL, *other = NULL;
  CHECK_OK(nwal_open(dir, "victim", NULL, &w));
  CHECK_OK(nwal_open(dir, "bystander", NULL, &other));
  nwal_entry_ref ref;
  CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)"before", 6, T, NWAL_DURABLE, &ref));

  CHECK_STATUS(nwal_test_panic(w), NWAL_ERR_PANIC);
  CHECK(strstr(nwal_last_error_message(), "panic") != NULL);

  /* Poisoned: every call but close is refused. */
  nwal_record r;
  nwal_read_buf *buf = NULL;
  nwal_iter *it = NULL;
  nwal_write_entry e = {NULL, 0, (const uint8_t *)"x", 1};
  nwal_span sp = {.content_len = 1};
  CHECK_STATUS(nwal_append(w, NULL, 0, (const uint8_t *)"x", 1, T, 0, NULL), NWAL_ERR_PANIC);
  CHECK(strstr(nwal_last_error_message(), "poisoned") != NULL);
  CHECK_STATUS(nwal_append_batch(w, &e, 1, T, 0, NULL), NWAL_ERR_PANIC);
  CHECK_STATUS(nwal_append_batch_packed(w, (const uint8_t *)"x", 1, &sp, 1, T, 0, NULL), NWAL_ERR_PANIC);
  CHECK_STATUS(nwal_read_batch(w, &ref, 1, &r, &buf), NWAL_ERR_PANIC);
  CHECK_STATUS(nwal_iter_open(w, NULL, &it), NWAL_ERR_PANIC);
  CHECK_STATUS(nwal_sync(w), NWAL_ERR_PANIC);
  CHECK_STATUS(nwal_cleanup(w, T, NULL), NWAL_ERR_PANIC);
  size_t segments = 0;
  CHECK_STATUS(nwal_retention(w, T, NULL, 0, &segments), NWAL_ERR_PANIC);
  CHECK(segments == 0);
  CHECK_STATUS(nwal_shutdown(w), NWAL_ERR_PANIC);
  CHECK_STATUS(nwal_test_panic(w), NWAL_ERR_PANIC);
  CHECK(buf == NULL && it == NULL);

  /* The other handle works. */
  CHECK_OK(nwal_append(other, NULL, 0, (const uint8_t *)"fine", 4, T, 0, NULL));
  CHECK_OK(nwal_close(other));

  /* Close releases the poisoned handle; the stream reopens with its data. */
  CHECK_OK(nwal_close(w));
  CHECK_OK(nwal_open(dir, "victim", NULL, &w));
  CHECK_OK(nwal_read_batch(w, &ref, 1, &r, &buf));
  CHECK(record_is(&r, NULL, "before"));
  nwal_read_buf_free(buf);
  CHECK_OK(nwal_close(w));

  /* NULL handle: refused as an argument, not a panic. */
  CHECK_STATUS(nwal_test_panic(NULL), NWAL_ERR_INVALID_ARGUMENT);
  printf("test_panic: OK\n");
  return 0;
}
