// The kernel features sandbox-ckpt relies on, probed on the running system.
#ifndef SANDBOX_CKPT_KERNEL_FEATURES_H_
#define SANDBOX_CKPT_KERNEL_FEATURES_H_

#include <string>
#include <vector>

namespace sandbox::ckpt {

// One probed feature.
struct FeatureCheck {
  std::string name;  // e.g. "ptrace SUD config (Linux 6.4)"
  bool present = false;
  std::string detail;    // what is missing, or how it was checked
  bool required = true;  // false: dump and restore work without it
};

// Probes every feature in a short-lived child process, so the caller's
// process is never changed. Never fails: a probe that cannot run reports
// the feature as missing with the reason.
std::vector<FeatureCheck> ProbeKernelFeatures();

}  // namespace sandbox::ckpt

#endif  // SANDBOX_CKPT_KERNEL_FEATURES_H_
