// Syscall numbers that no kernel defines must fail with ENOSYS, under the
// sandbox as natively.
#include <stdio.h>
#include <string.h>

namespace {

long RawSyscall(long nr) {
  long result;
  asm volatile("syscall" : "=a"(result) : "a"(nr) : "rcx", "r11", "memory");
  return result;
}

}  // namespace

int main() {
  const long kNumbers[] = {-1, 1000, 1L << 20, 0x7fffffff};
  for (long nr : kNumbers) {
    long result = RawSyscall(nr);
    const char* name =
        result < 0 ? strerrorname_np(static_cast<int>(-result)) : "none";
    printf("syscall %ld: %ld %s\n", nr, result, name);
  }
  return 0;
}
