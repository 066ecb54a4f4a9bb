// A uname that no libc wrapper can hide: the syscall instruction is in the
// test program itself. Usable without a thread pointer (raw clone children).
#ifndef SANDBOX_TESTS_PROGRAMS_RAW_UNAME_H_
#define SANDBOX_TESTS_PROGRAMS_RAW_UNAME_H_

#include <sys/syscall.h>
#include <sys/utsname.h>

// Returns the kernel's result of uname(buf): 0 or a negative errno.
inline long RawUname(struct utsname* buf) {
  long result;
  asm volatile("syscall"
               : "=a"(result)
               : "a"(SYS_uname), "D"(buf)
               : "rcx", "r11", "memory");
  return result;
}

// Returns uname's result into a scratch buffer.
inline long RawUname() {
  struct utsname name;
  return RawUname(&name);
}

#endif  // SANDBOX_TESTS_PROGRAMS_RAW_UNAME_H_
