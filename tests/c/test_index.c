/* Record indexes through the C API: dense indexes in refs, the first_index
 * option, nwal_log_state_get after appends, sync, durable appends and a
 * reopen, and its bad inputs. */
#include "check.h"

#include <inttypes.h>

static const int64_t T = 1711234567890;

static nwal_log_state state_of(nwal *w) {
  nwal_log_state s;
  memset(&s, 0x5a, sizeof s);
  CHECK_OK(nwal_log_state_get(w, &s));
  for (int i = 0; i < 5; i++) CHECK(s.reserved[i] == 0);
  return s;
}

static void check_state(nwal *w, uint64_t first, uint64_t last, uint64_t durable) {
  nwal_log_state s = state_of(w);
  if (s.first_index != first || s.last_index != last || s.durable_index != durable) {
    fprintf(stderr, "log state %" PRIu64 "/%" PRIu64 "/%" PRIu64 ", expected %" PRIu64
            "/%" PRIu64 "/%" PRIu64 "\n", s.first_index, s.last_index, s.durable_index,
            first, last, durable);
    exit(1);
  }
}

int main(void) {
  char dir[300];
  test_path(dir, sizeof dir, "wal");
  nwal_options o = nwal_options_default();
  CHECK(o.first_index == 1);
  o.first_index = 0;
  nwal *w = NULL;
  CHECK_STATUS(nwal_open(dir, "s", &o, &w), NWAL_ERR_INVALID_CONFIG);
  CHECK(strstr(nwal_last_error_message(), "first_index") != NULL);
  CHECK(w == NULL);

  o.first_index = 100;
  CHECK_OK(nwal_open(dir, "s", &o, &w));
  check_state(w, 100, 99, 99);

  nwal_entry_ref one, batch[3];
  CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)"a", 1, T, 0, &one));
  CHECK(one.index == 100);
  check_state(w, 100, 100, 99);
  nwal_write_entry e[3] = {{NULL, 0, (const uint8_t *)"b", 1},
                           {NULL, 0, (const uint8_t *)"c", 1},
                           {NULL, 0, (const uint8_t *)"d", 1}};
  CHECK_OK(nwal_append_batch(w, e, 3, T, 0, batch));
  for (int i = 0; i < 3; i++) CHECK(batch[i].index == 101 + (uint64_t)i);
  check_state(w, 100, 103, 99);
  CHECK_OK(nwal_sync(w));
  check_state(w, 100, 103, 103);
  CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)"e", 1, T, NWAL_DURABLE, &one));
  CHECK(one.index == 104);
  check_state(w, 100, 104, 104);

  /* Bad inputs: nothing written. */
  nwal_log_state untouched;
  memset(&untouched, 0x5a, sizeof untouched);
  nwal_log_state copy = untouched;
  CHECK_STATUS(nwal_log_state_get(NULL, &copy), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(memcmp(&copy, &untouched, sizeof copy) == 0);
  CHECK_STATUS(nwal_log_state_get(w, NULL), NWAL_ERR_INVALID_ARGUMENT);

  /* A ref read with another index does not verify; one outside is not found. */
  nwal_record rec;
  nwal_read_buf *buf = NULL;
  nwal_entry_ref wrong = batch[1];
  wrong.index = batch[2].index;
  CHECK_STATUS(nwal_read_batch(w, &wrong, 1, &rec, &buf), NWAL_ERR_CORRUPTED_DATA);
  wrong.index = 105;
  CHECK_STATUS(nwal_read_batch(w, &wrong, 1, &rec, &buf), NWAL_ERR_NOT_FOUND);
  CHECK(buf == NULL);

  /* After shutdown the state is still there; a reopen keeps the indexes
   * (the option applies only when the stream is created). */
  CHECK_OK(nwal_shutdown(w));
  check_state(w, 100, 104, 104);
  nwal_close(w);
  o.first_index = 7;
  CHECK_OK(nwal_open(dir, "s", &o, &w));
  check_state(w, 100, 104, 104);
  CHECK_OK(nwal_append(w, NULL, 0, (const uint8_t *)"f", 1, T, 0, &one));
  CHECK(one.index == 105);
  nwal_close(w);
  return 0;
}
