// Kernel interfaces that Debian 12's headers predate or do not expose, in one
// place so that no other file spells a magic number.
#ifndef SANDBOX_COMMON_KERNEL_ABI_H_
#define SANDBOX_COMMON_KERNEL_ABI_H_

#include <cstdint>

namespace sandbox::kernel {

// prctl(2) operation that arms or disarms Syscall User Dispatch.
inline constexpr int kPrSetSyscallUserDispatch = 59;
// prctl modes: off, and "exclusive" (the range always runs directly).
inline constexpr unsigned long kSudOff = 0;
inline constexpr unsigned long kSudOn = 1;
// Values of the selector byte.
inline constexpr char kSelectorAllow = 0;
inline constexpr char kSelectorBlock = 1;
// si_code of a SIGSYS raised by Syscall User Dispatch.
inline constexpr int kSysUserDispatch = 2;
// si_code of a SIGSYS raised by a seccomp SECCOMP_RET_TRAP filter.
inline constexpr int kSysSeccomp = 1;

// AUDIT_ARCH values reported in si_arch.
inline constexpr uint32_t kAuditArchX86_64 = 0xc000003e;
inline constexpr uint32_t kAuditArchI386 = 0x40000003;

// ptrace requests for a thread's SUD configuration (Linux 6.4).
inline constexpr long kPtraceSetSudConfig = 0x4210;
inline constexpr long kPtraceGetSudConfig = 0x4211;
// ptrace request for a thread's rseq registration (Linux 5.13).
inline constexpr long kPtraceGetRseqConfiguration = 0x420f;

// The argument block of PTRACE_{GET,SET}_SYSCALL_USER_DISPATCH_CONFIG.
struct PtraceSudConfig {
  uint64_t mode;
  uint64_t selector;
  uint64_t offset;
  uint64_t len;
};
static_assert(sizeof(PtraceSudConfig) == 32);

// The argument block of clone3(2), as far as Linux 6.18 defines it.
struct CloneArgs {
  uint64_t flags;
  uint64_t pidfd;
  uint64_t child_tid;
  uint64_t parent_tid;
  uint64_t exit_signal;
  uint64_t stack;
  uint64_t stack_size;
  uint64_t tls;
  uint64_t set_tid;
  uint64_t set_tid_size;
  uint64_t cgroup;
};
static_assert(sizeof(CloneArgs) == 88);

// clone flags newer than some of the installed headers.
inline constexpr uint64_t kCloneClearSighand = 0x100000000ULL;

// Negative return values the kernel uses internally for restartable calls.
inline constexpr long kErestartSys = 512;
inline constexpr long kErestartNoIntr = 513;
inline constexpr long kErestartNoHand = 514;
inline constexpr long kErestartRestartBlock = 516;

// The kernel's signal set is 64 bits on x86-64; glibc's sigset_t is larger.
inline constexpr unsigned long kKernelSigsetSize = 8;

// The kernel's struct sigaction for rt_sigaction(2) on x86-64.
struct KernelSigaction {
  void (*handler)(
      int);  // or SIG_DFL, SIG_IGN; a three-argument handler with SA_SIGINFO
  unsigned long flags;
  void (*restorer)();
  uint64_t mask;
};
static_assert(sizeof(KernelSigaction) == 32);

// sa_flags bit that says a restorer is supplied.
inline constexpr unsigned long kSaRestorer = 0x04000000;

// Magic numbers that mark the extended-state part of a signal frame.
inline constexpr uint32_t kFpXstateMagic1 = 0x46505853;

// PROCMAP_QUERY (Linux 6.11): asks /proc/PID/maps about one address
// without generating the whole text.
struct ProcmapQuery {
  uint64_t size;         // sizeof(ProcmapQuery)
  uint64_t query_flags;  // 0: the mapping that covers query_addr
  uint64_t query_addr;
  uint64_t vma_start;  // out
  uint64_t vma_end;    // out
  uint64_t vma_flags;  // out: kVma* bits
  uint64_t vma_page_size;
  uint64_t vma_offset;
  uint64_t inode;
  uint32_t dev_major;
  uint32_t dev_minor;
  uint32_t vma_name_size;  // 0: no name wanted
  uint32_t build_id_size;  // 0: no build id wanted
  uint64_t vma_name_addr;
  uint64_t build_id_addr;
};
static_assert(sizeof(ProcmapQuery) == 104);
inline constexpr unsigned long kProcmapQuery =
    (3UL << 30) | (sizeof(ProcmapQuery) << 16) | ('f' << 8) | 17;
inline constexpr uint64_t kVmaReadable = 0x01;
inline constexpr uint64_t kVmaWritable = 0x02;
inline constexpr uint64_t kVmaExecutable = 0x04;
inline constexpr uint64_t kVmaShared = 0x08;

// membarrier(2) commands that make every thread of the process serialize
// its instruction stream, as cross-modifying code requires.
inline constexpr int kMembarrierPrivateExpeditedSyncCore = 1 << 5;
inline constexpr int kMembarrierRegisterPrivateExpeditedSyncCore = 1 << 6;

}  // namespace sandbox::kernel

#endif  // SANDBOX_COMMON_KERNEL_ABI_H_
