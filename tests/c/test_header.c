/* SPDX-License-Identifier: MIT */
/* Header hygiene: nano_wal.h compiles alone under strict C99 (-Wpedantic),
 * twice in a row (include guard), and the struct layouts are the documented
 * fixed-width ones (what bindings in other languages rely on). */
#include <nano_wal.h>
#include <nano_wal.h>

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* C99 has no _Static_assert: a negative array size fails the build. */
#define LAYOUT(name, cond) typedef char layout_##name[(cond) ? 1 : -1]

LAYOUT(ref, sizeof(nwal_entry_ref) == 32);
LAYOUT(ref_index, offsetof(nwal_entry_ref, index) == 24);
LAYOUT(options, sizeof(nwal_options) == 96);
LAYOUT(options_flags, offsetof(nwal_options, flags) == 28);
LAYOUT(options_first_index, offsetof(nwal_options, first_index) == 32);
LAYOUT(options_skew, offsetof(nwal_options, max_clock_skew_ms) == 40);
LAYOUT(options_budget, offsetof(nwal_options, max_stream_bytes) == 48);
LAYOUT(options_hold_lag, offsetof(nwal_options, max_hold_lag_bytes) == 56);
LAYOUT(options_reserved, offsetof(nwal_options, reserved) == 72);
LAYOUT(log_state, sizeof(nwal_log_state) == 64);
LAYOUT(log_state_durable, offsetof(nwal_log_state, durable_index) == 16);
LAYOUT(span, sizeof(nwal_span) == 40);
LAYOUT(record, sizeof(nwal_record) == 4 * sizeof(void *));
LAYOUT(write_entry, sizeof(nwal_write_entry) == 4 * sizeof(void *));
LAYOUT(cleanup, sizeof(nwal_cleanup_result) == 64);
LAYOUT(recovery_report, sizeof(nwal_recovery_report) == 88);
LAYOUT(recovery_report_kept, offsetof(nwal_recovery_report, kept_len) == 24);
LAYOUT(cleanup_budget, offsetof(nwal_cleanup_result, deleted_over_budget) == 24);
LAYOUT(cleanup_holds, offsetof(nwal_cleanup_result, dropped_holds) == 32);
LAYOUT(segment_retention, sizeof(nwal_segment_retention) == 136);
LAYOUT(segment_retention_kept, offsetof(nwal_segment_retention, kept) == 24);
LAYOUT(segment_retention_holds, offsetof(nwal_segment_retention, holds) == 32);
LAYOUT(segment_retention_name, offsetof(nwal_segment_retention, hold_name) == 48);
LAYOUT(segment_retention_reserved, offsetof(nwal_segment_retention, reserved) == 104);
LAYOUT(status_ok, NWAL_OK == 0);
LAYOUT(status_panic, NWAL_ERR_PANIC == 9);
LAYOUT(status_done, NWAL_DONE == 100);
LAYOUT(durable, NWAL_DURABLE == 1);
LAYOUT(salvage, NWAL_OPT_SALVAGE == 1);

int main(void) {
  /* Taking every function's address checks the prototypes link. */
  void (*fns[])(void) = {
      (void (*)(void))nwal_open,        (void (*)(void))nwal_append,
      (void (*)(void))nwal_append_batch, (void (*)(void))nwal_append_batch_packed,
      (void (*)(void))nwal_read_batch,  (void (*)(void))nwal_read_buf_free,
      (void (*)(void))nwal_iter_open,   (void (*)(void))nwal_iter_next,
      (void (*)(void))nwal_iter_free,   (void (*)(void))nwal_sync,
      (void (*)(void))nwal_log_state_get, (void (*)(void))nwal_read_range,
      (void (*)(void))nwal_iter_open_at, (void (*)(void))nwal_meta_put,
      (void (*)(void))nwal_meta_get,
      (void (*)(void))nwal_cleanup,     (void (*)(void))nwal_retention,
      (void (*)(void))nwal_shutdown,
      (void (*)(void))nwal_close,       (void (*)(void))nwal_status_name,
      (void (*)(void))nwal_last_error_message, (void (*)(void))nwal_last_os_error,
      (void (*)(void))nwal_version,     (void (*)(void))nwal_options_default,
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
    if (fns[i] == NULL) return 1;
  if (strcmp(nwal_version(), "0.0.0") == 0) return 1;
  printf("test_header: OK (nano_wal %s)\n", nwal_version());
  return 0;
}
