/* SPDX-License-Identifier: MIT */
/* kvstore: a tiny durable key-value store. Every change is a record in the
 * WAL (header "set" or "del", content "key\0value"); on start the store
 * rebuilds its in-memory table by replaying the log. A write is acknowledged
 * only once it is durable (NWAL_DURABLE).
 *
 *   usage: kvstore DIR set KEY VALUE
 *          kvstore DIR del KEY
 *          kvstore DIR get KEY        (exit 2 if absent)
 *          kvstore DIR list
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <nano_wal.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUCKETS 1024

struct entry {
  char *key;
  char *value;
  struct entry *next;
};

static struct entry *table[BUCKETS];

static unsigned hash(const char *s, size_t n) {
  unsigned h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h % BUCKETS;
}

static char *dup_n(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (d == NULL) abort();
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

static struct entry **find(const char *key, size_t klen) {
  struct entry **p = &table[hash(key, klen)];
  while (*p != NULL && !(strlen((*p)->key) == klen && memcmp((*p)->key, key, klen) == 0))
    p = &(*p)->next;
  return p;
}

static void apply_set(const char *key, size_t klen, const char *val, size_t vlen) {
  struct entry **p = find(key, klen);
  if (*p == NULL) {
    *p = calloc(1, sizeof **p);
    if (*p == NULL) abort();
    (*p)->key = dup_n(key, klen);
  } else {
    free((*p)->value);
  }
  (*p)->value = dup_n(val, vlen);
}

static void apply_del(const char *key, size_t klen) {
  struct entry **p = find(key, klen);
  if (*p != NULL) {
    struct entry *e = *p;
    *p = e->next;
    free(e->key);
    free(e->value);
    free(e);
  }
}

static void free_table(void) {
  for (int b = 0; b < BUCKETS; b++) {
    while (table[b] != NULL) apply_del(table[b]->key, strlen(table[b]->key));
  }
}

/* Apply one logged change to the table. Returns 0, or -1 if malformed. */
static int apply_record(const nwal_record *r) {
  const char *c = (const char *)r->content;
  const char *nul = r->content_len ? memchr(c, '\0', r->content_len) : NULL;
  size_t klen = nul ? (size_t)(nul - c) : r->content_len;
  if (r->header_len == 3 && memcmp(r->header, "set", 3) == 0 && nul != NULL) {
    apply_set(c, klen, nul + 1, r->content_len - klen - 1);
  } else if (r->header_len == 3 && memcmp(r->header, "del", 3) == 0) {
    apply_del(c, klen);
  } else {
    return -1;
  }
  return 0;
}

static int fail(const char *what, nwal_status s) {
  fprintf(stderr, "kvstore: %s: %s: %s\n", what, nwal_status_name(s), nwal_last_error_message());
  return 1;
}

/* Rebuild the table from the whole log. */
static nwal_status replay(nwal *w, int *records) {
  nwal_iter *it = NULL;
  nwal_status s = nwal_iter_open(w, NULL, &it);
  if (s != NWAL_OK) return s;
  nwal_record r;
  *records = 0;
  while ((s = nwal_iter_next(it, &r, NULL)) == NWAL_OK) {
    if (apply_record(&r) != 0) fprintf(stderr, "kvstore: skipping a malformed record\n");
    (*records)++;
  }
  nwal_iter_free(it);
  return s == NWAL_DONE ? NWAL_OK : s;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Log a change durably, then apply it. */
static nwal_status log_change(nwal *w, const char *op, const char *key, const char *value) {
  size_t klen = strlen(key), vlen = value ? strlen(value) : 0;
  size_t len = klen + (value ? 1 + vlen : 0);
  char *content = malloc(len + 1);
  if (content == NULL) abort();
  memcpy(content, key, klen);
  if (value) {
    content[klen] = '\0';
    memcpy(content + klen + 1, value, vlen);
  }
  nwal_status s = nwal_append(w, (const uint8_t *)op, 3, (const uint8_t *)content, len,
                              now_ms(), NWAL_DURABLE, NULL);
  if (s == NWAL_OK) {
    if (value) apply_set(key, klen, value, vlen);
    else apply_del(key, klen);
  }
  free(content);
  return s;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s DIR set KEY VALUE | del KEY | get KEY | list\n", argv[0]);
    return 64;
  }
  const char *dir = argv[1], *cmd = argv[2];
  nwal *w = NULL;
  nwal_status s = nwal_open(dir, "kv", NULL, &w);
  if (s != NWAL_OK) return fail("opening the log", s);

  int rc = 0, records = 0;
  s = replay(w, &records);
  if (s != NWAL_OK) {
    rc = fail("replaying the log", s);
  } else if (strcmp(cmd, "set") == 0 && argc == 5) {
    s = log_change(w, "set", argv[3], argv[4]);
    if (s != NWAL_OK) rc = fail("logging the change", s);
  } else if (strcmp(cmd, "del") == 0 && argc == 4) {
    s = log_change(w, "del", argv[3], NULL);
    if (s != NWAL_OK) rc = fail("logging the change", s);
  } else if (strcmp(cmd, "get") == 0 && argc == 4) {
    struct entry **p = find(argv[3], strlen(argv[3]));
    if (*p != NULL) {
      printf("%s\n", (*p)->value);
    } else {
      fprintf(stderr, "kvstore: %s: not found\n", argv[3]);
      rc = 2;
    }
  } else if (strcmp(cmd, "list") == 0 && argc == 3) {
    for (int b = 0; b < BUCKETS; b++)
      for (struct entry *e = table[b]; e != NULL; e = e->next) printf("%s=%s\n", e->key, e->value);
    printf("# table rebuilt from %d logged change(s)\n", records);
  } else {
    fprintf(stderr, "kvstore: bad command\n");
    rc = 64;
  }
  free_table();
  s = nwal_close(w);
  if (s != NWAL_OK && rc == 0) rc = fail("closing the log", s);
  return rc;
}
