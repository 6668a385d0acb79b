// SPDX-License-Identifier: MIT
module github.com/nano-wal/nano_wal/go

go 1.19
