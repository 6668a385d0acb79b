# SPDX-License-Identifier: MIT
"""Checks python/nano_wal.cdef against an installed nano_wal.h:

  1. it is what python/cdef.py generates from the header (up to date);
  2. cffi's API mode, compiled by the C compiler with -Werror against the
     header and linked with the library, accepts it: every struct's size
     and its fields' sizes and offsets, every enumerator and integer macro,
     and the functions' pointer types (a mismatch is a warning, so an
     error) agree with what the compiler sees;
  3. the same check rejects a cdef with one field's type changed, so (2)
     is a real check.

usage: python3 check_cdef.py INCLUDE_DIR LIB_DIR WORK_DIR
"""
import importlib
import pathlib
import re
import subprocess
import sys

import cffi

root = pathlib.Path(__file__).resolve().parent.parent.parent
include_dir, lib_dir, work = (pathlib.Path(a).resolve() for a in sys.argv[1:4])
work.mkdir(parents=True, exist_ok=True)
cdef_path = root / "python" / "nano_wal.cdef"
subprocess.run([sys.executable, str(root / "python" / "cdef.py"), "--check", str(include_dir / "nano_wal.h")], check=True)
cdef = cdef_path.read_text()


def api_mode(name, source):
    """Compile and import an API-mode module of `source` as the cdef, and
    lay out each of its structs (cffi compares the layouts then)."""
    ffi = cffi.FFI()
    ffi.cdef(source)
    ffi.set_source(name, "#include <nano_wal.h>", include_dirs=[str(include_dir)],
                   library_dirs=[str(lib_dir)], libraries=["nano_wal"],
                   extra_compile_args=["-Werror"], extra_link_args=["-Wl,-rpath," + str(lib_dir)])
    ffi.compile(tmpdir=str(work), verbose=False)
    sys.path.insert(0, str(work))
    module = importlib.import_module(name)
    for struct in defined_structs(source):
        module.ffi.sizeof("struct " + struct)
    return module


def defined_structs(source):
    """The structs the cdef gives fields (not the opaque ones)."""
    return re.findall(r"struct (\w+) \{", source)


mod = api_mode("_nano_wal_cdef_check", cdef)
lib, ffi = mod.lib, mod.ffi
assert lib.NWAL_DONE == 100 and lib.NWAL_DURABLE == 1, (lib.NWAL_DONE, lib.NWAL_DURABLE)
assert ffi.string(lib.nwal_version()).decode() == "%d.%d.%d" % (
    lib.NWAL_VERSION_MAJOR, lib.NWAL_VERSION_MINOR, lib.NWAL_VERSION_PATCH)
functions = [n for n in dir(lib) if n.startswith("nwal_")]
structs = defined_structs(cdef)
print(f"python/nano_wal.cdef: {len(functions)} functions and {len(structs)} structs agree with the compiler's view of the header")

wrong = cdef.replace("  uint32_t flags;", "  uint64_t flags;", 1)
assert wrong != cdef, "the cdef has no `uint32_t flags;` field to change"
try:
    api_mode("_nano_wal_cdef_wrong", wrong)
except Exception as e:  # a compile error (-Werror) or a layout mismatch
    print(f"a cdef with nwal_options.flags as uint64_t is rejected: {e}")
else:
    sys.exit("check_cdef.py: a cdef with a wrong field type was accepted")
