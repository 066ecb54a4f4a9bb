# Fails the build if fast_path.o or patch_table.o contains an instruction
# that touches a vector, opmask or x87 register, or calls an external
# function other than the gateway and the patch table. Run by CMake -P with
# OBJECTS and PATCH_OBJECTS set to the targets' object files.
foreach(object IN LISTS OBJECTS PATCH_OBJECTS)
  if(NOT object MATCHES "(fast_path|patch_table)\\.cc\\.o$")
    continue()
  endif()
  execute_process(COMMAND objdump -d --no-show-raw-insn ${object}
    OUTPUT_VARIABLE listing RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "objdump failed on ${object}")
  endif()
  if(listing MATCHES "%[xyz]mm[0-9]|%k[0-7]|%st|%mm[0-7]|vzero|fld|fst")
    message(FATAL_ERROR "${object} touches extended register state")
  endif()
  execute_process(COMMAND nm --undefined-only ${object}
    OUTPUT_VARIABLE undefined)
  string(REGEX REPLACE "[ \t]+U[ \t]+" "" undefined "${undefined}")
  string(REPLACE "\n" ";" undefined "${undefined}")
  foreach(symbol IN LISTS undefined)
    if(symbol STREQUAL "" OR symbol MATCHES
       "sandbox_raw_syscall|g_runtime|NeedsMappingBookkeeping|MappingChange|_GLOBAL_OFFSET_TABLE_")
      continue()
    endif()
    message(FATAL_ERROR "${object} calls ${symbol}, which may touch "
                        "extended register state")
  endforeach()
endforeach()
