// The restorer: the code that turns a fresh child of sandbox-ckpt into the
// checkpointed process. It runs from a copy of itself in a region that no
// mapping of the image uses, after the tool's own memory is gone, so it is
// freestanding: no libc, no thread pointer, no data outside the plan, only
// raw syscalls. Everything here is built general-registers-only and
// without library calls (see CMakeLists.txt), and every helper is inlined
// into sandbox_restorer_main so that the whole restorer is one section.
//
// It rebuilds memory, descriptors, the working directory, umask, limits,
// the mm layout and the threads (with their own ids), then stops every
// thread on an int3. The tool, its tracer, then sets each thread's
// signal state, rseq registration, registers, extended state and, last,
// its Syscall User Dispatch configuration, and lets it go.
#include <fcntl.h>
#include <linux/sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "sandbox/ckpt/restore_plan.h"

#define RESTORER __attribute__((section("sandbox_restorer")))
#define INLINE static inline __attribute__((always_inline))

namespace sandbox::ckpt {
namespace {

INLINE long Sys(long nr, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0,
                long a5 = 0, long a6 = 0) {
  register long r10 asm("r10") = a4;
  register long r8 asm("r8") = a5;
  register long r9 asm("r9") = a6;
  long result;
  asm volatile("syscall"
               : "=a"(result)
               : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
               : "rcx", "r11", "memory");
  return result;
}

// Stops this thread for the tool, for good: the tool sets its registers
// before it runs again.
[[noreturn]] INLINE void StopForTool() {
  for (;;) asm volatile("int3" ::: "memory");
}

// Records which step failed, with the errno, and which mapping, file or
// thread it was working on (`item`, an index into the plan's list, or -1).
[[noreturn]] INLINE void Fail(RestorePlan* plan, int step, long error,
                              int32_t item = -1) {
  plan->failed_step = step;
  plan->failed_errno = static_cast<int32_t>(-error);
  plan->failed_item = item;
  StopForTool();
}

template <typename T>
INLINE T* At(RestorePlan* plan, uint64_t offset) {
  return reinterpret_cast<T*>(reinterpret_cast<char*>(plan) + offset);
}

// Reads exactly `length` bytes at `offset` of a page file into memory.
INLINE long ReadPages(int fd, uint64_t address, uint64_t length,
                      uint64_t offset) {
  while (length > 0) {
    long got = Sys(SYS_pread64, fd, static_cast<long>(address),
                   static_cast<long>(length), static_cast<long>(offset));
    if (got == -4 /* EINTR */) continue;
    if (got <= 0) return got == 0 ? -5 /* EIO */ : got;
    address += static_cast<uint64_t>(got);
    offset += static_cast<uint64_t>(got);
    length -= static_cast<uint64_t>(got);
  }
  return 0;
}

INLINE long WriteAll(int fd, const char* data, uint64_t length) {
  while (length > 0) {
    long written = Sys(SYS_write, fd, reinterpret_cast<long>(data),
                       static_cast<long>(length));
    if (written == -4) continue;
    if (written <= 0) return written == 0 ? -5 : written;
    data += written;
    length -= static_cast<uint64_t>(written);
  }
  return 0;
}

}  // namespace
}  // namespace sandbox::ckpt

extern "C" RESTORER __attribute__((noinline, used)) [[noreturn]] void
sandbox_restorer_main(sandbox::ckpt::RestorePlan* plan) {
  using namespace sandbox::ckpt;

  // 1. The tool's own memory goes, but for this region and the kernel's
  // areas; those move to where the image had them.
  for (int i = 0; i < plan->unmap_count; ++i) {
    long result =
        Sys(SYS_munmap, static_cast<long>(plan->unmap[i].begin),
            static_cast<long>(plan->unmap[i].end - plan->unmap[i].begin));
    if (result < 0) Fail(plan, 1, result);
  }
  for (int i = 0; i < plan->move_count; ++i) {
    const PlanMove& move = plan->moves[i];
    if (move.from == move.to) continue;
    long result =
        Sys(SYS_mremap, static_cast<long>(move.from),
            static_cast<long>(move.length), static_cast<long>(move.length),
            MREMAP_MAYMOVE | MREMAP_FIXED, static_cast<long>(move.to));
    if (result < 0) Fail(plan, 2, result);
  }

  // 2. Shared memory objects, one memfd each, shared by all their views.
  int group_fds[kPlanMaxGroups];
  for (int g = 0; g < plan->group_count; ++g) {
    long fd =
        Sys(SYS_memfd_create, reinterpret_cast<long>(plan->group_name[g]), 0);
    if (fd < 0) Fail(plan, 3, fd);
    long result =
        Sys(SYS_ftruncate, fd, static_cast<long>(plan->group_size[g]));
    if (result < 0) Fail(plan, 3, result);
    group_fds[g] = static_cast<int>(fd);
  }

  // 3. Every mapping at its address, writable while its pages are read
  // back, then with its own protection.
  PlanMapping* mappings = At<PlanMapping>(plan, plan->mappings_at);
  PlanRun* runs = At<PlanRun>(plan, plan->runs_at);
  for (uint32_t i = 0; i < plan->mapping_count; ++i) {
    PlanMapping& m = mappings[i];
    long length = static_cast<long>(m.end - m.begin);
    long address;
    // Writable only if pages are to be read into it: a large reservation
    // (PROT_NONE) is not charged for memory it never had.
    const int fill_prot = m.run_count > 0 ? PROT_READ | PROT_WRITE : m.prot;
    const int noreserve = m.noreserve ? MAP_NORESERVE : 0;
    if (m.kind == kPlanAnonymous) {
      address = Sys(SYS_mmap, static_cast<long>(m.begin), length, fill_prot,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | noreserve, -1, 0);
    } else if (m.kind == kPlanSharedGroup) {
      address = Sys(SYS_mmap, static_cast<long>(m.begin), length,
                    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
                    group_fds[m.group], static_cast<long>(m.file_offset));
    } else {
      bool shared = m.kind == kPlanFileShared;
      long fd =
          Sys(SYS_openat, AT_FDCWD, reinterpret_cast<long>(m.path),
              (shared && m.writable_file ? O_RDWR : O_RDONLY) | O_CLOEXEC);
      if (fd < 0) Fail(plan, 4, fd, static_cast<int32_t>(i));
      address = Sys(SYS_mmap, static_cast<long>(m.begin), length,
                    shared ? m.prot : fill_prot,
                    (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED | noreserve,
                    fd, static_cast<long>(m.file_offset));
      Sys(SYS_close, fd);
    }
    if (address < 0 && address > -4096) Fail(plan, 5, address);
  }

  // The pages: the runs before restorer_runs here, the rest by the tool,
  // which writes them from its side at the same time once told that the
  // mappings are in place. Two processors fill fresh memory nearly twice
  // as fast as one.
  const bool helped = plan->helper_fd >= 0;
  if (helped) {
    char mapped = 'm';
    long result = WriteAll(plan->helper_fd, &mapped, 1);
    if (result < 0) Fail(plan, 6, result);
  }
  for (uint32_t r = 0; r < plan->restorer_runs; ++r) {
    const PlanRun& run = runs[r];
    // Faulting the run's pages in one call first is several times faster
    // than letting the read fault them one by one; on a kernel without
    // MADV_POPULATE_WRITE the read still does.
    Sys(SYS_madvise, static_cast<long>(run.begin),
        static_cast<long>(run.count * 4096), MADV_POPULATE_WRITE);
    long result = ReadPages(plan->pages_fd + run.file, run.begin,
                            run.count * 4096, run.pages_offset);
    if (result < 0) Fail(plan, 6, result);
  }
  if (helped) {
    // The tool answers 'k' once its share is written, anything else (or
    // nothing) if it could not write it.
    char answer = 0;
    long got;
    do {
      got = Sys(SYS_read, plan->helper_fd + 1, reinterpret_cast<long>(&answer),
                1);
    } while (got == -4 /* EINTR */);
    if (got != 1 || answer != 'k') Fail(plan, 6, -5 /* EIO */);
    Sys(SYS_close, plan->helper_fd);
    Sys(SYS_close, plan->helper_fd + 1);
  }
  for (uint32_t i = 0; i < plan->mapping_count; ++i) {
    PlanMapping& m = mappings[i];
    long result = Sys(SYS_mprotect, static_cast<long>(m.begin),
                      static_cast<long>(m.end - m.begin), m.prot);
    if (result < 0) Fail(plan, 7, result);
  }
  for (int g = 0; g < plan->group_count; ++g) Sys(SYS_close, group_fds[g]);

  // 4. Descriptors: everything inherited from the tool goes, then the
  // image's come back at their numbers.
  const int pages_end = plan->pages_fd + kPlanPageFiles;
  Sys(SYS_close_range, 0, plan->pages_fd - 1, 0);
  Sys(SYS_close_range, pages_end, ~0U, 0);
  PlanFile* files = At<PlanFile>(plan, plan->files_at);
  // Working descriptors live above every number the image uses, so that
  // placing one never closes another.
  const int base = pages_end;
  int pipe_ends[kPlanMaxPipes][2];
  for (int p = 0; p < plan->pipe_count; ++p) {
    int made[2];
    long result = Sys(SYS_pipe2, reinterpret_cast<long>(made), 0);
    if (result < 0) Fail(plan, 8, result);
    for (int end = 0; end < 2; ++end) {
      long high = Sys(SYS_fcntl, made[end], F_DUPFD, base);
      if (high < 0) Fail(plan, 8, high);
      Sys(SYS_close, made[end]);
      pipe_ends[p][end] = static_cast<int>(high);
    }
  }
  for (uint32_t i = 0; i < plan->file_count; ++i) {
    PlanFile& f = files[i];
    long fd;
    if (f.kind == kPlanRegular && f.same_as >= 0) {
      // The same open file as an earlier descriptor, placed already.
      fd = Sys(SYS_fcntl, f.same_as, F_DUPFD, base);
      if (fd < 0) Fail(plan, 9, fd);
    } else if (f.kind == kPlanRegular) {
      long opened = Sys(SYS_openat, AT_FDCWD, reinterpret_cast<long>(f.path),
                        f.flags & ~(O_CREAT | O_TRUNC | O_EXCL | O_CLOEXEC));
      if (opened < 0) Fail(plan, 9, opened, static_cast<int32_t>(i));
      fd = Sys(SYS_fcntl, opened, F_DUPFD, base);
      Sys(SYS_close, opened);
      if (fd < 0) Fail(plan, 9, fd);
      if (f.position != 0) {
        long result = Sys(SYS_lseek, fd, static_cast<long>(f.position), 0);
        if (result < 0) Fail(plan, 10, result);
      }
    } else {
      fd = pipe_ends[f.pipe][f.pipe_end];
    }
    long result = Sys(SYS_dup3, fd, f.fd, f.flags & O_CLOEXEC);
    if (result < 0) Fail(plan, 12, result);
    if (f.kind == kPlanRegular) {
      Sys(SYS_close, fd);
    } else {
      result = Sys(SYS_fcntl, f.fd, F_SETFL, f.flags & O_NONBLOCK);
      if (result < 0) Fail(plan, 11, result);
    }
  }
  // Unread bytes go back into their pipes, through the pipe's own ends.
  for (uint32_t i = 0; i < plan->file_count; ++i) {
    PlanFile& f = files[i];
    if (f.kind != kPlanPipe || f.data_size == 0) continue;
    long result =
        WriteAll(pipe_ends[f.pipe][1], At<char>(plan, f.data_at), f.data_size);
    if (result < 0) Fail(plan, 13, result);
  }
  for (int p = 0; p < plan->pipe_count; ++p) {
    Sys(SYS_close, pipe_ends[p][0]);
    Sys(SYS_close, pipe_ends[p][1]);
  }

  // 5. The rest of the process's own state.
  long result = Sys(SYS_chdir, reinterpret_cast<long>(plan->cwd));
  if (result < 0) Fail(plan, 14, result);
  Sys(SYS_umask, plan->umask);
  for (uint32_t r = 0; r < plan->rlimit_count; ++r) {
    result =
        Sys(SYS_prlimit64, 0, r, reinterpret_cast<long>(plan->rlimits[r]), 0);
    if (result < 0) Fail(plan, 15, result);
  }
  long exe_fd = Sys(SYS_openat, AT_FDCWD, reinterpret_cast<long>(plan->exe),
                    O_RDONLY | O_CLOEXEC);
  struct {
    uint64_t start_code, end_code, start_data, end_data, start_brk, brk,
        start_stack, arg_start, arg_end, env_start, env_end;
    uint64_t auxv;
    uint32_t auxv_size;
    uint32_t exe_fd;
  } map = {
      plan->mm.start_code,  plan->mm.end_code,
      plan->mm.start_data,  plan->mm.end_data,
      plan->mm.start_brk,   plan->mm.brk,
      plan->mm.start_stack, plan->mm.arg_start,
      plan->mm.arg_end,     plan->mm.env_start,
      plan->mm.env_end,     reinterpret_cast<uint64_t>(plan->auxv),
      plan->auxv_size,      exe_fd >= 0 ? static_cast<uint32_t>(exe_fd) : ~0U};
  result = Sys(SYS_prctl, PR_SET_MM, PR_SET_MM_MAP,
               reinterpret_cast<long>(&map), sizeof(map), 0);
  if (result < 0) Fail(plan, 16, result);
  if (exe_fd >= 0) Sys(SYS_close, exe_fd);
  Sys(SYS_close_range, plan->pages_fd, pages_end - 1, 0);

  // 6. The other threads, each with its own id, each stopping at once.
  PlanThread* threads = At<PlanThread>(plan, plan->threads_at);
  for (uint32_t t = 1; t < plan->thread_count; ++t) {
    int32_t tid = threads[t].tid;
    struct clone_args args = {};
    args.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
                 CLONE_THREAD | CLONE_SYSVSEM;
    args.stack = threads[t].stack_top - 4096;
    args.stack_size = 4096;
    args.set_tid = reinterpret_cast<uint64_t>(&tid);
    args.set_tid_size = 1;
    long created;
    asm volatile(
        "syscall\n\t"
        "testq %%rax, %%rax\n\t"
        "jnz 1f\n"
        "2:\n\t"
        "int3\n\t"
        "jmp 2b\n"
        "1:\n\t"
        : "=a"(created)
        : "a"(SYS_clone3), "D"(&args), "S"(sizeof(args))
        : "rcx", "r11", "memory");
    if (created < 0) Fail(plan, 17, created, static_cast<int32_t>(t));
  }
  StopForTool();
}

// The syscall the tool injects through, kept with the restorer's code.
asm(R"(
        .pushsection sandbox_restorer, "ax", @progbits
        .globl sandbox_restorer_syscall
        .hidden sandbox_restorer_syscall
sandbox_restorer_syscall:
        syscall
        int3
        .popsection
)");
