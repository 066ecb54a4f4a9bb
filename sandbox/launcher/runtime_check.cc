#include "sandbox/launcher/runtime_check.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "sandbox/common/runtime_id.h"

namespace sandbox {
namespace {

// Reads exactly `len` bytes at `offset`; false on an error or a short file.
bool ReadAt(int fd, void* data, size_t len, uint64_t offset) {
  auto* at = static_cast<char*>(data);
  while (len > 0) {
    ssize_t got = pread(fd, at, len, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    at += got;
    len -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
  return true;
}

// Whether the shared object open at `fd` has a section named `wanted`.
absl::Status FindSection(int fd, const std::string& path, const char* wanted) {
  auto not_runtime = [&](absl::string_view why) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not the sandbox runtime (", why, ")"));
  };
  Elf64_Ehdr header;
  if (!ReadAt(fd, &header, sizeof(header), 0) ||
      memcmp(header.e_ident, ELFMAG, SELFMAG) != 0) {
    return not_runtime("not an ELF file");
  }
  if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_machine != EM_X86_64 ||
      header.e_type != ET_DYN) {
    return not_runtime("not a 64-bit x86-64 shared object");
  }
  if (header.e_shentsize != sizeof(Elf64_Shdr) || header.e_shnum == 0 ||
      header.e_shstrndx >= header.e_shnum || header.e_shnum > 4096) {
    return not_runtime("no section table");
  }
  std::vector<Elf64_Shdr> sections(header.e_shnum);
  if (!ReadAt(fd, sections.data(), sections.size() * sizeof(Elf64_Shdr),
              header.e_shoff)) {
    return not_runtime("truncated section table");
  }
  const Elf64_Shdr& names_section = sections[header.e_shstrndx];
  if (names_section.sh_size > (1 << 20)) {
    return not_runtime("oversized section names");
  }
  std::vector<char> names(names_section.sh_size + 1, '\0');
  if (!ReadAt(fd, names.data(), names_section.sh_size,
              names_section.sh_offset)) {
    return not_runtime("truncated section names");
  }
  for (const Elf64_Shdr& section : sections) {
    if (section.sh_name < names_section.sh_size &&
        strcmp(names.data() + section.sh_name, wanted) == 0) {
      return absl::OkStatus();
    }
  }
  return not_runtime(absl::StrCat("no ", wanted, " section"));
}

}  // namespace

absl::Status CheckRuntimeLibrary(const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("the runtime's path '", path, "' is not absolute"));
  }
  if (path.find_first_of(": \t\n") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("the runtime's path ", path,
                     " has a ':' or a blank, which LD_PRELOAD cannot carry"));
  }
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot open the runtime ", path, ": ", strerror(errno)));
  }
  struct stat st;
  absl::Status status;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    status = absl::FailedPreconditionError(
        absl::StrCat("the runtime ", path, " is not a regular file"));
  } else {
    status = FindSection(fd, path, kRuntimeIdSection);
  }
  close(fd);
  return status;
}

}  // namespace sandbox
