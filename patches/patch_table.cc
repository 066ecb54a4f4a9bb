// Built general-registers-only and free of library calls: the fast path and
// the SIGTRAP handler read this table. Async-signal-safe.
#include "patches/patch_table.h"

#include <sched.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>

#include "trampolines/gateway.h"

namespace sandbox {
namespace {

constexpr uint64_t kPageMask = 4095;
// MADV_DONTNEED_LOCKED (Linux 5.18), which Debian 12's headers lack.
constexpr long kMadvDontneedLocked = 24;

SiteRecord g_records[kMaxSiteRecords];
std::atomic<int> g_record_count{0};
// The tid of the thread holding the patch lock, or 0.
std::atomic<int> g_lock_owner{0};
// How many syscalls that may change mappings are under way.
std::atomic<int> g_mapping_changes{0};

bool IsLive(const SiteRecord& record) {
  return record.state.load(std::memory_order_acquire) !=
         static_cast<uint32_t>(SiteState::kFree);
}

// Finding a record by its site without a scan, for the rewriter (patch
// lock held): an open-addressing table of record numbers + 1 (0: empty).
// A record reused for another site leaves its old entry behind; lookups
// skip such entries by comparing sites, and the table is rebuilt from the
// live records once entries fill half of it.
constexpr int kIndexSlots = 2 * kMaxSiteRecords;
static_assert((kIndexSlots & (kIndexSlots - 1)) == 0);
constexpr int kIndexBits = 15;
static_assert(1 << kIndexBits == kIndexSlots);
int32_t g_index[kIndexSlots];
int g_index_entries = 0;

// Records given back by ReleaseSiteRecord, to be taken again first.
int32_t g_free_records[kMaxSiteRecords];
int g_free_count = 0;

int IndexSlotOf(uint64_t site) {
  return static_cast<int>((site * 0x9e3779b97f4a7c15ULL) >> (64 - kIndexBits));
}

void InsertIntoIndex(int number) {
  int slot = IndexSlotOf(g_records[number].site);
  while (g_index[slot] != 0) slot = (slot + 1) & (kIndexSlots - 1);
  g_index[slot] = number + 1;
  ++g_index_entries;
}

void IndexRecord(int number) {
  if (2 * (g_index_entries + 1) > kIndexSlots) {
    for (int& entry : g_index) entry = 0;
    g_index_entries = 0;
    int count = g_record_count.load(std::memory_order_relaxed);
    for (int i = 0; i < count; ++i) {
      if (i != number && IsLive(g_records[i])) InsertIntoIndex(i);
    }
  }
  InsertIntoIndex(number);
}

// Which 2 MiB regions of the address space may hold sites: a filter of one
// bit per hashed region, set before a site's record goes live and never
// cleared, so that the mapping changes of a program (every munmap of its
// allocator) can tell at a glance that they touch no rewritten code.
constexpr int kRegionShift = 21;
constexpr int kRegionBits = 16;
std::atomic<uint64_t> g_site_regions[(1 << kRegionBits) / 64];

int RegionBitOf(uint64_t region) {
  return static_cast<int>((region * 0x9e3779b97f4a7c15ULL) >>
                          (64 - kRegionBits));
}

void MarkSiteRegions(uint64_t site) {
  // A site's bytes may cross into the next region.
  for (uint64_t address : {site, site + kSiteBytes - 1}) {
    int bit = RegionBitOf(address >> kRegionShift);
    g_site_regions[bit / 64].fetch_or(1ULL << (bit % 64),
                                      std::memory_order_release);
  }
}

// False only if no site can lie in [begin, end).
bool MaySiteBeIn(uint64_t begin, uint64_t end) {
  if (end <= begin) return false;
  uint64_t first = begin >> kRegionShift;
  uint64_t last = (end - 1) >> kRegionShift;
  // Beyond 2 GiB, asking the filter costs more than the scan it saves.
  if (last - first >= 1024) return true;
  for (uint64_t region = first; region <= last; ++region) {
    int bit = RegionBitOf(region);
    if (g_site_regions[bit / 64].load(std::memory_order_acquire) &
        (1ULL << (bit % 64))) {
      return true;
    }
  }
  return false;
}

}  // namespace

SiteRecord* SiteRecords() { return g_records; }
int SiteRecordCount() { return g_record_count.load(std::memory_order_acquire); }

SiteRecord* FindSiteRecord(uint64_t site, uint32_t nr) {
  for (int slot = IndexSlotOf(site); g_index[slot] != 0;
       slot = (slot + 1) & (kIndexSlots - 1)) {
    SiteRecord& record = g_records[g_index[slot] - 1];
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
  if (!MaySiteBeIn(begin, end)) return false;
  int count = SiteRecordCount();
  for (int i = 0; i < count; ++i) {
    const SiteRecord& record = g_records[i];
    if (IsLive(record) && record.site + kSiteBytes > begin &&
        record.site < end) {
      return true;
    }
  }
  return false;
}

SiteRecord* NewSiteRecord(uint64_t site, uint32_t nr, uint64_t trampoline) {
  int number;
  if (g_free_count > 0) {
    number = g_free_records[--g_free_count];
  } else {
    number = SiteRecordCount();
    if (number == kMaxSiteRecords) return nullptr;
  }
  SiteRecord& record = g_records[number];
  record.site = site;
  record.nr = nr;
  record.trampoline = trampoline;
  // Known to AnySiteIn before the caller makes the record live.
  MarkSiteRegions(site);
  if (number == SiteRecordCount()) {
    g_record_count.store(number + 1, std::memory_order_release);
  }
  IndexRecord(number);
  return &record;
}

void ReleaseSiteRecord(SiteRecord* record) {
  record->state.store(static_cast<uint32_t>(SiteState::kFree),
                      std::memory_order_release);
  g_free_records[g_free_count++] = static_cast<int32_t>(record - g_records);
}

int ChangedRanges(long nr, const long* args, PageRange ranges[2]) {
  // The kernel acts on whole pages: a length that ends mid-page covers the
  // rest of that page too.
  auto pages = [](uint64_t address, uint64_t length) {
    return PageRange{address & ~kPageMask,
                     (address + length + kPageMask) & ~kPageMask};
  };
  if (nr == SYS_shmat) {
    // shmat(id, address, flags) replaces as much as the segment holds; a
    // segment the kernel does not know makes shmat fail, replacing nothing.
    struct shmid_ds segment = {};
    uint64_t size =
        sandbox_raw_syscall(SYS_shmctl, args[0], IPC_STAT,
                            reinterpret_cast<long>(&segment), 0, 0, 0) == 0
            ? segment.shm_segsz
            : 0;
    ranges[0] = pages(static_cast<uint64_t>(args[1]), size);
    return 1;
  }
  ranges[0] =
      pages(static_cast<uint64_t>(args[0]), static_cast<uint64_t>(args[1]));
  // A fixed move also replaces whatever was mapped where it lands.
  if (nr == SYS_mremap && (args[3] & MREMAP_FIXED)) {
    ranges[1] =
        pages(static_cast<uint64_t>(args[4]), static_cast<uint64_t>(args[2]));
    return 2;
  }
  return 1;
}

namespace {

constexpr int kCodeMappings = 64;
CodeMapping g_code_mappings[kCodeMappings];
std::atomic<int> g_code_mapping_count{0};
// Bumped whenever a mapping change touches remembered code; an entry of
// the negative cache is good only for the generation it was made in.
std::atomic<uint64_t> g_code_generation{1};

constexpr int kUnrewritableSlots = 4096;
struct UnrewritableSlot {
  std::atomic<uint64_t> syscall_end;
  std::atomic<uint64_t> generation;
};
UnrewritableSlot g_unrewritable[kUnrewritableSlots];

int UnrewritableSlotOf(uint64_t syscall_end) {
  return static_cast<int>((syscall_end * 0x9e3779b97f4a7c15ULL) >> 52);
}

// A change to [begin, end) that may unmap, move or reprotect code makes
// everything remembered about that code stale.
void ForgetCodeIn(uint64_t begin, uint64_t end) {
  int count = g_code_mapping_count.load(std::memory_order_acquire);
  for (int i = 0; i < count; ++i) {
    if (g_code_mappings[i].begin < end && g_code_mappings[i].end > begin) {
      g_code_mapping_count.store(0, std::memory_order_release);
      g_code_generation.fetch_add(1, std::memory_order_acq_rel);
      return;
    }
  }
}

}  // namespace

const CodeMapping* FindCodeMapping(uint64_t address) {
  int count = g_code_mapping_count.load(std::memory_order_acquire);
  for (int i = 0; i < count; ++i) {
    if (address >= g_code_mappings[i].begin &&
        address < g_code_mappings[i].end) {
      return &g_code_mappings[i];
    }
  }
  return nullptr;
}

void RememberCodeMapping(const CodeMapping& mapping) {
  int count = g_code_mapping_count.load(std::memory_order_acquire);
  if (count == kCodeMappings) {
    // Full: start over rather than track which entry is oldest.
    count = 0;
    g_code_generation.fetch_add(1, std::memory_order_acq_rel);
  }
  g_code_mappings[count] = mapping;
  g_code_mapping_count.store(count + 1, std::memory_order_release);
}

void RememberUnrewritable(uint64_t syscall_end) {
  UnrewritableSlot& slot = g_unrewritable[UnrewritableSlotOf(syscall_end)];
  slot.syscall_end.store(0, std::memory_order_relaxed);
  slot.generation.store(g_code_generation.load(std::memory_order_acquire),
                        std::memory_order_relaxed);
  slot.syscall_end.store(syscall_end, std::memory_order_release);
}

bool IsKnownUnrewritable(uint64_t syscall_end) {
  UnrewritableSlot& slot = g_unrewritable[UnrewritableSlotOf(syscall_end)];
  return slot.syscall_end.load(std::memory_order_acquire) == syscall_end &&
         slot.generation.load(std::memory_order_relaxed) ==
             g_code_generation.load(std::memory_order_acquire);
}

namespace {

bool TouchesMemory(long nr, const long* args) {
  if (!MayBeMappingChange(nr)) return false;
  switch (nr) {
    case SYS_mmap:
      return (args[3] & MAP_FIXED) != 0;
    case SYS_madvise:
      // Advice that throws pages away: they read as zeros or as the file
      // again, without the runtime's jumps.
      return args[2] == MADV_DONTNEED || args[2] == MADV_FREE ||
             args[2] == MADV_REMOVE || args[2] == kMadvDontneedLocked;
    case SYS_shmat:
      return (args[2] & SHM_REMAP) != 0;
    default:
      return true;
  }
}

}  // namespace

bool MayBeMappingChange(long nr) {
  switch (nr) {
    case SYS_mmap:
    case SYS_mprotect:
    case SYS_pkey_mprotect:
    case SYS_mremap:
    case SYS_munmap:
    case SYS_madvise:
    case SYS_shmat:
      return true;
    default:
      return false;
  }
}

bool BeginMappingChange(long nr, const long* args) {
  if (!TouchesMemory(nr, args)) return false;
  g_mapping_changes.fetch_add(1, std::memory_order_seq_cst);
  return true;
}

void EndMappingChange() {
  g_mapping_changes.fetch_sub(1, std::memory_order_release);
}

bool MappingChangesUnderWay() {
  return g_mapping_changes.load(std::memory_order_seq_cst) != 0;
}

bool NeedsMappingBookkeeping(long nr, const long* args) {
  if (!TouchesMemory(nr, args)) return false;
  PageRange ranges[2];
  int count = ChangedRanges(nr, args, ranges);
  for (int i = 0; i < count; ++i) ForgetCodeIn(ranges[i].begin, ranges[i].end);
  // A rewrite under way may have looked at this memory before the change
  // was announced (BeginMappingChange): wait for it by taking the lock.
  if (g_lock_owner.load(std::memory_order_seq_cst) != 0) return true;
  // A page that becomes writable must hold the program's own bytes; one
  // that stays read-only may keep its jumps.
  if ((nr == SYS_mprotect || nr == SYS_pkey_mprotect) &&
      !(args[2] & PROT_WRITE)) {
    return false;
  }
  for (int i = 0; i < count; ++i) {
    if (AnySiteIn(ranges[i].begin, ranges[i].end)) return true;
  }
  return false;
}

bool TryLockPatches(int tid) {
  // Sequentially consistent, as is the count of mapping changes, so that
  // of a rewriter and a mapping change that start together at least one
  // sees the other.
  int expected = 0;
  return g_lock_owner.compare_exchange_strong(expected, tid,
                                              std::memory_order_seq_cst);
}

void LockPatches(int tid) {
  while (!TryLockPatches(tid)) {
    sandbox_raw_syscall(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
  }
}

void UnlockPatches() { g_lock_owner.store(0, std::memory_order_release); }

}  // namespace sandbox
