// Per-thread runtime state, found by kernel thread id. The runtime cannot
// use the thread pointer: a thread made by a raw clone may share its
// creator's, or point it at memory of its own. Records live in one
// anonymous mapping made at start-up, so nothing here allocates.
// Everything is async-signal-safe and lock-free.
#ifndef SANDBOX_RUNTIME_THREAD_REGISTRY_H_
#define SANDBOX_RUNTIME_THREAD_REGISTRY_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "trampolines/gateway.h"

namespace sandbox {

// Room for one saved signal frame: the ucontext, siginfo and the largest
// extended state this CPU can put in a frame.
inline constexpr size_t kFrameCapacity = 14 * 1024;

// The runtime's view of one thread.
struct ThreadRecord {
  // The SUD selector byte of this thread. It stays at "block": the runtime
  // never needs to flip it, because its own syscalls leave from the
  // gateway.
  volatile char selector;
  // The runtime-owned signals (SIGSYS, SIGTRAP) that the program wants
  // blocked. The real mask never blocks them (the kernel would kill the
  // thread at the next dispatch), so the program's wish is kept here.
  uint64_t program_blocked_owned;
  // Owned signals meant for the program that arrived while it blocked
  // them.
  uint64_t program_pending_owned;
  // The clone flags the thread was created with (new threads only).
  uint64_t clone_flags;
  // The ucontext a new-stack child resumes, inside `frame`.
  void* start_frame;
  // Used by the parent side of a vfork-style clone.
  SandboxVforkResume vfork_resume;
  // A signal frame: the frame a new-stack child resumes, or the copy a
  // vfork parent restores.
  alignas(64) char frame[kFrameCapacity];
};

inline constexpr int32_t kFree = 0;
inline constexpr int32_t kReserved = -1;

// Maps the record table. Called once, at start-up; returns a negative errno
// on failure.
long InitThreadRegistry();

// Takes a free record and marks it reserved for a thread not yet created.
// Returns nullptr when every record is in use by a live thread.
ThreadRecord* ReserveThreadRecord();

// Makes `record` the calling thread's.
void ClaimThreadRecord(ThreadRecord* record, int tid);

// Gives a record back.
void ReleaseThreadRecord(ThreadRecord* record);

// Returns the record of thread `tid`, or nullptr.
ThreadRecord* FindThreadRecord(int tid);

// Returns the calling thread's record, or a process-wide fallback record
// for a thread the runtime does not know (it still blocks, by selector).
ThreadRecord* CurrentThreadRecord();

// Calls `visit` for the record of every thread the runtime knows.
template <typename Visit>
void ForEachThreadRecord(Visit visit);

// In the child of a fork: releases every record but `keep`, since their
// threads do not exist in this process.
void ReleaseAllThreadRecordsBut(ThreadRecord* keep);

// --- implementation details below ---

// The table behind ForEachThreadRecord: records, their owners, and one past
// the highest slot ever used.
ThreadRecord* ThreadRecordTable();
std::atomic<int32_t>* ThreadOwnerTable();
int ThreadTableHighWater();

template <typename Visit>
void ForEachThreadRecord(Visit visit) {
  int limit = ThreadTableHighWater();
  for (int i = 0; i < limit; ++i) {
    if (ThreadOwnerTable()[i].load(std::memory_order_acquire) > 0) {
      visit(&ThreadRecordTable()[i]);
    }
  }
}

}  // namespace sandbox

#endif  // SANDBOX_RUNTIME_THREAD_REGISTRY_H_
