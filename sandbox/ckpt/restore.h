// Recreating a process from a checkpoint image.
#ifndef SANDBOX_CKPT_RESTORE_H_
#define SANDBOX_CKPT_RESTORE_H_

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"

namespace sandbox::ckpt {

struct RestoreOptions {
  std::string image_dir;
  bool detach = false;   // -d: exit once the process runs
  std::string pid_file;  // --pidfile: where to write the restored id
};

// Verifies the image, recreates the process with its ids, memory,
// descriptors, threads and signal state, sets every thread's SUD
// configuration last, and lets it run. Returns the exit status the tool
// should end with: 0 when detaching, else the process's own (128+N when
// signal N ended it). On failure no process is left behind.
absl::StatusOr<int> Restore(const RestoreOptions& options);

}  // namespace sandbox::ckpt

#endif  // SANDBOX_CKPT_RESTORE_H_
