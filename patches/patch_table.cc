// Built general-registers-only and free of library calls: the fast path and
// the SIGTRAP handler read this table. Async-signal-safe.
#include "patches/patch_table.h"

#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "trampolines/gateway.h"

namespace sandbox {
namespace {

constexpr uint64_t kPageMask = 4095;

SiteRecord g_records[kMaxSiteRecords];
std::atomic<int> g_record_count{0};
// The tid of the thread holding the patch lock, or 0.
std::atomic<int> g_lock_owner{0};

bool IsLive(const SiteRecord& record) {
  return record.state.load(std::memory_order_acquire) !=
         static_cast<uint32_t>(SiteState::kFree);
}

}  // namespace

SiteRecord* SiteRecords() { return g_records; }
int SiteRecordCount() { return g_record_count.load(std::memory_order_acquire); }

SiteRecord* FindSiteRecord(uint64_t site, uint32_t nr) {
  int count = SiteRecordCount();
  for (int i = 0; i < count; ++i) {
    SiteRecord& record = g_records[i];
    if (record.site == site && record.nr == nr && IsLive(record)) {
      return &record;
    }
  }
  return nullptr;
}

SiteRecord* FindSiteAt(uint64_t site) {
  int count = SiteRecordCount();
  for (int i = 0; i < count; ++i) {
    SiteRecord& record = g_records[i];
    if (record.site == site && IsLive(record)) return &record;
  }
  return nullptr;
}

bool AnySiteIn(uint64_t begin, uint64_t end) {
  int count = SiteRecordCount();
  for (int i = 0; i < count; ++i) {
    const SiteRecord& record = g_records[i];
    if (IsLive(record) && record.site + 5 > begin && record.site < end) {
      return true;
    }
  }
  return false;
}

SiteRecord* NewSiteRecord(uint64_t site, uint32_t nr, uint64_t trampoline) {
  int count = SiteRecordCount();
  for (int i = 0; i < count; ++i) {
    if (!IsLive(g_records[i])) {
      g_records[i].site = site;
      g_records[i].nr = nr;
      g_records[i].trampoline = trampoline;
      return &g_records[i];
    }
  }
  if (count == kMaxSiteRecords) return nullptr;
  SiteRecord& record = g_records[count];
  record.site = site;
  record.nr = nr;
  record.trampoline = trampoline;
  g_record_count.store(count + 1, std::memory_order_release);
  return &record;
}

void AffectedPages(const long* args, uint64_t* begin, uint64_t* end) {
  // The kernel acts on whole pages: a length that ends mid-page covers the
  // rest of that page too.
  *begin = static_cast<uint64_t>(args[0]) & ~kPageMask;
  *end = (static_cast<uint64_t>(args[0]) + static_cast<uint64_t>(args[1]) +
          kPageMask) &
         ~kPageMask;
}

bool NeedsMappingBookkeeping(long nr, const long* args) {
  uint64_t begin, end;
  AffectedPages(args, &begin, &end);
  switch (nr) {
    case SYS_mprotect:
    case SYS_pkey_mprotect:
      // A page that becomes writable must hold the program's own bytes. A
      // rewrite in progress elsewhere may be about to add a site here.
      if (!(args[2] & PROT_WRITE)) return false;
      return AnySiteIn(begin, end) ||
             g_lock_owner.load(std::memory_order_acquire) != 0;
    case SYS_mremap:
      return AnySiteIn(begin, end);
    case SYS_munmap:
      return AnySiteIn(begin, end);
    case SYS_mmap:
      return (args[3] & MAP_FIXED) && AnySiteIn(begin, end);
    default:
      return false;
  }
}

bool TryLockPatches(int tid) {
  int expected = 0;
  return g_lock_owner.compare_exchange_strong(expected, tid,
                                              std::memory_order_acquire);
}

void LockPatches(int tid) {
  while (!TryLockPatches(tid)) {
    sandbox_raw_syscall(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
  }
}

void UnlockPatches() { g_lock_owner.store(0, std::memory_order_release); }

}  // namespace sandbox
