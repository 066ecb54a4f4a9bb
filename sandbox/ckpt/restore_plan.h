// The plan a restore hands to the restorer: everything the new process
// must rebuild before the tool sets its threads' registers. Plain data, in
// one region of memory that the restorer keeps mapped while it works.
#ifndef SANDBOX_CKPT_RESTORE_PLAN_H_
#define SANDBOX_CKPT_RESTORE_PLAN_H_

#include <cstdint>

namespace sandbox::ckpt {

inline constexpr int kPlanPathMax = 512;
inline constexpr int kPlanMaxUnmaps = 256;
inline constexpr int kPlanMaxGroups = 64;
inline constexpr int kPlanMaxPipes = 64;
inline constexpr int kPlanAuxvMax = 1024;
// The longest memfd name, with its terminating zero (the kernel's limit).
inline constexpr int kPlanGroupNameMax = 250;
// How many page files an image has (kPageFileCount, for the restorer,
// which cannot include the image format).
inline constexpr int kPlanPageFiles = 2;

enum PlanMappingKind : int32_t {
  kPlanAnonymous = 0,    // private anonymous memory
  kPlanFilePrivate = 1,  // a private mapping of `path`
  kPlanFileShared = 2,   // a shared mapping of `path`: the file holds it
  kPlanSharedGroup = 3,  // a view of shared memory `group` (memfd, shm)
};

struct PlanRange {
  uint64_t begin, end;
};

struct PlanMove {  // a kernel area ([vdso], [vvar]...) to move
  uint64_t from, to, length;
};

struct PlanMapping {
  uint64_t begin, end, file_offset;
  int32_t prot;           // the final protection
  int32_t kind;           // PlanMappingKind
  int32_t group;          // for kPlanSharedGroup
  int32_t writable_file;  // open the file read-write (shared, writable)
  int32_t noreserve;      // map with MAP_NORESERVE
  int32_t pad;
  uint32_t first_run, run_count;
  char path[kPlanPathMax];
};

struct PlanRun {
  uint64_t begin, count, pages_offset;
  int32_t file;  // the page file: at descriptor pages_fd + file
  int32_t pad;
};

enum PlanFileKind : int32_t { kPlanRegular = 0, kPlanPipe = 1 };

struct PlanFile {
  int32_t fd;
  int32_t kind;      // PlanFileKind
  int32_t flags;     // open flags, O_CLOEXEC included
  int32_t pipe;      // index of the pipe, for kPlanPipe
  int32_t pipe_end;  // 0: read end, 1: write end
  int32_t same_as;   // an earlier descriptor of the same open file, or -1
  uint64_t position;
  uint64_t data_at;  // unread pipe bytes: offset in the plan region
  uint64_t data_size;
  char path[kPlanPathMax];
};

struct PlanThread {
  int32_t tid;
  int32_t pad;
  uint64_t stack_top;  // for the restorer's own use before it stops
};

// The layout fields PR_SET_MM_MAP takes.
struct PlanMm {
  uint64_t start_code, end_code, start_data, end_data;
  uint64_t start_brk, brk, start_stack, arg_start, arg_end, env_start, env_end;
};

struct RestorePlan {
  uint64_t region_begin, region_end;  // this region, kept until the end
  int32_t pages_fd;                   // the page files, open at this and on
  int32_t highest_fd;                 // close everything from 0 to this
  // When not -1, the tool writes the pages of the runs from restorer_runs
  // on: the restorer tells it through helper_fd (a pipe's write end) that
  // the mappings are in place, and waits on helper_fd + 1 (a read end) for
  // its 'k'. Otherwise the restorer reads every run itself.
  int32_t helper_fd;
  uint32_t restorer_runs;

  int32_t unmap_count;
  PlanRange unmap[kPlanMaxUnmaps];  // the tool's own mappings, inherited
  int32_t move_count;
  PlanMove moves[4];

  int32_t group_count;
  uint64_t group_size[kPlanMaxGroups];
  // The memfd name each group gets back ("memfd:NAME" in the maps).
  char group_name[kPlanMaxGroups][kPlanGroupNameMax];
  int32_t pipe_count;

  uint32_t mapping_count, run_count, file_count, thread_count;
  uint64_t mappings_at, runs_at, files_at, threads_at;  // region offsets

  char cwd[kPlanPathMax];
  char exe[kPlanPathMax];
  uint32_t umask;
  uint32_t rlimit_count;
  uint64_t rlimits[16][2];
  PlanMm mm;
  uint32_t auxv_size;
  uint64_t auxv[kPlanAuxvMax / 8];

  // Set by the restorer when a step fails: which step, and the errno.
  int32_t failed_step;
  int32_t failed_errno;
  int32_t failed_item;  // the mapping, file or thread index, or -1
};

extern "C" {
// The restorer's entry: rebuilds the process from *plan, then stops every
// thread with an int3 for the tool. Never returns. Runs with no thread
// pointer, no libc and its own stack, from a copy of its code.
[[noreturn]] void sandbox_restorer_main(RestorePlan* plan);

// Bounds of the restorer's code, which the tool copies into the region.
extern const char sandbox_restorer_begin[];
extern const char sandbox_restorer_end[];

// A `syscall; int3` pair inside the restorer, for injected syscalls.
extern const char sandbox_restorer_syscall[];
}

}  // namespace sandbox::ckpt

#endif  // SANDBOX_CKPT_RESTORE_PLAN_H_
