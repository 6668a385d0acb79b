// SPDX-License-Identifier: MIT
module example.com/nanowal-consumer

go 1.19

require github.com/nano-wal/nano_wal/go v0.0.0

// The module from this repository's go/ directory, as a user's module would
// get it from its module path, without a download.
replace github.com/nano-wal/nano_wal/go => ../../go
