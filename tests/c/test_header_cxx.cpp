/* SPDX-License-Identifier: MIT */
// The header compiles as C++ (extern "C", no C-only constructs) and links.
#include <nano_wal.h>

#include <cstdio>
#include <cstring>

int main() {
  nwal_options o = nwal_options_default();
  nwal *w = nullptr;
  nwal_status s = nwal_open(nullptr, "s", &o, &w);
  if (s != NWAL_ERR_INVALID_ARGUMENT || w != nullptr) return 1;
  if (std::strcmp(nwal_status_name(s), "NWAL_ERR_INVALID_ARGUMENT") != 0) return 1;
  std::printf("test_header_cxx: OK (nano_wal %s)\n", nwal_version());
  return 0;
}
