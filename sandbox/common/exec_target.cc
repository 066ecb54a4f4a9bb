#include "sandbox/common/exec_target.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <cstring>

#include "sandbox/common/fixed_writer.h"

namespace sandbox {
namespace {

// Nested #! interpreters the kernel follows at most.
constexpr int kMaxInterpreterDepth = 4;

// Closes a descriptor when the scope ends.
class ScopedFd {
 public:
  ScopedFd(RawSyscallFn sys, long fd) : sys_(sys), fd_(static_cast<int>(fd)) {}
  ~ScopedFd() {
    if (fd_ >= 0) sys_(SYS_close, fd_, 0, 0, 0, 0, 0);
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }

 private:
  RawSyscallFn sys_;
  int fd_;
};

// Why a target cannot be sandboxed, or nullptr if it can (or if the kernel
// will refuse it anyway, which it then reports itself).
const char* WhyUnreachable(RawSyscallFn sys, int dirfd, const char* path,
                           int at_flags, int depth, char* interpreter_out,
                           size_t interpreter_size) {
  char fd_path[32];
  if ((at_flags & AT_EMPTY_PATH) && path[0] == '\0') {
    FixedWriter name(fd_path, sizeof(fd_path) - 1);
    name.Put("/proc/self/fd/").PutDec(dirfd);
    fd_path[name.size()] = '\0';
    dirfd = AT_FDCWD;
    path = fd_path;
  }
  int open_flags = O_RDONLY | O_CLOEXEC;
  if (at_flags & AT_SYMLINK_NOFOLLOW) open_flags |= O_NOFOLLOW;
  ScopedFd fd(sys, sys(SYS_openat, dirfd, reinterpret_cast<long>(path),
                       open_flags, 0, 0, 0));
  if (fd.get() < 0) return nullptr;

  struct stat st;
  if (sys(SYS_fstat, fd.get(), reinterpret_cast<long>(&st), 0, 0, 0, 0) == 0) {
    bool set_uid =
        (st.st_mode & S_ISUID) &&
        st.st_uid != static_cast<uid_t>(sys(SYS_geteuid, 0, 0, 0, 0, 0, 0));
    bool set_gid =
        (st.st_mode & S_ISGID) && (st.st_mode & S_IXGRP) &&
        st.st_gid != static_cast<gid_t>(sys(SYS_getegid, 0, 0, 0, 0, 0, 0));
    if (set_uid || set_gid) {
      return "is set-user-ID or set-group-ID, and the loader ignores "
             "LD_PRELOAD for it";
    }
  }

  // File capabilities make the exec secure for anyone but root, and the
  // loader then ignores LD_PRELOAD too.
  if (sys(SYS_geteuid, 0, 0, 0, 0, 0, 0) != 0) {
    char capability[64];
    if (sys(SYS_fgetxattr, fd.get(),
            reinterpret_cast<long>("security.capability"),
            reinterpret_cast<long>(capability), sizeof(capability), 0, 0) > 0) {
      return "has file capabilities, and the loader ignores LD_PRELOAD for "
             "it";
    }
  }

  unsigned char header[256];
  long got = sys(SYS_pread64, fd.get(), reinterpret_cast<long>(header),
                 sizeof(header), 0, 0, 0);
  if (got < 4) return nullptr;

  if (header[0] == '#' && header[1] == '!') {
    if (depth >= kMaxInterpreterDepth) return nullptr;
    // The interpreter is the first word after "#!"; the kernel runs it
    // without coming back through this handler, so check it too.
    long i = 2;
    while (i < got && (header[i] == ' ' || header[i] == '\t')) ++i;
    size_t length = 0;
    while (i < got && header[i] != ' ' && header[i] != '\t' &&
           header[i] != '\n' && length + 1 < interpreter_size) {
      interpreter_out[length++] = static_cast<char>(header[i++]);
    }
    interpreter_out[length] = '\0';
    if (length == 0) return nullptr;
    char nested[256];
    return WhyUnreachable(sys, AT_FDCWD, interpreter_out, 0, depth + 1, nested,
                          sizeof(nested));
  }

  if (memcmp(header, ELFMAG, SELFMAG) != 0) return nullptr;
  if (got < static_cast<long>(sizeof(Elf64_Ehdr))) return nullptr;
  if (header[EI_CLASS] != ELFCLASS64) {
    return "is a 32-bit program, which the 64-bit runtime cannot enter";
  }
  Elf64_Ehdr ehdr;
  memcpy(&ehdr, header, sizeof(ehdr));
  if (ehdr.e_phentsize != sizeof(Elf64_Phdr) || ehdr.e_phnum > 64) {
    return nullptr;
  }
  Elf64_Phdr phdrs[64];
  size_t phdrs_size = sizeof(Elf64_Phdr) * ehdr.e_phnum;
  if (sys(SYS_pread64, fd.get(), reinterpret_cast<long>(phdrs),
          static_cast<long>(phdrs_size), static_cast<long>(ehdr.e_phoff), 0,
          0) != static_cast<long>(phdrs_size)) {
    return nullptr;
  }
  for (int i = 0; i < ehdr.e_phnum; ++i) {
    if (phdrs[i].p_type == PT_INTERP) return nullptr;
  }
  return "is statically linked, and LD_PRELOAD cannot reach it";
}

}  // namespace

const char* WhyUnreachableByPreload(RawSyscallFn sys, int dirfd,
                                    const char* path, int at_flags) {
  char interpreter[256];
  return WhyUnreachable(sys, dirfd, path, at_flags, 0, interpreter,
                        sizeof(interpreter));
}

}  // namespace sandbox
