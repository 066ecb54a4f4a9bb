// How the launcher recognizes the runtime library: libsandbox.so carries
// a section of this name, which no other shared object has.
#ifndef SANDBOX_COMMON_RUNTIME_ID_H_
#define SANDBOX_COMMON_RUNTIME_ID_H_

namespace sandbox {

// The name of the ELF section that marks a file as the sandbox's runtime.
inline constexpr char kRuntimeIdSection[] = "sandbox_runtime_id";

}  // namespace sandbox

#endif  // SANDBOX_COMMON_RUNTIME_ID_H_
