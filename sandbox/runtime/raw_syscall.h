// Typed wrappers over the syscall gateway. Each returns the kernel's result,
// a negative errno on failure, and never touches errno. All are
// async-signal-safe and usable before a thread has a thread pointer.
#ifndef SANDBOX_RUNTIME_RAW_SYSCALL_H_
#define SANDBOX_RUNTIME_RAW_SYSCALL_H_

#include <sys/syscall.h>

#include <cstddef>
#include <cstdint>

#include "trampolines/gateway.h"

namespace sandbox::raw {

inline long Syscall(long nr, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0,
                    long a5 = 0, long a6 = 0) {
  return sandbox_raw_syscall(nr, a1, a2, a3, a4, a5, a6);
}

template <typename T>
inline long Arg(T value) {
  return (long)(value);  // pointers and integers alike
}

inline long Write(int fd, const void* buf, size_t len) {
  return Syscall(SYS_write, fd, Arg(buf), Arg(len));
}
inline long Read(int fd, void* buf, size_t len) {
  return Syscall(SYS_read, fd, Arg(buf), Arg(len));
}
inline long Pread(int fd, void* buf, size_t len, int64_t offset) {
  return Syscall(SYS_pread64, fd, Arg(buf), Arg(len), offset);
}
inline long OpenAt(int dirfd, const char* path, int flags, int mode = 0) {
  return Syscall(SYS_openat, dirfd, Arg(path), flags, mode);
}
inline long Close(int fd) { return Syscall(SYS_close, fd); }
inline long Fcntl(int fd, int cmd, long arg = 0) {
  return Syscall(SYS_fcntl, fd, cmd, arg);
}
inline long Mmap(void* addr, size_t len, int prot, int flags, int fd,
                 int64_t offset) {
  return Syscall(SYS_mmap, Arg(addr), Arg(len), prot, flags, fd, offset);
}
inline long Munmap(void* addr, size_t len) {
  return Syscall(SYS_munmap, Arg(addr), Arg(len));
}
inline int GetPid() { return (int)Syscall(SYS_getpid); }
inline int GetTid() { return (int)Syscall(SYS_gettid); }
inline long Tgkill(int pid, int tid, int sig) {
  return Syscall(SYS_tgkill, pid, tid, sig);
}
inline long SigProcMask(int how, const uint64_t* set, uint64_t* old) {
  return Syscall(SYS_rt_sigprocmask, how, Arg(set), Arg(old), 8);
}
inline long Prctl(int op, long a2, long a3, long a4, long a5) {
  return Syscall(SYS_prctl, op, a2, a3, a4, a5);
}
inline long ProcessVmReadv(int pid, const void* local_iov, long local_count,
                           const void* remote_iov, long remote_count) {
  return Syscall(SYS_process_vm_readv, pid, Arg(local_iov), local_count,
                 Arg(remote_iov), remote_count, 0);
}
[[noreturn]] inline void ExitGroup(int status) {
  for (;;) Syscall(SYS_exit_group, status);
}

}  // namespace sandbox::raw

#endif  // SANDBOX_RUNTIME_RAW_SYSCALL_H_
