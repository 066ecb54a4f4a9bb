// The parts of a dump that read the process from outside, through /proc.
#ifndef SANDBOX_CKPT_CAPTURE_H_
#define SANDBOX_CKPT_CAPTURE_H_

#include <sys/types.h>

#include "absl/status/status.h"
#include "sandbox/ckpt/image_dir.h"
#include "sandbox/ckpt/image_format.h"

namespace sandbox::ckpt {

// Records the open descriptors of the frozen process `pid`. Regular files,
// the character devices that hold no state (/dev/null, /dev/zero,
// /dev/urandom, /dev/random) and pipes whose both ends the process holds
// are supported; anything else fails with FailedPrecondition naming the
// descriptor and what it is. A pipe's unread bytes are saved without
// taking them out of the pipe.
absl::Status CaptureFiles(pid_t pid, ProcessImage* image, ImageWriter* writer);

// Records every mapping of the frozen process `pid` and streams the
// contents of those that a restore must rebuild into the page files.
absl::Status CaptureMemory(pid_t pid, ProcessImage* image, ImageWriter* writer);

}  // namespace sandbox::ckpt

#endif  // SANDBOX_CKPT_CAPTURE_H_
