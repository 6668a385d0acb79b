# SPDX-License-Identifier: MIT
# Turns cargo's staticlib (the crate, its dependencies and Rust's std) into
# one relocatable object whose only global symbols are the C API's
# functions: `cc -r` of the whole archive, then objcopy keeps those global
# and makes every other definition local. (No --gc-sections with -r: GNU ld
# 2.40 then turns weak undefined references, such as std's to
# pidfd_spawnp, into local undefined ones, which objcopy makes strong.) The
# shared library is linked from this object with the version script, and
# the installed static archive holds it alone, so a program can link
# libnano_wal.a beside another Rust static library (two copies of std, each
# private to its own object).
#
#   cmake -DCC=... -DOBJCOPY=... -DARCHIVE=libnano_wal.a -DMAP=nano_wal.map
#         -DEXTRA="sym;..." -DOUT=nano_wal.o -P prelink.cmake
#
# Runs only when the archive, the version script or this script is newer
# than OUT.
foreach(v CC OBJCOPY ARCHIVE MAP OUT)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "prelink.cmake: -D${v}= is required")
  endif()
endforeach()
if(EXISTS "${OUT}" AND NOT "${ARCHIVE}" IS_NEWER_THAN "${OUT}" AND NOT "${MAP}" IS_NEWER_THAN "${OUT}"
   AND NOT "${CMAKE_CURRENT_LIST_FILE}" IS_NEWER_THAN "${OUT}")
  return()
endif()

# The exported names: every name of the version script, and the extra ones.
file(STRINGS "${MAP}" _lines REGEX "^[ \t]*nwal_[a-z0-9_]+;")
set(_syms ${EXTRA})
foreach(l IN LISTS _lines)
  string(REGEX MATCH "nwal_[a-z0-9_]+" s "${l}")
  list(APPEND _syms "${s}")
endforeach()
list(REMOVE_DUPLICATES _syms)
string(REPLACE ";" "\n" _list "${_syms}")
file(WRITE "${OUT}.syms" "${_list}\n")

execute_process(
  COMMAND "${CC}" -r -nostdlib -o "${OUT}.all"
          -Wl,--whole-archive "${ARCHIVE}" -Wl,--no-whole-archive
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "prelink.cmake: ${CC} -r failed (${rc})")
endif()
# DW.ref.rust_eh_personality is a hidden COMDAT that every Rust object file
# defines: renamed, our unwinding tables never bind to another std's copy.
# The sections LLVM reads back (std's embedded bitcode, the address
# significance table) are meaningless once objects are merged: dropped (GNU
# ar and nm would hand the merged bitcode to an installed LLVM plugin).
execute_process(
  COMMAND "${OBJCOPY}" "--keep-global-symbols=${OUT}.syms" --localize-hidden
          --remove-section=.llvmbc --remove-section=.llvmcmd --remove-section=.llvm_addrsig
          --redefine-sym DW.ref.rust_eh_personality=DW.ref.nwal_rust_eh_personality
          "${OUT}.all" "${OUT}"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "prelink.cmake: ${OBJCOPY} failed (${rc})")
endif()
file(REMOVE "${OUT}.all")
