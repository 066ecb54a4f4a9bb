// The shared counters behind `sandbox --stats`. The launcher creates a file
// of this layout; every sandboxed process maps it shared and counts into it
// with relaxed atomic adds, so children and exec'd programs add to the same
// totals.
#ifndef SANDBOX_COMMON_STATS_H_
#define SANDBOX_COMMON_STATS_H_

#include <atomic>
#include <cstdint>

#include "sandbox/common/syscall_table.h"

namespace sandbox {

inline constexpr uint64_t kStatsMagic = 0x31737461747362ULL;  // "bstats1"

// Layout of the counter file. Plain atomics, no pointers.
struct StatsBlock {
  uint64_t magic;
  std::atomic<uint64_t> syscalls;         // every intercepted syscall
  std::atomic<uint64_t> via_signal;       // those that arrived by SIGSYS
  std::atomic<uint64_t> via_fast_path;    // those that arrived by a jump
  std::atomic<uint64_t> out_of_table;     // numbers >= kSyscallTableSize
  std::atomic<uint64_t> sites_rewritten;  // syscall sites made into jumps
  std::atomic<uint64_t> per_syscall[kSyscallTableSize];
};
static_assert(std::atomic<uint64_t>::is_always_lock_free);

}  // namespace sandbox

#endif  // SANDBOX_COMMON_STATS_H_
