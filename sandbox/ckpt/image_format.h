// What a checkpoint image holds, and its text form. process.img is line
// oriented text (one record a line, fields separated by spaces, strings
// percent-encoded), readable by a person and parsed strictly; register
// blocks and memory contents are hexadecimal words or live in files of
// their own.
#ifndef SANDBOX_CKPT_IMAGE_FORMAT_H_
#define SANDBOX_CKPT_IMAGE_FORMAT_H_

#include <signal.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sandbox/common/kernel_abi.h"

namespace sandbox::ckpt {

// The registration a thread made with rseq(2), as ptrace reports it.
struct RseqConfig {
  uint64_t address;
  uint32_t length;
  uint32_t signature;
  uint32_t flags;
  uint32_t pad;
};

struct ThreadImage {
  pid_t tid = 0;
  user_regs_struct regs = {};
  std::string xstate;  // the NT_X86_XSTATE regset, as ptrace returned it
  uint64_t sigmask = 0;
  kernel::PtraceSudConfig sud = {};
  RseqConfig rseq = {};
  stack_t altstack = {nullptr, SS_DISABLE, 0};
  std::string name;              // the thread's comm
  uint64_t clear_child_tid = 0;  // set_tid_address
  uint64_t robust_list = 0;      // set_robust_list
  uint64_t robust_list_length = 0;
};

// A signal queued but not yet delivered, with the siginfo the kernel keeps
// for it: for thread `tid`, or for the whole process when `tid` is 0.
struct PendingSignal {
  pid_t tid = 0;
  std::string siginfo;  // kSiginfoSize bytes, as PTRACE_PEEKSIGINFO gave it
};
inline constexpr size_t kSiginfoSize = 128;  // sizeof(siginfo_t)

// The files that hold saved pages. A dump writes them at once, one thread
// each; a run lives whole in one of them.
inline constexpr int kPageFileCount = 2;
inline constexpr const char* kPageFiles[kPageFileCount] = {"pages.img",
                                                           "pages-1.img"};

// A run of pages of a mapping whose contents are saved: `count` pages from
// `begin`, at `pages_offset` in page file `file`. Pages of a mapping not in
// any run were never touched and read as zeros (or as the file, for a file
// mapping).
struct PageRun {
  uint64_t begin = 0;
  uint64_t count = 0;
  uint64_t pages_offset = 0;
  int file = 0;  // index into kPageFiles
};

struct MappingImage {
  uint64_t begin = 0;
  uint64_t end = 0;
  std::string perms;  // as /proc/PID/maps shows them: "rw-p"
  uint64_t file_offset = 0;
  std::string name;    // path, "[heap]", "[stack]", "[vdso]", or empty
  uint64_t inode = 0;  // views of one shared object have the same inode
  // Whether its contents are saved: not for a shared file mapping, whose
  // contents are the file's, nor for the kernel's own areas.
  bool saved = false;
  // For a private mapping of a file: the file's size and modification time
  // (ns) when dumped, to refuse a restore over a changed file; 0 if none.
  int64_t file_size = 0;
  int64_t file_mtime_ns = 0;
  // Mapped with MAP_NORESERVE (no commit charge), as the kernel's VmFlags
  // say: large sparse areas (sanitizer shadows, heaps of runtimes).
  bool noreserve = false;
  std::vector<PageRun> runs;
};

struct FileImage {
  int fd = 0;
  std::string kind;  // "file", "pipe"
  std::string path;  // the file's path, or "pipe:[INODE]"
  int flags = 0;     // as fdinfo shows them
  uint64_t position = 0;
  std::string pipe_data_file;  // unread bytes of a pipe's read end
  // An earlier descriptor of the same open file (dup, or `>f 2>&1`), whose
  // offset and flags this one shares, or -1.
  int shares_with = -1;
};

struct SignalAction {
  int signo = 0;
  kernel::KernelSigaction action = {};
};

// An interval timer of the process (setitimer) that was running.
struct ItimerImage {
  int which = 0;  // ITIMER_REAL, ITIMER_VIRTUAL or ITIMER_PROF
  struct itimerval value = {};
};

struct RlimitImage {
  uint64_t current;
  uint64_t maximum;
};

// The layout fields of the kernel's mm that /proc/PID/stat shows, and the
// program break, which a restore sets with PR_SET_MM_MAP.
struct MmLayout {
  uint64_t start_code = 0, end_code = 0, start_data = 0, end_data = 0;
  uint64_t start_brk = 0, brk = 0, start_stack = 0;
  uint64_t arg_start = 0, arg_end = 0, env_start = 0, env_end = 0;
};

struct ProcessImage {
  pid_t pid = 0;
  MmLayout mm;
  std::string auxv;  // /proc/PID/auxv, as bytes
  std::string exe;
  std::string cwd;
  uint32_t umask = 022;
  std::vector<RlimitImage> rlimits;
  std::vector<SignalAction> sigactions;
  std::vector<ItimerImage> itimers;
  std::vector<ThreadImage> threads;
  std::vector<PendingSignal> pending;  // in the order they were queued
  std::vector<MappingImage> mappings;
  std::vector<FileImage> files;
};

// The text of process.img.
std::string Encode(const ProcessImage& image);

// Parses process.img; DataLoss on anything malformed.
absl::StatusOr<ProcessImage> Decode(const std::string& text);

// A summary for people (`show`), or a JSON object (`show --json`).
std::string DescribeText(const ProcessImage& image);
std::string DescribeJson(const ProcessImage& image);

}  // namespace sandbox::ckpt

#endif  // SANDBOX_CKPT_IMAGE_FORMAT_H_
