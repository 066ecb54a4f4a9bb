#include "sandbox/ckpt/restore.h"

#include <elf.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/rseq.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "sandbox/ckpt/image_dir.h"
#include "sandbox/ckpt/image_format.h"
#include "sandbox/ckpt/ptrace_util.h"
#include "sandbox/ckpt/restore_plan.h"
#include "sandbox/common/kernel_abi.h"

extern "C" {
// The restorer's section, as the linker bounds it.
extern const char __start_sandbox_restorer[];
extern const char __stop_sandbox_restorer[];
}

namespace sandbox::ckpt {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kThreadStack = 64 * 1024;
constexpr uint64_t kMainStack = 256 * 1024;
constexpr uint64_t kScratch = 4096;
// Runs are cut into pieces of at most this many pages, so that the
// restorer's and the tool's shares of the pages can be made about equal.
constexpr uint64_t kRunPiecePages = 8192;  // 32 MiB

uint64_t RoundUp(uint64_t value) { return (value + kPage - 1) & ~(kPage - 1); }

struct Range {
  uint64_t begin, end;
  std::string name;
};

std::vector<Range> OwnMappings() {
  std::vector<Range> ranges;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    unsigned long begin, end;
    int name_at = 0;
    if (sscanf(line.c_str(), "%lx-%lx %*s %*s %*s %*s %n", &begin, &end,
               &name_at) < 2) {
      continue;
    }
    ranges.push_back({begin, end, name_at > 0 ? line.substr(name_at) : ""});
  }
  return ranges;
}

bool Overlaps(uint64_t begin, uint64_t end, const std::vector<Range>& ranges) {
  for (const Range& range : ranges) {
    if (begin < range.end && range.begin < end) return true;
  }
  return false;
}

bool IsKernelArea(const std::string& name) {
  return name == "[vdso]" || name == "[vvar]" || name == "[vvar_vclock]" ||
         name == "[vsyscall]";
}

bool IdInUse(pid_t id) {
  return kill(id, 0) == 0 || errno != ESRCH ||
         access(absl::StrCat("/proc/", id).c_str(), F_OK) == 0;
}

// The new process, killed unless released: a restore that fails part way
// leaves nothing behind.
class Child {
 public:
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      // Every thread, traced by this tool, must be reaped by it before the
      // leader can be: reap whatever ends, until nothing is left.
      while (waitpid(-1, nullptr, __WALL) > 0 || errno == EINTR) {
      }
    }
  }
  pid_t pid_ = -1;
  pid_t Release() {
    pid_t pid = pid_;
    pid_ = -1;
    return pid;
  }
};

// Writes the tool's share of the pages into the new process `pid` while
// its restorer reads the other share: waits for the restorer's word on
// `mapped_fd` that the mappings are in place, writes `runs` from the page
// files at `page_paths`, and answers on `filled_fd` with 'k' (or 'e' when
// something failed). Takes both descriptors. Runs on a thread of its own.
void FillPages(pid_t pid, std::vector<PlanRun> runs,
               std::vector<std::string> page_paths, int mapped_fd,
               int filled_fd) {
  // A restorer that died leaves the answer's pipe without a reader: the
  // write fails with EPIPE instead of killing the tool.
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);

  char mapped = 0;
  ssize_t got;
  while ((got = read(mapped_fd, &mapped, 1)) < 0 && errno == EINTR) {
  }
  bool ok = got == 1 && mapped == 'm';
  std::vector<int> page_fds;
  for (const std::string& path : page_paths) {
    int fd = ok ? open(path.c_str(), O_RDONLY | O_CLOEXEC) : -1;
    ok = ok && fd >= 0;
    page_fds.push_back(fd);
  }
  // A buffer small enough to stay in the cache between the two copies.
  std::vector<char> buffer(1 << 20);
  for (size_t r = 0; ok && r < runs.size(); ++r) {
    const PlanRun& run = runs[r];
    uint64_t length = run.count * kPage;
    for (uint64_t done = 0; ok && done < length; done += buffer.size()) {
      size_t chunk =
          static_cast<size_t>(std::min<uint64_t>(buffer.size(), length - done));
      ssize_t read_bytes;
      while ((read_bytes = pread(page_fds[run.file], buffer.data(), chunk,
                                 static_cast<off_t>(run.pages_offset + done))) <
                 0 &&
             errno == EINTR) {
      }
      struct iovec local = {buffer.data(), chunk};
      struct iovec remote = {reinterpret_cast<void*>(run.begin + done), chunk};
      ok = read_bytes == static_cast<ssize_t>(chunk) &&
           process_vm_writev(pid, &local, 1, &remote, 1, 0) ==
               static_cast<ssize_t>(chunk);
    }
  }
  for (int fd : page_fds) {
    if (fd >= 0) close(fd);
  }
  char answer = ok ? 'k' : 'e';
  while (write(filled_fd, &answer, 1) < 0 && errno == EINTR) {
  }
  close(mapped_fd);
  close(filled_fd);
}

// The thread that runs FillPages. Destroyed before the process it fills
// is known to run, it kills that process first, so that the thread, which
// may still wait for the restorer, sees its pipe close and ends.
class PageFiller {
 public:
  explicit PageFiller(const Child* child) : child_(child) {}
  ~PageFiller() {
    if (!thread_.joinable()) return;
    if (child_->pid_ > 0) kill(child_->pid_, SIGKILL);
    thread_.join();
  }
  PageFiller(const PageFiller&) = delete;
  PageFiller& operator=(const PageFiller&) = delete;

  // Starts FillPages with these arguments.
  void Start(pid_t pid, std::vector<PlanRun> runs,
             std::vector<std::string> page_paths, int mapped_fd,
             int filled_fd) {
    try {
      thread_ = std::thread(FillPages, pid, std::move(runs),
                            std::move(page_paths), mapped_fd, filled_fd);
    } catch (const std::system_error&) {
      // No filler: the restorer finds the answer's pipe closed and fails
      // at reading the pages, which the tool reports.
      close(mapped_fd);
      close(filled_fd);
    }
  }
  // Waits for FillPages, which has answered the restorer by the time every
  // thread of the new process stopped at its end.
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  const Child* child_;
  std::thread thread_;
};

pid_t g_restored = -1;

// Passes a signal sent to the tool on to the restored process. Async-
// signal-safe.
void PassSignalOn(int signo) {
  if (g_restored > 0) kill(g_restored, signo);
}

// While the tool waits for the restored process, the signals a user or a
// supervisor sends to end or poke it go to that process, which decides its
// fate; the tool then exits with its status. The terminal's SIGINT and
// SIGQUIT reach the process through the process group it shares with the
// tool, so the tool only outlives them.
void PassSignalsOnTo(pid_t pid) {
  g_restored = pid;
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  struct sigaction pass = {};
  pass.sa_handler = PassSignalOn;
  pass.sa_flags = SA_RESTART;
  for (int signo : {SIGHUP, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH}) {
    sigaction(signo, &pass, nullptr);
  }
}

// Makes a syscall in a stopped thread of the restored process through the
// restorer's syscall instruction.
absl::StatusOr<long> Inject(pid_t tid, uint64_t gadget, long nr,
                            std::vector<uint64_t> args) {
  user_regs_struct regs;
  long result = Ptrace(PTRACE_GETREGS, tid, 0, &regs);
  if (result < 0) {
    return absl::InternalError(
        absl::StrCat("PTRACE_GETREGS: ", strerror(-result)));
  }
  return StepSyscall(tid, regs, gadget, nr, std::move(args));
}

absl::Status WriteChild(pid_t pid, uint64_t address, const void* data,
                        size_t length) {
  struct iovec local = {const_cast<void*>(data), length};
  struct iovec remote = {reinterpret_cast<void*>(address), length};
  if (process_vm_writev(pid, &local, 1, &remote, 1, 0) !=
      static_cast<ssize_t>(length)) {
    return absl::InternalError(
        absl::StrCat("writing the restored process: ", strerror(errno)));
  }
  return absl::OkStatus();
}

// Fills the plan for `image` in a region at `region` of `size` bytes.
// How many plan runs `run` becomes.
uint64_t PiecesOf(const PageRun& run) {
  return (run.count + kRunPiecePages - 1) / kRunPiecePages;
}

absl::Status BuildPlan(const ProcessImage& image, const ImageReader& reader,
                       uint64_t region, uint64_t size,
                       const std::vector<Range>& own, int pages_fd,
                       int helper_fd, uint64_t* entry, uint64_t* stack_top,
                       uint64_t* gadget, uint64_t* scratch) {
  auto* plan = reinterpret_cast<RestorePlan*>(region);
  memset(plan, 0, sizeof(*plan));
  plan->region_begin = region;
  plan->region_end = region + size;
  plan->pages_fd = pages_fd;
  plan->helper_fd = helper_fd;

  for (const Range& range : own) {
    if (IsKernelArea(range.name)) continue;
    if (range.begin >= region && range.end <= region + size) continue;
    if (plan->unmap_count == kPlanMaxUnmaps) {
      return absl::ResourceExhaustedError("too many mappings in the tool");
    }
    plan->unmap[plan->unmap_count++] = {range.begin, range.end};
  }
  for (const Range& range : own) {
    if (!IsKernelArea(range.name) || range.name == "[vsyscall]") continue;
    for (const MappingImage& m : image.mappings) {
      if (m.name == range.name) {
        if (m.end - m.begin != range.end - range.begin) {
          return absl::FailedPreconditionError(
              absl::StrCat(m.name, " has another size on this kernel"));
        }
        plan->moves[plan->move_count++] = {range.begin, m.begin,
                                           range.end - range.begin};
      }
    }
  }

  uint64_t cursor = RoundUp(sizeof(RestorePlan));
  auto allocate = [&](uint64_t bytes) {
    uint64_t at = cursor;
    cursor = (cursor + bytes + 63) & ~63ULL;
    return at;
  };
  std::vector<const MappingImage*> restored;
  for (const MappingImage& m : image.mappings) {
    if (!IsKernelArea(m.name)) restored.push_back(&m);
  }
  plan->mapping_count = static_cast<uint32_t>(restored.size());
  plan->mappings_at = allocate(sizeof(PlanMapping) * restored.size());
  size_t run_total = 0;
  for (const MappingImage* m : restored) {
    for (const PageRun& run : m->runs) run_total += PiecesOf(run);
  }
  plan->run_count = static_cast<uint32_t>(run_total);
  plan->runs_at = allocate(sizeof(PlanRun) * run_total);
  plan->file_count = static_cast<uint32_t>(image.files.size());
  plan->files_at = allocate(sizeof(PlanFile) * image.files.size());
  plan->thread_count = static_cast<uint32_t>(image.threads.size());
  plan->threads_at = allocate(sizeof(PlanThread) * image.threads.size());

  auto* mappings = reinterpret_cast<PlanMapping*>(region + plan->mappings_at);
  auto* runs = reinterpret_cast<PlanRun*>(region + plan->runs_at);
  std::map<uint64_t, int> groups;  // inode -> group
  uint32_t next_run = 0;
  uint64_t pages_total = 0;
  for (size_t i = 0; i < restored.size(); ++i) {
    const MappingImage& m = *restored[i];
    PlanMapping& p = mappings[i];
    p.begin = m.begin;
    p.end = m.end;
    p.file_offset = m.file_offset;
    p.noreserve = m.noreserve ? 1 : 0;
    p.prot = (m.perms[0] == 'r' ? PROT_READ : 0) |
             (m.perms[1] == 'w' ? PROT_WRITE : 0) |
             (m.perms[2] == 'x' ? PROT_EXEC : 0);
    bool shared = m.perms[3] == 's';
    bool real_file =
        absl::StartsWith(m.name, "/") && !absl::EndsWith(m.name, " (deleted)");
    if (shared && real_file && !absl::StartsWith(m.name, "/dev/zero") &&
        !absl::StartsWith(m.name, "/SYSV")) {
      p.kind = kPlanFileShared;
      p.writable_file = m.perms[1] == 'w';
    } else if (shared) {
      p.kind = kPlanSharedGroup;
      auto [it, added] =
          groups.emplace(m.inode, static_cast<int>(groups.size()));
      p.group = it->second;
      if (p.group >= kPlanMaxGroups) {
        return absl::ResourceExhaustedError("too many shared memory objects");
      }
      plan->group_size[p.group] = std::max<uint64_t>(
          plan->group_size[p.group], m.file_offset + (m.end - m.begin));
      // A memfd keeps its name; System V and /dev/zero memory become a
      // memfd named after the kind of object they were.
      std::string name = "shm";
      if (absl::StartsWith(m.name, "/memfd:")) {
        name = m.name.substr(strlen("/memfd:"));
        if (absl::EndsWith(name, " (deleted)")) {
          name.resize(name.size() - strlen(" (deleted)"));
        }
      }
      name.resize(std::min<size_t>(name.size(), kPlanGroupNameMax - 1));
      strcpy(plan->group_name[p.group], name.c_str());
    } else if (real_file) {
      p.kind = kPlanFilePrivate;
      // Its pages that were never written come from the file again: it
      // must be the file that was mapped.
      struct stat st;
      if (m.file_mtime_ns != 0 &&
          (stat(m.name.c_str(), &st) != 0 || st.st_size != m.file_size ||
           st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec !=
               m.file_mtime_ns)) {
        return absl::FailedPreconditionError(absl::StrCat(
            m.name, " has changed since the checkpoint (or is gone)"));
      }
    } else {
      p.kind = kPlanAnonymous;
    }
    if (m.name.size() >= kPlanPathMax) {
      return absl::FailedPreconditionError(
          absl::StrCat("path too long: ", m.name));
    }
    strcpy(p.path, m.name.c_str());
    p.first_run = next_run;
    for (const PageRun& run : m.runs) {
      if (run.pages_offset + run.count * 4096 >
          reader.SizeOf(kPageFiles[run.file])) {
        return absl::DataLossError(absl::StrCat(
            "a run of pages lies beyond the end of ", kPageFiles[run.file]));
      }
      for (uint64_t done = 0; done < run.count; done += kRunPiecePages) {
        uint64_t count = std::min(kRunPiecePages, run.count - done);
        runs[next_run++] = {run.begin + done * 4096, count,
                            run.pages_offset + done * 4096, run.file, 0};
      }
      pages_total += run.count;
    }
    p.run_count = next_run - p.first_run;
  }
  plan->group_count = static_cast<int32_t>(groups.size());
  // The restorer takes the first runs up to about half of the pages, the
  // tool the rest.
  plan->restorer_runs = next_run;
  if (helper_fd >= 0) {
    uint64_t pages = 0;
    for (uint32_t r = 0; r < next_run; ++r) {
      if (2 * pages >= pages_total) {
        plan->restorer_runs = r;
        break;
      }
      pages += runs[r].count;
    }
  }

  auto* files = reinterpret_cast<PlanFile*>(region + plan->files_at);
  std::map<std::string, int> pipes;
  for (size_t i = 0; i < image.files.size(); ++i) {
    const FileImage& f = image.files[i];
    PlanFile& p = files[i];
    p.fd = f.fd;
    p.flags = f.flags;
    p.position = f.position;
    p.same_as = f.shares_with;
    if (f.path.size() >= kPlanPathMax) {
      return absl::FailedPreconditionError(
          absl::StrCat("path too long: ", f.path));
    }
    strcpy(p.path, f.path.c_str());
    if (f.kind == "pipe") {
      p.kind = kPlanPipe;
      auto [it, added] = pipes.emplace(f.path, static_cast<int>(pipes.size()));
      p.pipe = it->second;
      p.pipe_end = (f.flags & O_ACCMODE) == O_WRONLY ? 1 : 0;
      if (!f.pipe_data_file.empty()) {
        absl::StatusOr<std::string> data = reader.ReadFile(f.pipe_data_file);
        if (!data.ok()) return data.status();
        p.data_at = allocate(data->size());
        p.data_size = data->size();
        memcpy(reinterpret_cast<void*>(region + p.data_at), data->data(),
               data->size());
      }
    } else {
      p.kind = kPlanRegular;
    }
  }
  if (pipes.size() > kPlanMaxPipes) {
    return absl::ResourceExhaustedError("too many pipes");
  }
  plan->pipe_count = static_cast<int32_t>(pipes.size());

  auto* threads = reinterpret_cast<PlanThread*>(region + plan->threads_at);
  for (size_t i = 0; i < image.threads.size(); ++i) {
    threads[i].tid = image.threads[i].tid;
    threads[i].stack_top = region + allocate(kThreadStack) + kThreadStack;
  }
  if (image.cwd.size() >= kPlanPathMax || image.exe.size() >= kPlanPathMax) {
    return absl::FailedPreconditionError("path too long");
  }
  strcpy(plan->cwd, image.cwd.c_str());
  strcpy(plan->exe, image.exe.c_str());
  plan->umask = image.umask;
  plan->rlimit_count =
      static_cast<uint32_t>(std::min<size_t>(image.rlimits.size(), 16));
  for (uint32_t r = 0; r < plan->rlimit_count; ++r) {
    plan->rlimits[r][0] = image.rlimits[r].current;
    plan->rlimits[r][1] = image.rlimits[r].maximum;
  }
  const MmLayout& mm = image.mm;
  plan->mm = {mm.start_code, mm.end_code,  mm.start_data,  mm.end_data,
              mm.start_brk,  mm.brk,       mm.start_stack, mm.arg_start,
              mm.arg_end,    mm.env_start, mm.env_end};
  plan->auxv_size = static_cast<uint32_t>(
      std::min<size_t>(image.auxv.size(), sizeof(plan->auxv)));
  memcpy(plan->auxv, image.auxv.data(), plan->auxv_size);

  *scratch = region + allocate(kScratch);
  uint64_t code_size =
      static_cast<uint64_t>(__stop_sandbox_restorer - __start_sandbox_restorer);
  uint64_t code = region + allocate(code_size);
  memcpy(reinterpret_cast<void*>(code), __start_sandbox_restorer, code_size);
  *entry = code + static_cast<uint64_t>(
                      reinterpret_cast<const char*>(&sandbox_restorer_main) -
                      __start_sandbox_restorer);
  *gadget = code + static_cast<uint64_t>(sandbox_restorer_syscall -
                                         __start_sandbox_restorer);
  *stack_top = region + allocate(kMainStack) + kMainStack - 64;
  if (cursor > size) return absl::InternalError("restore plan overflows");
  return absl::OkStatus();
}

// Blocks every signal in every thread until its own mask is set, so that
// none, from a restored timer or a queued signal, is delivered into the
// restorer or meets an injection.
absl::Status BlockAllSignals(const ProcessImage& image) {
  uint64_t all = ~0ULL;
  for (const ThreadImage& thread : image.threads) {
    long result = Ptrace(PTRACE_SETSIGMASK, thread.tid, sizeof(all), &all);
    if (result < 0) {
      return absl::InternalError(absl::StrCat(
          "PTRACE_SETSIGMASK of thread ", thread.tid, ": ", strerror(-result)));
    }
  }
  return absl::OkStatus();
}

// Queues the signals that were pending at the checkpoint again, each by
// a thread of the process itself, since only a signal a process queues
// for itself may carry the kernel's own codes (a SUD dispatch, a fault).
// Call with every signal blocked in every thread (BlockAllSignals).
absl::Status QueuePendingSignals(const ProcessImage& image, pid_t main_tid,
                                 uint64_t gadget, uint64_t scratch) {
  bool has_leader = false;
  for (const ThreadImage& thread : image.threads) {
    has_leader |= thread.tid == image.pid;
  }
  for (const PendingSignal& pending : image.pending) {
    siginfo_t info;
    memcpy(&info, pending.siginfo.data(), sizeof(info));
    absl::Status status =
        WriteChild(main_tid, scratch, pending.siginfo.data(), sizeof(info));
    if (!status.ok()) return status;
    absl::StatusOr<long> result;
    if (pending.tid == 0 && has_leader) {
      // For the whole process, queued by its leader.
      result = Inject(image.pid, gadget, SYS_rt_sigqueueinfo,
                      {static_cast<uint64_t>(image.pid),
                       static_cast<uint64_t>(info.si_signo), scratch});
    } else {
      // For one thread, queued by that thread (a process-wide signal of a
      // process whose leader is gone goes to its first thread).
      pid_t tid = pending.tid != 0 ? pending.tid : image.threads.front().tid;
      result =
          Inject(tid, gadget, SYS_rt_tgsigqueueinfo,
                 {static_cast<uint64_t>(image.pid), static_cast<uint64_t>(tid),
                  static_cast<uint64_t>(info.si_signo), scratch});
    }
    if (!result.ok()) return result.status();
    if (*result != 0) {
      return absl::InternalError(
          absl::StrCat("queueing pending signal ", info.si_signo, ": ",
                       strerror(static_cast<int>(-*result))));
    }
  }
  return absl::OkStatus();
}

// Fails unless a pid file can be made at `path`: its directory exists and
// is writable, and the path is not a directory.
absl::Status CheckPidFilePath(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "."
                    : slash == 0               ? "/"
                                               : path.substr(0, slash);
  struct stat st;
  if (access(dir.c_str(), W_OK | X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", path, ": ", strerror(errno)));
  }
  if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", path, ": ", strerror(EISDIR)));
  }
  return absl::OkStatus();
}

// Writes "PID\n" to `path`, replacing what was there.
absl::Status WritePidFile(const std::string& path, pid_t pid) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot write ", path, ": ", strerror(errno)));
  }
  std::string text = absl::StrCat(pid, "\n");
  bool written =
      write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  int error = errno;
  close(fd);
  if (!written) {
    return absl::InternalError(
        absl::StrCat("cannot write ", path, ": ", strerror(error)));
  }
  return absl::OkStatus();
}

uint64_t RegionSize(const ProcessImage& image) {
  uint64_t bytes = sizeof(RestorePlan) + kMainStack + kScratch + (1 << 20);
  bytes += image.mappings.size() * sizeof(PlanMapping);
  for (const MappingImage& m : image.mappings) {
    for (const PageRun& run : m.runs) bytes += PiecesOf(run) * sizeof(PlanRun);
  }
  bytes += image.files.size() * (sizeof(PlanFile) + (1 << 16));
  bytes += image.threads.size() * (sizeof(PlanThread) + kThreadStack);
  return RoundUp(bytes + 64 * 64);
}

// The registers a thread resumes with: a syscall that the checkpoint
// interrupted runs again, rather than returning the kernel's internal
// restart codes.
user_regs_struct ResumeRegisters(const ThreadImage& thread) {
  user_regs_struct regs = thread.regs;
  int64_t result = static_cast<int64_t>(regs.rax);
  if (static_cast<int64_t>(regs.orig_rax) >= 0 &&
      (result == -kernel::kErestartSys || result == -kernel::kErestartNoIntr ||
       result == -kernel::kErestartNoHand ||
       result == -kernel::kErestartRestartBlock)) {
    regs.rax = regs.orig_rax;
    regs.rip -= 2;
  }
  regs.orig_rax = static_cast<uint64_t>(-1);
  return regs;
}

// The name of the plan's mapping `index`: the plan leaves out the kernel's
// own areas, which the image lists among its mappings.
std::string PlanMappingName(const ProcessImage& image, int index) {
  for (const MappingImage& m : image.mappings) {
    if (IsKernelArea(m.name)) continue;
    if (index-- == 0) return m.name;
  }
  return "";
}

const char* StepName(int step) {
  static const char* kSteps[] = {"",
                                 "unmapping the tool",
                                 "moving the vDSO",
                                 "shared memory",
                                 "opening a mapped file",
                                 "mapping memory",
                                 "reading pages",
                                 "protecting memory",
                                 "making pipes",
                                 "opening a file",
                                 "seeking a file",
                                 "setting file flags",
                                 "placing a descriptor",
                                 "refilling a pipe",
                                 "changing directory",
                                 "setting limits",
                                 "setting the mm layout",
                                 "creating a thread"};
  return step > 0 && step < 18 ? kSteps[step] : "an unknown step";
}

}  // namespace

absl::StatusOr<int> Restore(const RestoreOptions& options) {
  // A pid file that could not be written fails the restore before
  // anything is created; it is written only once the process runs, and an
  // existing file is left alone until then.
  if (!options.pid_file.empty()) {
    absl::Status writable = CheckPidFilePath(options.pid_file);
    if (!writable.ok()) return writable;
  }
  absl::StatusOr<ImageReader> reader = ImageReader::Open(options.image_dir);
  if (!reader.ok()) return reader.status();
  absl::StatusOr<std::string> text = reader->ReadFile("process.img");
  if (!text.ok()) return text.status();
  absl::StatusOr<ProcessImage> decoded = Decode(*text);
  if (!decoded.ok()) return decoded.status();
  const ProcessImage& image = *decoded;

  for (const ThreadImage& thread : image.threads) {
    if (IdInUse(thread.tid)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "id ", thread.tid, " is in use; the process cannot get it back"));
    }
  }

  // A region that neither the image nor this tool uses, for the plan and
  // the restorer.
  uint64_t size = RegionSize(image);
  std::vector<Range> image_ranges;
  for (const MappingImage& m : image.mappings) {
    image_ranges.push_back({m.begin, m.end, m.name});
  }
  uint64_t region = 0;
  for (uint64_t candidate = 0x100000000ULL; candidate < 0x7f0000000000ULL;
       candidate += 0x40000000ULL) {
    if (Overlaps(candidate, candidate + size, image_ranges)) continue;
    void* mapped =
        mmap(reinterpret_cast<void*>(candidate), size,
             PROT_READ | PROT_WRITE | PROT_EXEC,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (mapped != MAP_FAILED) {
      region = candidate;
      break;
    }
  }
  if (region == 0) return absl::ResourceExhaustedError("no room to restore");

  // The pipes between the restorer and the page filler, made first so
  // that the numbers chosen below are free of them. mapped: restorer to
  // filler; filled: filler to restorer.
  int mapped[2], filled[2];
  if (pipe2(mapped, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  }
  if (pipe2(filled, O_CLOEXEC) != 0) {
    int error = errno;
    close(mapped[0]);
    close(mapped[1]);
    return absl::InternalError(absl::StrCat("pipe: ", strerror(error)));
  }
  int highest = 2;
  for (const FileImage& f : image.files) highest = std::max(highest, f.fd);
  // The page files, then the restorer's ends of the two pipes it shares
  // with the page filler, go to consecutive descriptors above every number
  // the image uses, none of them the tool's own.
  static_assert(kPlanPageFiles == kPageFileCount);
  constexpr int kChildFds = kPageFileCount + 2;
  int pages_fd = highest + 1;
  auto taken = [](int fd) { return fcntl(fd, F_GETFD) >= 0; };
  for (int i = 0; i < kChildFds; ++i) {
    if (taken(pages_fd + i)) {
      pages_fd += i + 1;
      i = -1;
    }
  }
  const int helper_fd = pages_fd + kPageFileCount;
  // Each end the restorer keeps moves to its number.
  auto place = [](int fd, int wanted) {
    bool placed = dup3(fd, wanted, O_CLOEXEC) >= 0;
    close(fd);
    return placed;
  };
  bool placed = place(mapped[1], helper_fd);
  placed = place(filled[0], helper_fd + 1) && placed;
  auto close_filler_ends = [&]() {
    close(mapped[0]);
    close(filled[1]);
  };
  if (!placed) {
    close(helper_fd);
    close(helper_fd + 1);
    close_filler_ends();
    return absl::InternalError(absl::StrCat(
        "cannot place the page filler's pipes: ", strerror(errno)));
  }
  for (int i = 0; i < kPageFileCount; ++i) {
    int opened =
        open(reader->PathOf(kPageFiles[i]).c_str(), O_RDONLY | O_CLOEXEC);
    // The lowest free number may be the one wanted already.
    bool placed = opened == pages_fd + i ||
                  (opened >= 0 && dup3(opened, pages_fd + i, O_CLOEXEC) >= 0);
    int error = errno;
    if (opened >= 0 && opened != pages_fd + i) close(opened);
    if (!placed) {
      for (int j = 0; j < i; ++j) close(pages_fd + j);
      close(helper_fd);
      close(helper_fd + 1);
      close_filler_ends();
      return absl::DataLossError(
          absl::StrCat("cannot open ", kPageFiles[i], ": ", strerror(error)));
    }
  }
  // Closes the tool's copies of what the new process inherits.
  auto close_pages = [&]() {
    for (int i = 0; i < kChildFds; ++i) close(pages_fd + i);
  };

  uint64_t entry = 0, stack_top = 0, gadget = 0, scratch = 0;
  absl::Status status =
      BuildPlan(image, *reader, region, size, OwnMappings(), pages_fd,
                helper_fd, &entry, &stack_top, &gadget, &scratch);
  if (!status.ok()) {
    close_pages();
    close_filler_ends();
    return status;
  }
  // The filler's share, taken before the plan's region goes.
  const auto* plan = reinterpret_cast<const RestorePlan*>(region);
  const auto* plan_runs =
      reinterpret_cast<const PlanRun*>(region + plan->runs_at);
  std::vector<PlanRun> filler_runs(plan_runs + plan->restorer_runs,
                                   plan_runs + plan->run_count);
  std::vector<std::string> page_paths;
  for (const char* name : kPageFiles)
    page_paths.push_back(reader->PathOf(name));

  int sync[2];
  if (pipe2(sync, O_CLOEXEC) != 0) {
    int error = errno;
    close_pages();
    close_filler_ends();
    return absl::InternalError(absl::StrCat("pipe: ", strerror(error)));
  }
  pid_t wanted = image.pid;
  struct clone_args args = {};
  args.exit_signal = SIGCHLD;
  args.set_tid = reinterpret_cast<uint64_t>(&wanted);
  args.set_tid_size = 1;
  fflush(nullptr);
  Child child;
  child.pid_ = static_cast<pid_t>(syscall(SYS_clone3, &args, sizeof(args)));
  if (child.pid_ == 0) {
    // The child: wait until the tool traces it, then hand over to the
    // restorer on its own stack. Async-signal-safe calls only.
    char go;
    close(sync[1]);
    close(mapped[0]);
    close(filled[1]);
    if (read(sync[0], &go, 1) != 1) _exit(125);
    // The tool's rseq area is about to be unmapped; the kernel would fault
    // the thread at its next update of it.
    if (__rseq_size > 0) {
      // glibc registers the whole 32-byte area but may report only the
      // size of the features it uses: try both.
      char* area =
          static_cast<char*>(__builtin_thread_pointer()) + __rseq_offset;
      if (syscall(SYS_rseq, area, __rseq_size, 1 /* RSEQ_FLAG_UNREGISTER */,
                  0x53053053) != 0) {
        syscall(SYS_rseq, area, 32, 1, 0x53053053);
      }
    }
    asm volatile(
        "movq %0, %%rsp\n\t"
        "movq %1, %%rdi\n\t"
        "callq *%2\n\t"
        "ud2"
        :
        : "r"(stack_top), "r"(region), "r"(entry)
        : "memory");
    __builtin_unreachable();
  }
  int clone_error = errno;
  close(sync[0]);
  close_pages();
  if (child.pid_ < 0) {
    close(sync[1]);
    close_filler_ends();
    return absl::UnavailableError(
        absl::StrCat("clone3 with id ", wanted, ": ", strerror(clone_error)));
  }
  PageFiller filler(&child);
  filler.Start(child.pid_, std::move(filler_runs), std::move(page_paths),
               mapped[0], filled[1]);
  munmap(reinterpret_cast<void*>(region), size);
  long seized =
      Ptrace(PTRACE_SEIZE, child.pid_, 0,
             reinterpret_cast<void*>(PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL |
                                     PTRACE_O_TRACESYSGOOD));
  if (write(sync[1], "g", 1) != 1 || seized < 0) {
    close(sync[1]);
    return absl::InternalError("cannot trace the new process");
  }
  close(sync[1]);

  // Every thread ends the restorer on an int3; the tool waits for all.
  std::set<pid_t> ready;
  while (ready.size() < image.threads.size()) {
    int wait_status;
    pid_t tid = waitpid(-1, &wait_status, __WALL);
    if (tid < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError("lost the new process");
    }
    if (!WIFSTOPPED(wait_status)) {
      return absl::InternalError(
          absl::StrCat("the new process ended while being restored (status ",
                       wait_status, ")"));
    }
    int event = wait_status >> 16;
    if (event == PTRACE_EVENT_CLONE || event == PTRACE_EVENT_STOP) {
      Ptrace(PTRACE_CONT, tid, 0, nullptr);
      continue;
    }
    if (WSTOPSIG(wait_status) != SIGTRAP) {
      // A fault in the restorer (or anything else it did not ask for)
      // ends the restore.
      user_regs_struct regs = {};
      Ptrace(PTRACE_GETREGS, tid, 0, &regs);
      return absl::InternalError(
          absl::StrCat("the new process got signal ", WSTOPSIG(wait_status),
                       " while being restored, at ", absl::Hex(regs.rip)));
    }
    if (tid == child.pid_) {
      RestorePlan failure;
      struct iovec local = {&failure, sizeof(failure)};
      struct iovec remote = {reinterpret_cast<void*>(region), sizeof(failure)};
      if (process_vm_readv(tid, &local, 1, &remote, 1, 0) == sizeof(failure) &&
          failure.failed_step != 0) {
        // Which mapping, file or thread the failed step was at.
        std::string what;
        int item = failure.failed_item;
        if (failure.failed_step == 4 && item >= 0 &&
            static_cast<size_t>(item) < image.mappings.size()) {
          what = absl::StrCat(" ", PlanMappingName(image, item));
        } else if (failure.failed_step == 9 && item >= 0 &&
                   static_cast<size_t>(item) < image.files.size()) {
          what = absl::StrCat(" ", image.files[item].path);
        } else if (failure.failed_step == 17 && item >= 0 &&
                   static_cast<size_t>(item) < image.threads.size()) {
          what = absl::StrCat(" with id ", image.threads[item].tid);
        }
        return absl::InternalError(
            absl::StrCat("restoring failed at ", StepName(failure.failed_step),
                         what, ": ", strerror(failure.failed_errno)));
      }
    }
    ready.insert(tid);
  }
  filler.Join();

  // Signal state, through syscalls in the new process.
  pid_t main_tid = child.pid_;
  for (const SignalAction& sa : image.sigactions) {
    if (sa.action.handler == SIG_DFL && sa.action.flags == 0 &&
        sa.action.mask == 0) {
      continue;
    }
    status = WriteChild(main_tid, scratch, &sa.action, sizeof(sa.action));
    if (!status.ok()) return status;
    absl::StatusOr<long> result =
        Inject(main_tid, gadget, SYS_rt_sigaction,
               {static_cast<uint64_t>(sa.signo), scratch, 0, 8});
    if (!result.ok()) return result.status();
    if (*result != 0) {
      return absl::InternalError(
          absl::StrCat("restoring the action of signal ", sa.signo, ": ",
                       strerror(static_cast<int>(-*result))));
    }
  }
  for (const ThreadImage& thread : image.threads) {
    if (!(thread.altstack.ss_flags & SS_DISABLE)) {
      status = WriteChild(main_tid, scratch, &thread.altstack,
                          sizeof(thread.altstack));
      if (!status.ok()) return status;
      absl::StatusOr<long> result =
          Inject(thread.tid, gadget, SYS_sigaltstack, {scratch, 0});
      if (!result.ok()) return result.status();
    }
    // Per-thread kernel state that glibc relies on: where to clear the
    // thread id at exit (pthread_join waits on it) and the robust futex
    // list.
    if (thread.clear_child_tid != 0) {
      absl::StatusOr<long> result = Inject(
          thread.tid, gadget, SYS_set_tid_address, {thread.clear_child_tid});
      if (!result.ok()) return result.status();
    }
    if (thread.robust_list != 0) {
      absl::StatusOr<long> result =
          Inject(thread.tid, gadget, SYS_set_robust_list,
                 {thread.robust_list, thread.robust_list_length});
      if (!result.ok()) return result.status();
    }
    // The thread's name, which only the thread itself may set.
    if (!thread.name.empty()) {
      char name[16] = {};
      strncpy(name, thread.name.c_str(), sizeof(name) - 1);
      status = WriteChild(main_tid, scratch, name, sizeof(name));
      if (!status.ok()) return status;
      absl::StatusOr<long> result =
          Inject(thread.tid, gadget, SYS_prctl, {PR_SET_NAME, scratch});
      if (!result.ok()) return result.status();
    }
    if (thread.rseq.address != 0) {
      // The kernel's rseq registration is not in memory: the thread makes
      // it again.
      absl::StatusOr<long> result = Inject(
          thread.tid, gadget, SYS_rseq,
          {thread.rseq.address, thread.rseq.length, 0, thread.rseq.signature});
      if (!result.ok()) return result.status();
      if (*result != 0) {
        return absl::InternalError(
            absl::StrCat("rseq registration of thread ", thread.tid, ": ",
                         strerror(static_cast<int>(-*result))));
      }
    }
  }
  status = BlockAllSignals(image);
  if (!status.ok()) return status;
  // Interval timers go on from where they were.
  for (const ItimerImage& timer : image.itimers) {
    status = WriteChild(main_tid, scratch, &timer.value, sizeof(timer.value));
    if (!status.ok()) return status;
    absl::StatusOr<long> result =
        Inject(main_tid, gadget, SYS_setitimer,
               {static_cast<uint64_t>(timer.which), scratch, 0});
    if (!result.ok()) return result.status();
    if (*result != 0) {
      return absl::InternalError(
          absl::StrCat("restoring interval timer ", timer.which, ": ",
                       strerror(static_cast<int>(-*result))));
    }
  }
  status = QueuePendingSignals(image, main_tid, gadget, scratch);
  if (!status.ok()) return status;

  // The restorer's region goes last; the step after the munmap stops
  // before fetching from it.
  absl::StatusOr<long> unmapped =
      Inject(main_tid, gadget, SYS_munmap, {region, size});
  if (!unmapped.ok()) return unmapped.status();

  // Registers, extended state and masks; then, last before each thread
  // runs again, its SUD configuration.
  for (const ThreadImage& thread : image.threads) {
    user_regs_struct regs = ResumeRegisters(thread);
    std::string xstate = thread.xstate;
    struct iovec io = {xstate.data(), xstate.size()};
    uint64_t mask = thread.sigmask;
    long result;
    if ((result = Ptrace(PTRACE_SETREGS, thread.tid, 0, &regs)) < 0 ||
        (!xstate.empty() && (result = Ptrace(PTRACE_SETREGSET, thread.tid,
                                             NT_X86_XSTATE, &io)) < 0) ||
        (result = Ptrace(PTRACE_SETSIGMASK, thread.tid, sizeof(mask), &mask)) <
            0) {
      return absl::InternalError(absl::StrCat(
          "setting the state of thread ", thread.tid, ": ", strerror(-result)));
    }
    if (thread.sud.mode != kernel::kSudOff) {
      kernel::PtraceSudConfig sud = thread.sud;
      result =
          Ptrace(kernel::kPtraceSetSudConfig, thread.tid, sizeof(sud), &sud);
      if (result < 0) {
        return absl::InternalError(
            absl::StrCat("setting the SUD configuration of thread ", thread.tid,
                         ": ", strerror(-result)));
      }
    }
  }
  if (!options.pid_file.empty()) {
    absl::Status written = WritePidFile(options.pid_file, child.pid_);
    if (!written.ok()) return written;
  }
  for (const ThreadImage& thread : image.threads) {
    Ptrace(PTRACE_DETACH, thread.tid, 0, nullptr);
  }
  pid_t pid = child.Release();
  if (options.detach) return 0;
  PassSignalsOnTo(pid);
  int wait_status;
  while (waitpid(pid, &wait_status, 0) < 0) {
    if (errno != EINTR) return absl::InternalError("lost the process");
  }
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  return 128 + WTERMSIG(wait_status);
}

}  // namespace sandbox::ckpt
