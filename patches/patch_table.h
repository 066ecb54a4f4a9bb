// The record of every syscall site the runtime has rewritten.
//
// Lookups are lock-free and built general-registers-only, so the fast path
// and the SIGTRAP recovery can use them; changes are made by one thread at
// a time, holding the patch lock with all signals blocked.
#ifndef SANDBOX_PATCHES_PATCH_TABLE_H_
#define SANDBOX_PATCHES_PATCH_TABLE_H_

#include <atomic>
#include <cstdint>

namespace sandbox {

// Where a site is in its life. A site in kWriting or kRestoring may hold an
// int3 in its first byte.
enum class SiteState : uint32_t {
  kFree = 0,       // an unused record
  kWriting = 1,    // being rewritten into a jump
  kRewritten = 2,  // jumps to its trampoline
  kRestoring = 3,  // being put back to `mov $nr, %eax`
  kRestored = 4,   // holds the original bytes again; trampoline kept
};

// One rewritten site: `mov $nr, %eax` at `site`, then a syscall.
struct SiteRecord {
  std::atomic<uint32_t> state;
  uint32_t nr;
  uint64_t site;
  uint64_t trampoline;
};

inline constexpr int kMaxSiteRecords = 16384;

// A site's length: the 5-byte mov (or the jump that replaced it) and the
// 2-byte syscall after it, which the trampoline depends on.
inline constexpr uint64_t kSiteBytes = 7;

// Returns the record for (site, nr) in any state but kFree, or nullptr.
SiteRecord* FindSiteRecord(uint64_t site, uint32_t nr);

// Returns a live record at `site` for any number, or nullptr. A thread that
// met an int3 there may look only after the rewrite has finished, so any
// state counts.
SiteRecord* FindSiteAt(uint64_t site);

// True if some rewritten (or in-transition) site lies in [begin, end).
bool AnySiteIn(uint64_t begin, uint64_t end);

// True if syscall `nr`, with some arguments, may change mappings that hold
// rewritten sites (mmap, munmap, mremap, mprotect, madvise, shmat).
bool MayBeMappingChange(long nr);

// A syscall that may change mappings (munmap, mremap, mprotect, a fixed
// mmap, a discarding madvise, a replacing shmat) is announced before
// NeedsMappingBookkeeping is asked about it and until it has returned, so that
// no rewrite starts meanwhile. Returns true if `nr` is such a syscall, in which
// case EndMappingChange must follow.
bool BeginMappingChange(long nr, const long* args);
void EndMappingChange();
// True while some thread is between BeginMappingChange and
// EndMappingChange. A rewriter that holds the patch lock and sees false
// may write code until it lets the lock go.
bool MappingChangesUnderWay();

// True if syscall `nr` with `args` may unmap, move, replace or make
// writable code that holds rewritten sites, or if a rewrite is under way,
// and so must go through RunMappingChange (site_patcher.h). Also forgets
// what the caches below know about the code the call may change.
bool NeedsMappingBookkeeping(long nr, const long* args);

// What the rewriter learnt about one mapping of code, kept until a mapping
// change touches it: the kernel's answer is costly to ask for.
struct CodeMapping {
  uint64_t begin;
  uint64_t end;
  uint64_t flags;  // kernel::kVma* bits
};

// Returns the cached mapping that holds `address`, or nullptr.
const CodeMapping* FindCodeMapping(uint64_t address);
// Remembers a mapping. Lock held.
void RememberCodeMapping(const CodeMapping& mapping);

// Remembers that the site whose syscall ends at `syscall_end` cannot be
// rewritten, until a mapping change touches code. Lock-free, lossy.
void RememberUnrewritable(uint64_t syscall_end);
// True if RememberUnrewritable said so and nothing has changed since.
bool IsKnownUnrewritable(uint64_t syscall_end);

// Whole pages [begin, end).
struct PageRange {
  uint64_t begin, end;
};

// The pages a mapping syscall `nr` with `args` changes: its own range,
// and for a fixed mremap also the range it lands on, which it replaces.
// Returns how many ranges it filled in (1 or 2); ranges[0] is the
// syscall's own.
int ChangedRanges(long nr, const long* args, PageRange ranges[2]);

// Takes a free record; nullptr when the table is full. Lock held.
SiteRecord* NewSiteRecord(uint64_t site, uint32_t nr, uint64_t trampoline);

// Marks `record` free for NewSiteRecord to take again. Lock held.
void ReleaseSiteRecord(SiteRecord* record);

// Calls `visit` for every record in [begin, end) that is not free. Lock
// held.
template <typename Visit>
void ForEachSiteIn(uint64_t begin, uint64_t end, Visit visit);

// Tries to take the patch lock for thread `tid`; false if another thread
// (or this thread, in an outer frame) holds it.
bool TryLockPatches(int tid);
// Takes the patch lock, waiting for another thread to let it go.
void LockPatches(int tid);
void UnlockPatches();

// --- implementation details below ---

SiteRecord* SiteRecords();
int SiteRecordCount();

template <typename Visit>
void ForEachSiteIn(uint64_t begin, uint64_t end, Visit visit) {
  SiteRecord* records = SiteRecords();
  int count = SiteRecordCount();
  for (int i = 0; i < count; ++i) {
    SiteRecord& record = records[i];
    if (record.state.load(std::memory_order_acquire) ==
        static_cast<uint32_t>(SiteState::kFree)) {
      continue;
    }
    // One that starts before `begin` may still end inside the range.
    if (record.site + kSiteBytes > begin && record.site < end) visit(record);
  }
}

}  // namespace sandbox

#endif  // SANDBOX_PATCHES_PATCH_TABLE_H_
