#include "patches/site_patcher.h"

#include <cpuid.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/syscall.h>

#include <algorithm>
#include <atomic>
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

// True if the code at [site, site + kSiteBytes) may be rewritten: within
// one mapping (so that no part of it can change without the rest), whose
// pages execute, are private, and cannot be written by the program
// without changing their protection first. Sets *readable if the bytes
// can be read directly, and *has_byte_before if the byte before the site
// is in the same mapping. Lock held.
bool IsRewritableCode(uint64_t site, bool* readable, bool* has_byte_before) {
  if (site < g_patcher.vdso_end && site + kSiteBytes > g_patcher.vdso_begin) {
    return false;
  }
  if (IsTrampolineCode(site)) return false;
  int maps_fd = -1;
  const CodeMapping* first = MappingOf(site, &maps_fd);
  const CodeMapping* last =
      first == nullptr ? nullptr : MappingOf(site + kSiteBytes - 1, &maps_fd);
  if (maps_fd >= 0) raw::Close(maps_fd);
  if (first == nullptr || last == nullptr || first->begin != last->begin ||
      !(first->flags & kernel::kVmaExecutable) ||
      (first->flags & (kernel::kVmaWritable | kernel::kVmaShared))) {
    return false;
  }
  *readable = (first->flags & kernel::kVmaReadable) != 0;
  *has_byte_before = site > first->begin;
  return true;
}

// The sites whose first byte became an int3 most recently, so that a
// thread that met one can still be recognized after the site's record has
// gone. Lock-free: written under the patch lock, read by SIGTRAP handlers.
constexpr int kGuardedSites = 4096;
std::atomic<uint64_t> g_guarded_sites[kGuardedSites];
std::atomic<uint32_t> g_next_guarded{0};

void RememberGuardedSite(uint64_t site) {
  uint32_t slot = g_next_guarded.fetch_add(1, std::memory_order_relaxed);
  g_guarded_sites[slot % kGuardedSites].store(site, std::memory_order_release);
}

bool WasGuardedLately(uint64_t site) {
  for (const std::atomic<uint64_t>& guarded : g_guarded_sites) {
    if (guarded.load(std::memory_order_acquire) == site) return true;
  }
  return false;
}

// Replaces the first five bytes at `site` with `bytes`. With other threads
// about, an int3 guards the site while its tail changes, and every thread
// serializes after each step, so none ever executes a mix of old and new
// bytes.
bool ReplaceSiteBytes(const ProcFile& mem, SiteRecord* record,
                      SiteState transition, const uint8_t bytes[kMovSize]) {
  uint64_t site = record->site;
  if (LiveThreads() <= 1) {
    return WriteCodeThrough(mem.fd(), site, bytes, kMovSize);
  }
  if (!g_patcher.can_sync_cores) return false;
  record->state.store(static_cast<uint32_t>(transition),
                      std::memory_order_release);
  RememberGuardedSite(site);
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

// The jump that replaces the mov of `record`'s site.
void JumpBytes(const SiteRecord& record, uint8_t jump[kMovSize]) {
  jump[0] = kJmpRel32Opcode;
  int32_t displacement =
      static_cast<int32_t>(record.trampoline - (record.site + kMovSize));
  memcpy(jump + 1, &displacement, sizeof(displacement));
}

bool WriteJump(SiteRecord* record) {
  uint8_t jump[kMovSize];
  JumpBytes(*record, jump);
  ProcFile mem("/proc/self/mem", O_RDWR);
  bool ok = ReplaceSiteBytes(mem, record, SiteState::kWriting, jump);
  record->state.store(
      static_cast<uint32_t>(ok ? SiteState::kRewritten : SiteState::kRestored),
      std::memory_order_release);
  return ok;
}

// Puts the site's mov back, if the site still holds the runtime's jump:
// memory the program has since refilled (a page it zeroed with madvise,
// say) keeps what the program put there.
void RestoreMov(const ProcFile& mem, SiteRecord* record) {
  uint8_t jump[kMovSize], found[kMovSize];
  JumpBytes(*record, jump);
  if (mem.fd() < 0 ||
      raw::Syscall(SYS_pread64, mem.fd(), raw::Arg(found), kMovSize,
                   static_cast<long>(record->site)) != kMovSize ||
      memcmp(found, jump, kMovSize) != 0) {
    return;
  }
  uint8_t mov[kMovSize];
  mov[0] = kMovEaxOpcode;
  memcpy(mov + 1, &record->nr, sizeof(record->nr));
  ReplaceSiteBytes(mem, record, SiteState::kRestoring, mov);
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

bool HasSiteShape(const uint8_t bytes[kSiteBytes], uint32_t nr) {
  uint32_t immediate;
  memcpy(&immediate, bytes + 1, sizeof(immediate));
  return bytes[0] == kMovEaxOpcode && immediate == nr && bytes[5] == 0x0f &&
         bytes[6] == 0x05;
}

// True if `byte`, just before a site's b8, may be a REX prefix that turns
// the instruction into a mov to r8d..r15d (41 b8 imm32): REX.B set, REX.W
// clear (with REX.W the mov would take eight bytes of immediate and could
// not end where the syscall starts). The byte may as well end an unrelated
// instruction (an odd displacement, say); such sites only stay on the
// signal path.
bool MayBeRexPrefix(uint8_t byte) { return (byte & 0xf9) == 0x41; }

// True if `byte`, just before a site's b8, may be an opcode that takes b8
// as its ModRM byte ([rax + disp32], as in `8d b8 disp32`, a lea), so that
// what looks like the immediate is a displacement. Only a displacement of
// 128 or more is encoded in four bytes, so this matters only for syscall
// numbers that large; other sites after such a byte are not given up.
bool MayTakeModRm(uint8_t byte, uint32_t nr) {
  if (nr < 128) return false;
  // The one-byte arithmetic, test, xchg, mov and lea opcodes with a ModRM
  // and no immediate, and movsxd.
  return byte <= 0x3b
             ? (byte & 0x04) == 0
             : (byte == 0x63 || (byte >= 0x84 && byte <= 0x8b) || byte == 0x8d);
}

// The AMX state components: tile configuration and tile data.
constexpr uint64_t kAmxComponents = (1ULL << 17) | (1ULL << 18);

// Chooses the extended state the full dispatch saves: every component the
// OS enabled (XCR0) but the AMX tiles, which compiled code never touches
// (they take intrinsics) and which would make each save 8 KiB larger, on
// the program's stack. Sets the XSAVE area size those components need in
// the standard layout. False if the CPU reports no XSAVE area.
bool ChooseXsaveComponents(uint64_t* mask, uint32_t* size) {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid_count(0xd, 0, &eax, &ebx, &ecx, &edx) || ebx == 0) {
    return false;
  }
  uint32_t low, high;
  asm volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
  *mask = ((static_cast<uint64_t>(high) << 32) | low) & ~kAmxComponents;
  // The legacy area and the header; each further component at the offset
  // CPUID gives it.
  *size = 512 + 64;
  for (int component = 2; component < 64; ++component) {
    if (!(*mask & (1ULL << component))) continue;
    if (!__get_cpuid_count(0xd, component, &eax, &ebx, &ecx, &edx)) continue;
    *size = std::max(*size, ebx + eax);
  }
  return true;
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

  return nullptr;
}

const char* StartSitePatcher() {
  uint64_t xsave_mask = 0;
  uint32_t xsave_size = 0;
  if (!ChooseXsaveComponents(&xsave_mask, &xsave_size)) {
    return "the CPU reports no XSAVE area size";
  }
  const char* error = nullptr;
  if (!InitTrampolines(xsave_mask, xsave_size, &error)) return error;
  g_patcher.ready = true;
  return nullptr;
}

void MaybeRewriteSite(uint64_t syscall_end, long nr) {
  if (!g_patcher.ready || MustStayOnSignalPath(nr)) return;
  // Most sites that keep trapping are of another shape; knowing that must
  // cost next to nothing, since they pay it at every call.
  if (IsKnownUnrewritable(syscall_end)) return;
  uint64_t site = syscall_end - kSiteBytes;

  PatchLockScope lock(/*wait=*/false);
  if (!lock.locked()) return;  // another thread is at it; try next time
  // A mapping change announced before the lock was taken may be changing
  // this very code: leave the site for next time. One announced later
  // sees the lock and waits for it (NeedsMappingBookkeeping).
  if (MappingChangesUnderWay()) return;
  bool readable = false, has_byte_before = false;
  if (!IsRewritableCode(site, &readable, &has_byte_before)) {
    RememberUnrewritable(syscall_end);
    return;
  }
  // The site's bytes, and the one before them where there is one.
  uint8_t window[1 + kSiteBytes] = {};
  uint64_t from = has_byte_before ? site - 1 : site;
  uint8_t* into = has_byte_before ? window : window + 1;
  size_t length = has_byte_before ? sizeof(window) : kSiteBytes;
  if (readable) {
    memcpy(into, reinterpret_cast<const void*>(from), length);
  } else if (!CopyFromProgram(into, from, length)) {
    return;
  }
  const uint8_t* bytes = window + 1;
  if (!HasSiteShape(bytes, static_cast<uint32_t>(nr)) ||
      (has_byte_before &&
       (MayBeRexPrefix(window[0]) ||
        MayTakeModRm(window[0], static_cast<uint32_t>(nr))))) {
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
  if (FindSiteAt(site) == nullptr) {
    // The rewrite may have ended, and its record gone with the code (put
    // back, then unmapped or replaced), between the thread's trap and this
    // handler: a site guarded lately whose int3 is gone was the runtime's.
    uint8_t now = kInt3Opcode;
    if (!WasGuardedLately(site) || !CopyFromProgram(&now, site, 1) ||
        now == kInt3Opcode) {
      return false;
    }
  }
  // Run the site again from its start: by now it holds either the whole
  // new instruction, the whole old one, or the int3 still, which brings
  // the thread back here until the rewriting thread is done.
  regs[REG_RIP] = static_cast<greg_t>(site);
  return true;
}

long RunMappingChange(long nr, const long* args) {
  PatchLockScope lock(/*wait=*/true);
  PageRange ranges[2];
  int count = ChangedRanges(nr, args, ranges);
  ProcFile mem("/proc/self/mem", O_RDWR);
  for (int i = 0; i < count; ++i) {
    // Every site the change touches gets its own bytes back first, where
    // the runtime's jump still is: code that stays (made writable, moved,
    // part of a site outside the range, a change that fails) is the
    // program's again, and code that goes takes nothing of the runtime's
    // with it. The records go: a site that traps again is rewritten anew.
    ForEachSiteIn(ranges[i].begin, ranges[i].end, [&mem](SiteRecord& record) {
      if (record.state.load(std::memory_order_acquire) ==
          static_cast<uint32_t>(SiteState::kRewritten)) {
        RestoreMov(mem, &record);
      }
      ReleaseSiteRecord(&record);
    });
  }
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
