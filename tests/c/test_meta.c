/* SPDX-License-Identifier: MIT */
/* The metadata slot through the C API: nwal_meta_put and nwal_meta_get
 * round trip, replace, empty values, 64 keys and the 65th refused, survival
 * of close and reopen, and every status of both functions: NOT_FOUND for an
 * absent key, BUFFER_TOO_SMALL (with *out_len set, nothing copied, also with
 * cap 0 and a NULL buf), INVALID_ARGUMENT for each NULL and bad key or
 * value (nothing written, outputs untouched), SHUTDOWN for a put after
 * nwal_shutdown (gets still answer). */
#include "check.h"

static const uint8_t *u8(const char *s) { return (const uint8_t *)s; }

/* `key` holds exactly the `len` bytes at `want`. */
static void has_value(nwal *w, const char *key, const char *want, size_t len) {
  uint8_t buf[4096];
  size_t got = 12345;
  memset(buf, 0xEE, sizeof buf);
  CHECK_OK(nwal_meta_get(w, key, buf, sizeof buf, &got));
  CHECK(got == len);
  CHECK(memcmp(buf, want, len) == 0);
  CHECK(buf[len] == 0xEE); /* nothing past the value */
}

static void round_trip_and_reopen(const char *dir) {
  nwal *w = NULL;
  CHECK_OK(nwal_open(dir, "s", NULL, &w));
  CHECK_OK(nwal_meta_put(w, "raft.vote", u8("node-1"), 6));
  CHECK_OK(nwal_meta_put(w, "raft.term", u8("\x07\0\0\0\0\0\0\0"), 8));
  CHECK_OK(nwal_meta_put(w, "empty", NULL, 0));
  has_value(w, "raft.vote", "node-1", 6);
  CHECK_OK(nwal_meta_put(w, "raft.vote", u8("node-22"), 7));
  has_value(w, "raft.vote", "node-22", 7);
  has_value(w, "empty", "", 0);
  CHECK_OK(nwal_close(w));

  w = NULL;
  CHECK_OK(nwal_open(dir, "s", NULL, &w));
  has_value(w, "raft.vote", "node-22", 7);
  has_value(w, "raft.term", "\x07\0\0\0\0\0\0\0", 8);
  has_value(w, "empty", "", 0);
  CHECK_OK(nwal_close(w));
}

static void statuses_of_get(const char *dir) {
  nwal *w = NULL;
  CHECK_OK(nwal_open(dir, "g", NULL, &w));
  CHECK_OK(nwal_meta_put(w, "k", u8("hello"), 5));
  uint8_t buf[8];
  size_t len = 999;

  /* Absent key: NOT_FOUND, *out_len untouched. */
  CHECK_STATUS(nwal_meta_get(w, "absent", buf, sizeof buf, &len), NWAL_ERR_NOT_FOUND);
  CHECK(strstr(nwal_last_error_message(), "absent") != NULL);
  CHECK(len == 999);

  /* Too small: nothing copied, *out_len is the value's length. */
  memset(buf, 0xEE, sizeof buf);
  CHECK_STATUS(nwal_meta_get(w, "k", buf, 4, &len), NWAL_ERR_BUFFER_TOO_SMALL);
  CHECK(len == 5);
  for (size_t i = 0; i < sizeof buf; i++) CHECK(buf[i] == 0xEE);
  CHECK(strcmp(nwal_status_name(NWAL_ERR_BUFFER_TOO_SMALL), "NWAL_ERR_BUFFER_TOO_SMALL") == 0);
  CHECK(NWAL_ERR_BUFFER_TOO_SMALL == 10);

  /* Asking for the length: cap 0 with a NULL buf. */
  len = 0;
  CHECK_STATUS(nwal_meta_get(w, "k", NULL, 0, &len), NWAL_ERR_BUFFER_TOO_SMALL);
  CHECK(len == 5);
  CHECK_OK(nwal_meta_put(w, "e", NULL, 0));
  len = 999;
  CHECK_OK(nwal_meta_get(w, "e", NULL, 0, &len));
  CHECK(len == 0);

  /* Exactly the value's length. */
  len = 0;
  CHECK_OK(nwal_meta_get(w, "k", buf, 5, &len));
  CHECK(len == 5 && memcmp(buf, "hello", 5) == 0);

  /* Bad arguments: INVALID_ARGUMENT, *out_len untouched. */
  len = 999;
  CHECK_STATUS(nwal_meta_get(NULL, "k", buf, sizeof buf, &len), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_meta_get(w, NULL, buf, sizeof buf, &len), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nwal_last_error_message(), "key") != NULL);
  CHECK_STATUS(nwal_meta_get(w, "k", NULL, 8, &len), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nwal_last_error_message(), "buf") != NULL);
  CHECK_STATUS(nwal_meta_get(w, "k", buf, sizeof buf, NULL), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nwal_last_error_message(), "out_len") != NULL);
  CHECK_STATUS(nwal_meta_get(w, "", buf, sizeof buf, &len), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_meta_get(w, "a/b", buf, sizeof buf, &len), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_meta_get(w, "\xff", buf, sizeof buf, &len), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(len == 999);
  CHECK_OK(nwal_close(w));
}

static void statuses_of_put(const char *dir) {
  nwal *w = NULL;
  CHECK_OK(nwal_open(dir, "p", NULL, &w));
  CHECK_OK(nwal_meta_put(w, "k", u8("kept"), 4));
  static uint8_t big[4097];
  memset(big, 'x', sizeof big);
  char long_key[66];
  memset(long_key, 'k', 65);
  long_key[65] = '\0';
  const char *bad_keys[] = {"", long_key, "a/b", "../x", "sp ace", "tab\t", "\xc3\xa9", "k:1"};

  CHECK_STATUS(nwal_meta_put(NULL, "k", u8("v"), 1), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_meta_put(w, NULL, u8("v"), 1), NWAL_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nwal_meta_put(w, "k", NULL, 1), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nwal_last_error_message(), "value") != NULL);
  CHECK_STATUS(nwal_meta_put(w, "k", big, sizeof big), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nwal_last_error_message(), "4096") != NULL);
  for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
    CHECK_STATUS(nwal_meta_put(w, bad_keys[i], u8("v"), 1), NWAL_ERR_INVALID_ARGUMENT);
    CHECK(strstr(nwal_last_error_message(), "key") != NULL);
  }
  has_value(w, "k", "kept", 4);
  CHECK_OK(nwal_meta_put(w, "k", big, 4096)); /* the largest value */
  CHECK_OK(nwal_meta_put(w, long_key + 1, u8("64"), 2)); /* the longest key */
  has_value(w, long_key + 1, "64", 2);

  /* At most 64 keys: the 65th new key is refused, existing ones replaced. */
  char key[16];
  for (int i = 2; i < 64; i++) {
    snprintf(key, sizeof key, "key-%d", i);
    CHECK_OK(nwal_meta_put(w, key, u8(key), strlen(key)));
  }
  CHECK_STATUS(nwal_meta_put(w, "key-64", u8("x"), 1), NWAL_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nwal_last_error_message(), "64 keys") != NULL);
  size_t len = 999;
  CHECK_STATUS(nwal_meta_get(w, "key-64", NULL, 0, &len), NWAL_ERR_NOT_FOUND);
  CHECK_OK(nwal_meta_put(w, "key-2", u8("replaced"), 8));
  has_value(w, "key-2", "replaced", 8);

  /* After shutdown: puts refused, gets answer. */
  CHECK_OK(nwal_shutdown(w));
  CHECK_STATUS(nwal_meta_put(w, "k", u8("v"), 1), NWAL_ERR_SHUTDOWN);
  has_value(w, "key-2", "replaced", 8);
  CHECK_OK(nwal_close(w));

  w = NULL;
  CHECK_OK(nwal_open(dir, "p", NULL, &w));
  has_value(w, "key-2", "replaced", 8);
  has_value(w, long_key + 1, "64", 2);
  CHECK_STATUS(nwal_meta_get(w, "key-64", NULL, 0, &len), NWAL_ERR_NOT_FOUND);
  CHECK_OK(nwal_close(w));
}

int main(void) {
  char dir[300];
  test_path(dir, sizeof dir, "meta");
  round_trip_and_reopen(dir);
  statuses_of_get(dir);
  statuses_of_put(dir);
  printf("test_meta: ok\n");
  return 0;
}
