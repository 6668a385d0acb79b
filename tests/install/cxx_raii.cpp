/* SPDX-License-Identifier: MIT */
// A C++17 consumer of the installed library: a small RAII wrapper (the log
// handle, read buffers and iterators each owned by one object; a failed
// status becomes an exception, or an expected-like result where failure is
// an ordinary outcome), then a test of it: open, append, batch, read,
// replay, errors, reopen, truncation at both ends, reset, metadata. Built
// with -Wall -Wextra -Werror against a staged install by
// tests/install/check_install.sh (pkg-config and find_package).
//
//   usage: cxx_raii DIR     (DIR must not exist yet or be empty)
#include <nano_wal.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace nwal_cxx {

// A failed call: its status and the library's message (copied on the
// failing thread, right after the call, as the message is thread-local).
class Error : public std::runtime_error {
 public:
  explicit Error(nwal_status status)
      : std::runtime_error(std::string(nwal_status_name(status)) + ": " +
                           nwal_last_error_message()),
        status_(status) {}
  nwal_status status() const noexcept { return status_; }

 private:
  nwal_status status_;
};

inline void check(nwal_status status) {
  if (status != NWAL_OK) throw Error(status);
}

// Either a value or the Error of the call that failed (like std::expected).
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}
  bool ok() const noexcept { return v_.index() == 0; }
  T &value() & {
    if (!ok()) throw std::get<Error>(v_);
    return std::get<T>(v_);
  }
  T value() && {
    if (!ok()) throw std::get<Error>(v_);
    return std::move(std::get<T>(v_));
  }
  const Error &error() const { return std::get<Error>(v_); }

 private:
  std::variant<T, Error> v_;
};

// A record as views into memory owned by a ReadBatch or a Replay.
struct Record {
  std::optional<std::string_view> header;  // nullopt: appended without one
  std::string_view content;
};

inline Record view(const nwal_record &r) {
  Record out;
  if (r.header != nullptr)
    out.header = std::string_view(reinterpret_cast<const char *>(r.header), r.header_len);
  out.content = std::string_view(reinterpret_cast<const char *>(r.content), r.content_len);
  return out;
}

inline const uint8_t *bytes(std::string_view s) {
  // A non-NULL pointer even for "" (a NULL header means "no header").
  return reinterpret_cast<const uint8_t *>(s.empty() ? "" : s.data());
}

// One record to append in a batch.
struct Entry {
  std::optional<std::string_view> header;
  std::string_view content;
};

// The records of one read, valid as long as this object (move-only).
class ReadBatch {
 public:
  ReadBatch(ReadBatch &&o) noexcept : recs_(std::move(o.recs_)), buf_(std::exchange(o.buf_, nullptr)) {}
  ReadBatch &operator=(ReadBatch &&o) noexcept {
    std::swap(recs_, o.recs_);
    std::swap(buf_, o.buf_);
    return *this;
  }
  ~ReadBatch() { nwal_read_buf_free(buf_); }
  std::size_t size() const noexcept { return recs_.size(); }
  Record operator[](std::size_t i) const { return view(recs_.at(i)); }

 private:
  friend class Log;
  ReadBatch() = default;
  std::vector<nwal_record> recs_;
  nwal_read_buf *buf_ = nullptr;
};

// A replay in log order; each record is valid until the next call to next().
class Replay {
 public:
  Replay(Replay &&o) noexcept : it_(std::exchange(o.it_, nullptr)) {}
  Replay &operator=(Replay &&o) noexcept {
    std::swap(it_, o.it_);
    return *this;
  }
  ~Replay() { nwal_iter_free(it_); }

  // The next record and its ref, or nullopt at the end of the log.
  std::optional<std::pair<nwal_entry_ref, Record>> next() {
    nwal_record rec;
    nwal_entry_ref ref;
    nwal_status s = nwal_iter_next(it_, &rec, &ref);
    if (s == NWAL_DONE) return std::nullopt;
    check(s);
    return std::make_pair(ref, view(rec));
  }

 private:
  friend class Log;
  explicit Replay(nwal_iter *it) : it_(it) {}
  nwal_iter *it_;
};

// Owns an open log (move-only). The destructor closes it; call close() to
// see the status of the final sync.
class Log {
 public:
  static Result<Log> open(const std::string &dir, const std::string &stream,
                          const nwal_options &opts = nwal_options_default()) {
    nwal *w = nullptr;
    nwal_status s = nwal_open(dir.c_str(), stream.c_str(), &opts, &w);
    if (s != NWAL_OK) return Error(s);
    return Log(w);
  }
  Log(Log &&o) noexcept : w_(std::exchange(o.w_, nullptr)) {}
  Log &operator=(Log &&o) noexcept {
    std::swap(w_, o.w_);
    return *this;
  }
  ~Log() { nwal_close(w_); }

  nwal_entry_ref append(std::optional<std::string_view> header, std::string_view content,
                        int64_t now_ms, uint32_t flags = 0) {
    nwal_entry_ref ref;
    check(nwal_append(w_, header ? bytes(*header) : nullptr, header ? header->size() : 0,
                      bytes(content), content.size(), now_ms, flags, &ref));
    return ref;
  }

  std::vector<nwal_entry_ref> append_batch(const std::vector<Entry> &entries, int64_t now_ms,
                                           uint32_t flags = 0) {
    std::vector<nwal_write_entry> in;
    for (const Entry &e : entries)
      in.push_back({e.header ? bytes(*e.header) : nullptr, e.header ? e.header->size() : 0,
                    bytes(e.content), e.content.size()});
    std::vector<nwal_entry_ref> refs(entries.size());
    check(nwal_append_batch(w_, in.data(), in.size(), now_ms, flags, refs.data()));
    return refs;
  }

  ReadBatch read(const std::vector<nwal_entry_ref> &refs) const {
    ReadBatch out;
    out.recs_.resize(refs.size());
    check(nwal_read_batch(w_, refs.data(), refs.size(), out.recs_.data(), &out.buf_));
    return out;
  }

  Replay replay(const nwal_entry_ref *from = nullptr) const {
    nwal_iter *it = nullptr;
    check(nwal_iter_open(w_, from, &it));
    return Replay(it);
  }

  nwal_log_state state() const {
    nwal_log_state st;
    check(nwal_log_state_get(w_, &st));
    return st;
  }
  void truncate_after(uint64_t index) { check(nwal_truncate_after(w_, index)); }
  void purge_before(uint64_t index) { check(nwal_purge_before(w_, index)); }
  void reset(uint64_t next_index) { check(nwal_reset(w_, next_index)); }

  void meta_put(const std::string &key, std::string_view value) {
    check(nwal_meta_put(w_, key.c_str(), bytes(value), value.size()));
  }
  // The value of `key`, or nullopt when it has none. Asks for the length
  // first (a zero-capacity get), then copies.
  std::optional<std::string> meta_get(const std::string &key) const {
    size_t len = 0;
    nwal_status s = nwal_meta_get(w_, key.c_str(), nullptr, 0, &len);
    if (s == NWAL_ERR_NOT_FOUND) return std::nullopt;
    if (s != NWAL_ERR_BUFFER_TOO_SMALL) check(s);
    std::string out(len, '\0');
    check(nwal_meta_get(w_, key.c_str(), reinterpret_cast<uint8_t *>(out.data()), len, &len));
    return out;
  }

  void close() { check(nwal_close(std::exchange(w_, nullptr))); }

 private:
  explicit Log(nwal *w) : w_(w) {}
  nwal *w_;
};

}  // namespace nwal_cxx

// ---- the test ---------------------------------------------------------------

static int failures = 0;
#define EXPECT(cond)                                                    \
  do {                                                                  \
    if (!(cond)) {                                                      \
      std::fprintf(stderr, "cxx_raii:%d: failed: %s\n", __LINE__, #cond); \
      failures++;                                                       \
    }                                                                   \
  } while (0)

static bool contains(const std::string &s, const char *part) {
  return s.find(part) != std::string::npos;
}

// Runs f and returns the status of the Error it throws (NWAL_OK if none).
template <class F>
static nwal_status status_of(F f, std::string *message = nullptr) {
  try {
    f();
  } catch (const nwal_cxx::Error &e) {
    if (message != nullptr) *message = e.what();
    return e.status();
  }
  return NWAL_OK;
}

static bool same(const nwal_entry_ref &a, const nwal_entry_ref &b) {
  return a.segment_id == b.segment_id && a.offset == b.offset && a.size == b.size &&
         a.index == b.index;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: cxx_raii DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  const int64_t now_ms = 1711234567890;
  using nwal_cxx::Entry;
  using nwal_cxx::Log;

  std::vector<nwal_entry_ref> refs;
  {
    nwal_options opts = nwal_options_default();
    opts.segment_duration_ms = 10 * 60 * 1000;
    opts.retention_ms = 60 * 60 * 1000;
    Log log = Log::open(dir, "orders", opts).value();

    refs.push_back(log.append("key-1", "first", now_ms, NWAL_DURABLE));
    refs.push_back(log.append(std::nullopt, "no header", now_ms));
    refs.push_back(log.append("", "", now_ms));  // empty header, empty content
    for (const nwal_entry_ref &r : log.append_batch(
             {{"k-a", "batch a"}, {std::nullopt, "batch b"}, {"k-c", "batch c"}}, now_ms))
      refs.push_back(r);
    EXPECT(refs.size() == 6);
    for (std::size_t i = 1; i < refs.size(); i++)
      EXPECT(refs[i].segment_id == refs[0].segment_id && refs[i].offset > refs[i - 1].offset);

    nwal_cxx::ReadBatch batch = log.read(refs);
    EXPECT(batch.size() == 6);
    EXPECT(batch[0].header == "key-1" && batch[0].content == "first");
    EXPECT(!batch[1].header && batch[1].content == "no header");
    EXPECT(batch[2].header == "" && batch[2].content.empty());
    EXPECT(batch[3].header == "k-a" && batch[3].content == "batch a");
    EXPECT(!batch[4].header && batch[4].content == "batch b");
    EXPECT(batch[5].header == "k-c" && batch[5].content == "batch c");

    // Replay from the start, then from a ref (inclusive).
    nwal_cxx::Replay all = log.replay();
    std::size_t n = 0;
    while (auto item = all.next()) {
      EXPECT(n < refs.size() && same(item->first, refs[n]));
      EXPECT(n >= refs.size() || item->second.content == batch[n].content);
      n++;
    }
    EXPECT(n == 6);
    nwal_cxx::Replay tail = log.replay(&refs[4]);
    auto first = tail.next();
    EXPECT(first && same(first->first, refs[4]) && first->second.content == "batch b");

    // Errors: an expected-like result for open, exceptions for the rest.
    auto second = Log::open(dir, "orders");
    EXPECT(!second.ok() && second.error().status() == NWAL_ERR_LOCKED);
    EXPECT(contains(second.error().what(), "NWAL_ERR_LOCKED: nwal_open: "));
    std::string msg;
    EXPECT(status_of([&] { Log::open(dir, "../escape").value(); }, &msg) ==
           NWAL_ERR_INVALID_ARGUMENT);
    EXPECT(contains(msg, "stream name"));
    const std::string huge(65536, 'h');
    EXPECT(status_of([&] { log.append(huge, "x", now_ms); }, &msg) == NWAL_ERR_HEADER_TOO_LARGE);
    EXPECT(contains(msg, "nwal_append") && contains(msg, "65536"));
    const nwal_entry_ref missing{refs[0].segment_id + 1000, 0, refs[0].size, refs[0].index};
    EXPECT(status_of([&] { log.read({refs[0], missing}); }, &msg) == NWAL_ERR_NOT_FOUND);
    EXPECT(contains(msg, "not found"));
    // A failed batch appends nothing.
    EXPECT(status_of([&] { log.append_batch({{"ok", "kept?"}, {huge, "too big"}}, now_ms); }) ==
           NWAL_ERR_HEADER_TOO_LARGE);

    // The records read earlier are still valid after more calls.
    EXPECT(batch[5].content == "batch c");
    log.close();
    // Closed: the destructor has nothing left to do.
  }

  // Reopen: everything acknowledged is there, nothing of the failed batch.
  {
    Log log = Log::open(dir, "orders").value();
    nwal_cxx::Replay all = log.replay();
    std::size_t n = 0;
    while (auto item = all.next()) {
      EXPECT(n < refs.size() && same(item->first, refs[n]));
      n++;
    }
    EXPECT(n == refs.size());

    // Truncation at both ends and metadata (a Raft vote).
    log.meta_put("raft.vote", "term 3, node 2");
    log.meta_put("empty", "");
    log.truncate_after(refs[4].index);
    EXPECT(log.state().last_index == refs[4].index);
    EXPECT(status_of([&] { log.read({refs[5]}); }) == NWAL_ERR_NOT_FOUND);
    log.purge_before(refs[2].index);
    EXPECT(log.state().first_index == refs[2].index);
    EXPECT(status_of([&] { log.read({refs[0]}); }) == NWAL_ERR_NOT_FOUND);
    EXPECT(status_of([&] { log.purge_before(refs[4].index + 2); }) == NWAL_ERR_INVALID_ARGUMENT);
    log.reset(1000);
    EXPECT(log.state().first_index == 1000 && log.state().last_index == 999);
    EXPECT(log.append(std::nullopt, "after reset", now_ms).index == 1000);
  }  // ~Log closes it

  // Reopen: the reset log and the metadata are there.
  {
    Log log = Log::open(dir, "orders").value();
    EXPECT(log.state().first_index == 1000 && log.state().last_index == 1000);
    EXPECT(log.meta_get("raft.vote") == std::optional<std::string>("term 3, node 2"));
    EXPECT(log.meta_get("empty") == std::optional<std::string>(""));
    EXPECT(!log.meta_get("absent"));
    EXPECT(status_of([&] { log.meta_put("bad key", "x"); }) == NWAL_ERR_INVALID_ARGUMENT);
  }

  if (failures != 0) {
    std::fprintf(stderr, "cxx_raii: %d failure(s)\n", failures);
    return 1;
  }
  std::printf("cxx_raii: OK (nano_wal %s)\n", nwal_version());
  return 0;
}
