#include "sandbox/ckpt/kernel_features.h"

#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "sandbox/ckpt/ptrace_util.h"
#include "sandbox/common/kernel_abi.h"

namespace sandbox::ckpt {
namespace {

// A selector byte and an allowed range for the probe child's SUD; the
// child never makes a syscall while the selector blocks.
volatile char g_probe_selector = kernel::kSelectorAllow;

// A child that arms SUD on itself and stops, for the tracer to look at.
// Runs between fork and _exit: raw syscalls only.
[[noreturn]] void ProbeChild() {
  syscall(SYS_prctl, kernel::kPrSetSyscallUserDispatch, kernel::kSudOn,
          0x1000UL, 0x1000UL, &g_probe_selector);
  raise(SIGSTOP);
  _exit(0);
}

struct Probe {
  pid_t pid = -1;
  ~Probe() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, __WALL);
    }
  }
};

}  // namespace

std::vector<FeatureCheck> ProbeKernelFeatures() {
  std::vector<FeatureCheck> checks;
  auto add = [&checks](std::string name, bool present, std::string detail,
                       bool required = true) {
    checks.push_back({std::move(name), present, std::move(detail), required});
  };

  Probe probe;
  probe.pid = fork();
  if (probe.pid == 0) ProbeChild();
  if (probe.pid < 0) {
    add("probe process", false, absl::StrCat("fork: ", strerror(errno)));
    return checks;
  }
  // The child stops itself; wait for that before attaching.
  int status = 0;
  waitpid(probe.pid, &status, WUNTRACED);
  bool stopped = WIFSTOPPED(status);
  long seized = Ptrace(PTRACE_SEIZE, probe.pid, 0, nullptr);
  add("PTRACE_SEIZE", stopped && seized == 0,
      seized == 0 ? "attached to a probe child"
                  : absl::StrCat("PTRACE_SEIZE: ", strerror(-seized)));
  if (seized != 0) return checks;
  Ptrace(PTRACE_INTERRUPT, probe.pid, 0, nullptr);
  kill(probe.pid, SIGCONT);
  waitpid(probe.pid, &status, __WALL);

  kernel::PtraceSudConfig config = {};
  long got =
      Ptrace(kernel::kPtraceGetSudConfig, probe.pid, sizeof(config), &config);
  bool sud_armed =
      got == 0 && config.mode == kernel::kSudOn &&
      config.selector == reinterpret_cast<uint64_t>(&g_probe_selector);
  add("Syscall User Dispatch", sud_armed,
      sud_armed ? "a probe child armed it"
                : "prctl(PR_SET_SYSCALL_USER_DISPATCH) did not take effect "
                  "(kernel built without it, or disabled)");
  long set = got == 0 ? Ptrace(kernel::kPtraceSetSudConfig, probe.pid,
                               sizeof(config), &config)
                      : got;
  add("ptrace SUD config (Linux 6.4)", got == 0 && set == 0,
      got != 0   ? absl::StrCat("PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG: ",
                                strerror(-got))
      : set != 0 ? absl::StrCat("PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG: ",
                                strerror(-set))
                 : "read and set back a probe child's configuration");

  struct {
    uint64_t rseq_abi_pointer;
    uint32_t rseq_abi_size;
    uint32_t signature;
    uint32_t flags;
    uint32_t pad;
  } rseq = {};
  long rseq_result = Ptrace(kernel::kPtraceGetRseqConfiguration, probe.pid,
                            sizeof(rseq), &rseq);
  add("ptrace rseq configuration (Linux 5.13)", rseq_result >= 0,
      rseq_result >= 0 ? "read a probe child's registration"
                       : absl::StrCat("PTRACE_GET_RSEQ_CONFIGURATION: ",
                                      strerror(-rseq_result)));

  uint64_t word = 0;
  struct iovec local = {&word, sizeof(word)};
  struct iovec remote = {const_cast<char*>(&g_probe_selector), 1};
  long copied = process_vm_readv(probe.pid, &local, 1, &remote, 1, 0);
  add("process_vm_readv", copied == 1,
      copied == 1 ? "read a probe child's memory"
                  : absl::StrCat("process_vm_readv: ", strerror(errno)));

  // Restoring the same process and thread ids needs clone3's set_tid,
  // which needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE.
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct caps[2] = {};
  bool capable = false;
  if (syscall(SYS_capget, &header, caps) == 0) {
    auto has = [&caps](int cap) {
      return (caps[cap / 32].effective >> (cap % 32)) & 1;
    };
    capable = has(CAP_SYS_ADMIN) || has(40 /* CAP_CHECKPOINT_RESTORE */);
  }
  add("clone3 set_tid (same ids at restore)", capable,
      capable ? "this process has CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE"
              : "needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE (run as root)");
  return checks;
}

}  // namespace sandbox::ckpt
