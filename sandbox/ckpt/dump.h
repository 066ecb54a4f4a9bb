// Writing a checkpoint image of a running process.
#ifndef SANDBOX_CKPT_DUMP_H_
#define SANDBOX_CKPT_DUMP_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"

namespace sandbox::ckpt {

struct DumpOptions {
  pid_t pid = 0;
  std::string image_dir;
  // Let the process run on after the dump; otherwise it is ended once the
  // image is complete and verified.
  bool leave_running = false;
};

// Freezes the process, writes its image and verifies it, then thaws or
// ends the process. On failure nothing of the image is kept and the
// process runs on exactly as it was (its registers, signal masks and SUD
// configurations put back). SIGINT, SIGTERM and SIGHUP sent to the tool
// are held until the process is thawed, then end the dump the same way.
absl::Status Dump(const DumpOptions& options);

// The signal (SIGINT, SIGTERM or SIGHUP) that ended a Dump, still held
// for the caller to report, or 0.
int SignalThatEndedDump();

}  // namespace sandbox::ckpt

#endif  // SANDBOX_CKPT_DUMP_H_
