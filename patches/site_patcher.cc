#include "patches/site_patcher.h"

#include <cpuid.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/syscall.h>

#include <cstring>

#include "patches/patch_table.h"
#include "sandbox/common/kernel_abi.h"
#include "sandbox/runtime/fast_path.h"
#include "sandbox/runtime/raw_syscall.h"
#include "sandbox/runtime/runtime_state.h"
#include "sandbox/runtime/thread_registry.h"
#include "trampolines/trampoline_builder.h"

namespace sandbox {
namespace {

// The site shape: b8 imm32 (mov $nr, %eax), then 0f 05 (syscall).
constexpr uint8_t kMovEaxOpcode = 0xb8;
constexpr uint8_t kJmpRel32Opcode = 0xe9;
constexpr uint8_t kInt3Opcode = 0xcc;
constexpr int kMovSize = 5;
constexpr int kSiteSize = 7;

struct PatcherState {
  bool ready = false;
  // Whether every thread can be made to serialize its instruction stream;
  // without it, sites are rewritten only while the process has one thread.
  bool can_sync_cores = false;
  uint64_t vdso_begin = 0;
  uint64_t vdso_end = 0;
};

PatcherState g_patcher;

// Syscalls whose handling needs the signal frame (their effect lands in
// it, or their child resumes from a copy of it); their sites stay on the
// signal path.
bool MustStayOnSignalPath(long nr) {
  switch (nr) {
    case SYS_rt_sigreturn:
    case SYS_rt_sigprocmask:
    case SYS_sigaltstack:
    case SYS_clone:
    case SYS_clone3:
    case SYS_fork:
    case SYS_vfork:
      return true;
    default:
      return nr < 0 || nr >= kSyscallTableSize;
  }
}

// Opened for each use, never kept: a descriptor left open would sit in the
// program's table.
class ProcFile {
 public:
  ProcFile(const char* path, int flags)
      : fd_(static_cast<int>(raw::OpenAt(AT_FDCWD, path, flags | O_CLOEXEC))) {}
  ~ProcFile() {
    if (fd_ >= 0) raw::Close(fd_);
  }
  ProcFile(const ProcFile&) = delete;
  ProcFile& operator=(const ProcFile&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Writes code through /proc/self/mem, which ignores page protections (for
// private mappings only) and so changes none of them.
bool WriteCodeThrough(int mem_fd, uint64_t address, const void* bytes,
                      size_t len) {
  return mem_fd >= 0 &&
         raw::Syscall(SYS_pwrite64, mem_fd, raw::Arg(bytes),
                      static_cast<long>(len),
                      static_cast<long>(address)) == static_cast<long>(len);
}

// Makes every thread of the process serialize before it runs code again,
// so none keeps executing bytes from before a write.
void SyncCores() {
  raw::Syscall(SYS_membarrier, kernel::kMembarrierPrivateExpeditedSyncCore, 0,
               0);
}

int LiveThreads() {
  int count = 0;
  ForEachThreadRecord([&count](ThreadRecord*) { ++count; });
  return count;
}

struct Vma {
  uint64_t begin, end, flags;
};

bool QueryVma(int maps_fd, uint64_t address, Vma* vma) {
  kernel::ProcmapQuery query = {};
  query.size = sizeof(query);
  query.query_addr = address;
  if (raw::Syscall(SYS_ioctl, maps_fd, kernel::kProcmapQuery,
                   raw::Arg(&query)) != 0) {
    return false;
  }
  *vma = {query.vma_start, query.vma_end, query.vma_flags};
  return true;
}

// The mapping that holds `address`, from the cache or else from the
// kernel (opening /proc/self/maps only when needed). Lock held.
const CodeMapping* MappingOf(uint64_t address, int* maps_fd) {
  if (const CodeMapping* known = FindCodeMapping(address)) return known;
  if (*maps_fd < 0) {
    *maps_fd = static_cast<int>(
        raw::OpenAt(AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC));
    if (*maps_fd < 0) return nullptr;
  }
  Vma vma;
  if (!QueryVma(*maps_fd, address, &vma)) return nullptr;
  RememberCodeMapping({vma.begin, vma.end, vma.flags});
  return FindCodeMapping(address);
}

// True if the code at [site, site + kMovSize) may be rewritten: on pages
// that execute, are private, and that the program cannot write without
// changing their protection first. Sets *readable if the bytes can be read
// directly. Lock held.
bool IsRewritableCode(uint64_t site, bool* readable) {
  if (site < g_patcher.vdso_end && site + kSiteSize > g_patcher.vdso_begin) {
    return false;
  }
  if (IsTrampolineCode(site)) return false;
  int maps_fd = -1;
  bool rewritable = true;
  *readable = true;
  for (uint64_t address : {site, site + kSiteSize - 1}) {
    const CodeMapping* mapping = MappingOf(address, &maps_fd);
    if (mapping == nullptr ||
        (address < site + kMovSize &&
         (!(mapping->flags & kernel::kVmaExecutable) ||
          (mapping->flags & (kernel::kVmaWritable | kernel::kVmaShared))))) {
      rewritable = false;
      break;
    }
    if (!(mapping->flags & kernel::kVmaReadable)) *readable = false;
  }
  if (maps_fd >= 0) raw::Close(maps_fd);
  return rewritable;
}

// Replaces the first five bytes at `site` with `bytes`. With other threads
// about, an int3 guards the site while its tail changes, and every thread
// serializes after each step, so none ever executes a mix of old and new
// bytes.
bool ReplaceSiteBytes(SiteRecord* record, SiteState transition,
                      const uint8_t bytes[kMovSize]) {
  ProcFile mem("/proc/self/mem", O_RDWR);
  uint64_t site = record->site;
  if (LiveThreads() <= 1) {
    return WriteCodeThrough(mem.fd(), site, bytes, kMovSize);
  }
  if (!g_patcher.can_sync_cores) return false;
  record->state.store(static_cast<uint32_t>(transition),
                      std::memory_order_release);
  if (!WriteCodeThrough(mem.fd(), site, &kInt3Opcode, 1)) return false;
  SyncCores();
  bool ok = WriteCodeThrough(mem.fd(), site + 1, bytes + 1, kMovSize - 1);
  SyncCores();
  // The first byte goes last, whether or not the tail was written: with the
  // tail unchanged it restores the original instruction.
  uint8_t first = ok ? bytes[0] : kMovEaxOpcode;
  WriteCodeThrough(mem.fd(), site, &first, 1);
  SyncCores();
  return ok;
}

bool WriteJump(SiteRecord* record) {
  uint8_t jump[kMovSize];
  jump[0] = kJmpRel32Opcode;
  int32_t displacement =
      static_cast<int32_t>(record->trampoline - (record->site + kMovSize));
  memcpy(jump + 1, &displacement, sizeof(displacement));
  bool ok = ReplaceSiteBytes(record, SiteState::kWriting, jump);
  record->state.store(
      static_cast<uint32_t>(ok ? SiteState::kRewritten : SiteState::kRestored),
      std::memory_order_release);
  return ok;
}

void RestoreMov(SiteRecord* record) {
  uint8_t mov[kMovSize];
  mov[0] = kMovEaxOpcode;
  memcpy(mov + 1, &record->nr, sizeof(record->nr));
  ReplaceSiteBytes(record, SiteState::kRestoring, mov);
  record->state.store(static_cast<uint32_t>(SiteState::kRestored),
                      std::memory_order_release);
}

// Holds the patch lock with every signal blocked, so that no handler of
// this thread can want the lock while it is held.
class PatchLockScope {
 public:
  explicit PatchLockScope(bool wait) {
    uint64_t all = ~0ULL;
    raw::SigProcMask(SIG_SETMASK, &all, &saved_mask_);
    int tid = raw::GetTid();
    if (wait) {
      LockPatches(tid);
      locked_ = true;
    } else {
      locked_ = TryLockPatches(tid);
    }
  }
  ~PatchLockScope() {
    if (locked_) UnlockPatches();
    raw::SigProcMask(SIG_SETMASK, &saved_mask_, nullptr);
  }
  PatchLockScope(const PatchLockScope&) = delete;
  PatchLockScope& operator=(const PatchLockScope&) = delete;
  bool locked() const { return locked_; }

 private:
  uint64_t saved_mask_ = 0;
  bool locked_ = false;
};

bool HasSiteShape(const uint8_t bytes[kSiteSize], uint32_t nr) {
  uint32_t immediate;
  memcpy(&immediate, bytes + 1, sizeof(immediate));
  return bytes[0] == kMovEaxOpcode && immediate == nr && bytes[5] == 0x0f &&
         bytes[6] == 0x05;
}

}  // namespace

const char* InitSitePatcher() {
  ProcFile maps("/proc/self/maps", O_RDONLY);
  Vma vma;
  uint64_t probe = reinterpret_cast<uint64_t>(&InitSitePatcher);
  if (maps.fd() < 0 || !QueryVma(maps.fd(), probe, &vma)) {
    return "the kernel lacks PROCMAP_QUERY (Linux 6.11)";
  }
  uint64_t vdso = getauxval(AT_SYSINFO_EHDR);
  if (vdso != 0 && QueryVma(maps.fd(), vdso, &vma)) {
    g_patcher.vdso_begin = vma.begin;
    g_patcher.vdso_end = vma.end;
  }
  ProcFile mem("/proc/self/mem", O_RDWR);
  if (mem.fd() < 0) return "cannot open /proc/self/mem";
  g_patcher.can_sync_cores =
      raw::Syscall(SYS_membarrier,
                   kernel::kMembarrierRegisterPrivateExpeditedSyncCore, 0,
                   0) == 0;

  // The size of the XSAVE area for the features the OS enabled.
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid_count(0xd, 0, &eax, &ebx, &ecx, &edx) || ebx == 0) {
    return "the CPU reports no XSAVE area size";
  }
  const char* error = nullptr;
  if (!InitTrampolines(ebx, &error)) return error;
  g_patcher.ready = true;
  return nullptr;
}

void MaybeRewriteSite(uint64_t syscall_end, long nr) {
  if (!g_patcher.ready || MustStayOnSignalPath(nr)) return;
  // Most sites that keep trapping are of another shape; knowing that must
  // cost next to nothing, since they pay it at every call.
  if (IsKnownUnrewritable(syscall_end)) return;
  uint64_t site = syscall_end - kSiteSize;

  PatchLockScope lock(/*wait=*/false);
  if (!lock.locked()) return;  // another thread is at it; try next time
  // Checked under the lock: the lock also orders rewrites against the
  // program's own mapping changes.
  bool readable = false;
  if (!IsRewritableCode(site, &readable)) {
    RememberUnrewritable(syscall_end);
    return;
  }
  uint8_t bytes[kSiteSize];
  if (readable) {
    memcpy(bytes, reinterpret_cast<const void*>(site), kSiteSize);
  } else if (!CopyFromProgram(bytes, site, kSiteSize)) {
    return;
  }
  if (!HasSiteShape(bytes, static_cast<uint32_t>(nr))) {
    RememberUnrewritable(syscall_end);
    return;
  }
  // A trampoline depends only on the site's address and number, so one
  // made for the same pair before is still right.
  SiteRecord* record = FindSiteRecord(site, static_cast<uint32_t>(nr));
  if (record == nullptr) {
    uint64_t trampoline =
        MakeSiteTrampoline(site, syscall_end, static_cast<uint32_t>(nr),
                           PassesStraightThrough(nr));
    if (trampoline == 0) return;
    record = NewSiteRecord(site, static_cast<uint32_t>(nr), trampoline);
    if (record == nullptr) return;
  }
  if (WriteJump(record)) CountRewrittenSite();
}

bool RecoverFromSiteTrap(ucontext_t* frame) {
  greg_t* regs = frame->uc_mcontext.gregs;
  uint64_t site = static_cast<uint64_t>(regs[REG_RIP]) - 1;
  if (FindSiteAt(site) == nullptr) return false;
  // Run the site again from its start: by now it holds either the whole
  // new instruction, the whole old one, or the int3 still, which brings
  // the thread back here until the rewriting thread is done.
  regs[REG_RIP] = static_cast<greg_t>(site);
  return true;
}

long RunMappingChange(long nr, const long* args) {
  PatchLockScope lock(/*wait=*/true);
  uint64_t begin, end;
  AffectedPages(args, &begin, &end);
  // Code that stays mapped (made writable, or moved) gets its own bytes
  // back; code that goes away is only forgotten.
  bool keeps_code =
      nr == SYS_mprotect || nr == SYS_pkey_mprotect || nr == SYS_mremap;
  ForEachSiteIn(begin, end, [keeps_code](SiteRecord& record) {
    if (keeps_code && record.state.load(std::memory_order_acquire) ==
                          static_cast<uint32_t>(SiteState::kRewritten)) {
      RestoreMov(&record);
    }
    ReleaseSiteRecord(&record);
  });
  return raw::Syscall(nr, args[0], args[1], args[2], args[3], args[4], args[5]);
}

void HoldRewritesForFork() { LockPatches(raw::GetTid()); }

void ResumeRewritesAfterFork() { UnlockPatches(); }

void ResetSitePatcherAfterFork() {
  UnlockPatches();
  ResetTrampolinesAfterFork();
  // Registration is per address space; the child has a new one.
  g_patcher.can_sync_cores =
      g_patcher.can_sync_cores &&
      raw::Syscall(SYS_membarrier,
                   kernel::kMembarrierRegisterPrivateExpeditedSyncCore, 0,
                   0) == 0;
}

}  // namespace sandbox
