/* SPDX-License-Identifier: MIT */
/* One C program linking libnano_wal.a and a second Rust static library
 * (tests/install/other_rust): both work, each with its own Rust std. */
#include <nano_wal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int64_t other_rust_sum(int n);
int other_rust_unwinds(void);

#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "static_mix: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      return 1;                                                       \
    }                                                                 \
  } while (0)

int main(int argc, char **argv) {
  CHECK(argc == 2);
  CHECK(other_rust_sum(100) == 4950);
  CHECK(other_rust_unwinds() == 1);

  nwal_options opts = nwal_options_default();
  nwal *w = NULL;
  CHECK(nwal_open(argv[1], "mix", &opts, &w) == NWAL_OK);
  nwal_entry_ref ref;
  const char *payload = "beside another Rust library";
  CHECK(nwal_append(w, NULL, 0, (const uint8_t *)payload, strlen(payload), 1000, NWAL_DURABLE,
                    &ref) == NWAL_OK);
  nwal_read_buf *buf = NULL;
  nwal_record rec;
  CHECK(nwal_read_batch(w, &ref, 1, &rec, &buf) == NWAL_OK);
  CHECK(rec.content_len == strlen(payload) && memcmp(rec.content, payload, rec.content_len) == 0);
  nwal_read_buf_free(buf);
  /* A bad argument still reports through nano_wal's own std. */
  CHECK(nwal_append(NULL, NULL, 0, NULL, 0, 0, 0, &ref) == NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strlen(nwal_last_error_message()) > 0);
  CHECK(nwal_close(w) == NWAL_OK);
  printf("static_mix: OK\n");
  return 0;
}
