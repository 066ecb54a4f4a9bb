#include "sandbox/ckpt/capture.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace sandbox::ckpt {
namespace {

std::string ReadLink(const std::string& path) {
  char buffer[4096];
  ssize_t length = readlink(path.c_str(), buffer, sizeof(buffer) - 1);
  return length < 0 ? std::string() : std::string(buffer, length);
}

// Character devices that keep no state of their own, reopened by path.
bool IsStatelessDevice(dev_t device) {
  if (major(device) != 1) return false;
  switch (minor(device)) {
    case 3:  // /dev/null
    case 5:  // /dev/zero
    case 8:  // /dev/random
    case 9:  // /dev/urandom
      return true;
    default:
      return false;
  }
}

// The bytes waiting in a pipe, copied with tee(2), which leaves them in
// the pipe for the process.
absl::StatusOr<std::string> PeekPipe(const std::string& proc_fd_path) {
  int source = open(proc_fd_path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (source < 0) {
    return absl::InternalError(
        absl::StrCat("open ", proc_fd_path, ": ", strerror(errno)));
  }
  int copy[2];
  if (pipe2(copy, O_CLOEXEC | O_NONBLOCK) != 0) {
    close(source);
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  }
  fcntl(copy[1], F_SETPIPE_SZ, 1 << 20);
  std::string data;
  ssize_t copied = tee(source, copy[1], 1 << 20, SPLICE_F_NONBLOCK);
  if (copied > 0) {
    data.resize(static_cast<size_t>(copied));
    ssize_t got = read(copy[0], data.data(), data.size());
    data.resize(got > 0 ? static_cast<size_t>(got) : 0);
  }
  close(source);
  close(copy[0]);
  close(copy[1]);
  return data;
}

constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kPagePresent = 1ULL << 63;
constexpr uint64_t kPageSwapped = 1ULL << 62;

// The page files of the image, each written by a thread of its own, with
// two buffers each, used in turn: one is filled from the process while the
// file's thread writes the other out. Chunks go to the files in turn.
class PageStreams {
 public:
  static constexpr size_t kChunk = 8 << 20;

  absl::Status Open(ImageWriter* writer) {
    for (int i = 0; i < kPageFileCount; ++i) {
      absl::StatusOr<std::unique_ptr<ImageWriter::StreamedFile>> file =
          writer->Stream(kPageFiles[i]);
      if (!file.ok()) return file.status();
      files_[i].file = *std::move(file);
      for (std::vector<char>& buffer : files_[i].buffers) buffer.resize(kChunk);
    }
    return absl::OkStatus();
  }
  // Picks the file for the next chunk and returns it; *buffer is the
  // buffer of that file to fill, which no write still reads.
  int Next(std::vector<char>** buffer) {
    int file = next_file_;
    next_file_ = (next_file_ + 1) % kPageFileCount;
    PerFile& per_file = files_[file];
    per_file.next_buffer ^= 1;
    *buffer = &per_file.buffers[per_file.next_buffer];
    return file;
  }
  ImageWriter::StreamedFile& file(int index) { return *files_[index].file; }
  // Waits for every write and closes the files; on failure, only waits.
  absl::Status Close(bool complete) {
    absl::Status status;
    for (PerFile& per_file : files_) {
      if (per_file.file == nullptr) continue;
      absl::Status closed =
          complete ? per_file.file->Close() : absl::OkStatus();
      if (status.ok()) status = closed;
      per_file.file.reset();
    }
    return status;
  }

 private:
  struct PerFile {
    std::unique_ptr<ImageWriter::StreamedFile> file;
    std::vector<char> buffers[2];
    int next_buffer = 0;
  };
  PerFile files_[kPageFileCount];
  int next_file_ = 0;
};

// Streams the pages of `mapping` that are present or swapped into the
// image's page files, a chunk at a time.
absl::Status SavePresentPages(pid_t pid, int mem, int pagemap,
                              MappingImage* mapping, PageStreams* streams) {
  const uint64_t pages = (mapping->end - mapping->begin) / kPageSize;
  const bool readable = mapping->perms[0] == 'r';
  std::vector<uint64_t> entries(4096);
  uint64_t run_start = 0, run_length = 0;
  auto flush_run = [&]() -> absl::Status {
    for (uint64_t done = 0; done < run_length;) {
      std::vector<char>* buffer;
      int file = streams->Next(&buffer);
      uint64_t chunk =
          std::min<uint64_t>(buffer->size() / kPageSize, run_length - done);
      size_t bytes = static_cast<size_t>(chunk * kPageSize);
      uint64_t from = mapping->begin + (run_start + done) * kPageSize;
      // process_vm_readv is the faster path; /proc/PID/mem also reads what
      // the process itself cannot (PROT_NONE pages).
      struct iovec local = {buffer->data(), bytes};
      struct iovec remote = {reinterpret_cast<void*>(from), bytes};
      ssize_t got =
          readable ? process_vm_readv(pid, &local, 1, &remote, 1, 0) : -1;
      if (got != static_cast<ssize_t>(bytes)) {
        got = pread(mem, buffer->data(), bytes, static_cast<off_t>(from));
      }
      // A page past the end of its file reads as an error here and would
      // fault in the process too; zeros keep the image's layout.
      size_t valid = got > 0 ? static_cast<size_t>(got) : 0;
      if (valid < bytes) memset(buffer->data() + valid, 0, bytes - valid);
      PageRun run;
      run.begin = from;
      run.count = chunk;
      run.pages_offset = streams->file(file).size();
      run.file = file;
      absl::Status status = streams->file(file).Write(buffer->data(), bytes);
      if (!status.ok()) return status;
      mapping->runs.push_back(run);
      done += chunk;
    }
    run_length = 0;
    return absl::OkStatus();
  };
  for (uint64_t first = 0; first < pages; first += entries.size()) {
    uint64_t count = std::min<uint64_t>(entries.size(), pages - first);
    off_t at = static_cast<off_t>((mapping->begin / kPageSize + first) *
                                  sizeof(uint64_t));
    ssize_t got = pread(pagemap, entries.data(), count * sizeof(uint64_t), at);
    if (got != static_cast<ssize_t>(count * sizeof(uint64_t))) {
      return absl::InternalError("cannot read the process's page map");
    }
    for (uint64_t i = 0; i < count; ++i) {
      bool used = entries[i] & (kPagePresent | kPageSwapped);
      if (!used) continue;
      if (run_length > 0 && run_start + run_length == first + i) {
        ++run_length;
        continue;
      }
      absl::Status status = flush_run();
      if (!status.ok()) return status;
      run_start = first + i;
      run_length = 1;
    }
  }
  return flush_run();
}

// True if process `other` has a descriptor open on any of `pipes`.
bool HoldsAny(pid_t other, const std::map<std::string, int>& pipes) {
  std::string fd_dir = absl::StrCat("/proc/", other, "/fd");
  DIR* dir = opendir(fd_dir.c_str());
  if (dir == nullptr) return false;  // gone, or not ours to look at
  bool holds = false;
  while (struct dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::string link = ReadLink(absl::StrCat(fd_dir, "/", entry->d_name));
    if (absl::StartsWith(link, "pipe:[") && pipes.count(link) != 0) {
      holds = true;
      break;
    }
  }
  closedir(dir);
  return holds;
}

// Another process than `pid` that holds one of `pipes`, or 0.
pid_t OtherHolderOf(pid_t pid, const std::map<std::string, int>& pipes) {
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return 0;
  pid_t found = 0;
  while (struct dirent* entry = readdir(proc)) {
    pid_t other;
    if (!absl::SimpleAtoi(entry->d_name, &other) || other == pid) continue;
    if (HoldsAny(other, pipes)) {
      found = other;
      break;
    }
  }
  closedir(proc);
  return found;
}

}  // namespace

absl::Status CaptureFiles(pid_t pid, ProcessImage* image, ImageWriter* writer) {
  std::string fd_dir = absl::StrCat("/proc/", pid, "/fd");
  DIR* dir = opendir(fd_dir.c_str());
  if (dir == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("open ", fd_dir, ": ", strerror(errno)));
  }
  std::vector<int> fds;
  while (struct dirent* entry = readdir(dir)) {
    int fd;
    if (absl::SimpleAtoi(entry->d_name, &fd)) fds.push_back(fd);
  }
  closedir(dir);
  std::sort(fds.begin(), fds.end());

  // "pipe:[N]" -> read/write bits, and the first descriptor seen on it.
  std::map<std::string, int> pipe_ends;
  std::map<std::string, int> pipe_fd;
  for (int fd : fds) {
    std::string link = absl::StrCat(fd_dir, "/", fd);
    FileImage file;
    file.fd = fd;
    file.path = ReadLink(link);
    std::ifstream info(absl::StrCat("/proc/", pid, "/fdinfo/", fd));
    std::string line;
    while (std::getline(info, line)) {
      if (absl::StartsWith(line, "pos:")) {
        absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(4)),
                         &file.position);
      } else if (absl::StartsWith(line, "flags:")) {
        file.flags = static_cast<int>(strtol(line.c_str() + 6, nullptr, 8));
      }
    }
    struct stat st;
    if (stat(link.c_str(), &st) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("descriptor ", fd, " (", file.path,
                       ") cannot be examined: ", strerror(errno)));
    }
    if (S_ISREG(st.st_mode) && absl::StartsWith(file.path, "/") &&
        !absl::EndsWith(file.path, " (deleted)")) {
      file.kind = "file";
    } else if (S_ISCHR(st.st_mode) && IsStatelessDevice(st.st_rdev)) {
      file.kind = "file";
    } else if (S_ISFIFO(st.st_mode) && absl::StartsWith(file.path, "pipe:[")) {
      file.kind = "pipe";
      int access = file.flags & O_ACCMODE;
      pipe_ends[file.path] |= access == O_WRONLY ? 2 : 1;
      pipe_fd.emplace(file.path, fd);
      if (access == O_RDONLY) {
        absl::StatusOr<std::string> data = PeekPipe(link);
        if (!data.ok()) return data.status();
        if (!data->empty()) {
          file.pipe_data_file = absl::StrCat("pipe-", fd, ".img");
          absl::Status status = writer->WriteFile(file.pipe_data_file, *data);
          if (!status.ok()) return status;
        }
      }
    } else {
      return absl::FailedPreconditionError(
          absl::StrCat("descriptor ", fd, " is ", file.path,
                       ", which sandbox-ckpt cannot restore"));
    }
    // A descriptor of an open file that an earlier one holds too shares
    // its offset and flags: restored as a copy of that one.
    for (const FileImage& earlier : image->files) {
      if (earlier.kind == "file" && file.kind == "file" &&
          earlier.shares_with < 0 &&
          syscall(SYS_kcmp, pid, pid, KCMP_FILE, earlier.fd, fd) == 0) {
        file.shares_with = earlier.fd;
        break;
      }
    }
    image->files.push_back(std::move(file));
  }
  for (const auto& [name, ends] : pipe_ends) {
    if (ends != 3) {
      return absl::FailedPreconditionError(absl::StrCat(
          "descriptor ", pipe_fd[name], " is ", name,
          ", whose other end is not in the process, which sandbox-ckpt "
          "cannot restore"));
    }
  }
  // Both ends here, but another process may hold them too (a child that
  // inherited them): a restore would cut it off.
  if (!pipe_ends.empty()) {
    pid_t other = OtherHolderOf(pid, pipe_ends);
    if (other > 0) {
      std::string name;
      for (const auto& [pipe, ends] : pipe_ends) {
        if (HoldsAny(other, {{pipe, ends}})) name = pipe;
      }
      return absl::FailedPreconditionError(absl::StrCat(
          "descriptor ", pipe_fd[name], " is ", name, ", which process ", other,
          " holds too, which sandbox-ckpt cannot restore"));
    }
  }
  return absl::OkStatus();
}

absl::Status CaptureMemory(pid_t pid, ProcessImage* image,
                           ImageWriter* writer) {
  std::ifstream maps(absl::StrCat("/proc/", pid, "/maps"));
  if (!maps) {
    return absl::NotFoundError(absl::StrCat("no process ", pid));
  }
  // /proc/PID/mem reads what the process could not read itself (guard
  // pages), since the tool is its tracer.
  int mem =
      open(absl::StrCat("/proc/", pid, "/mem").c_str(), O_RDONLY | O_CLOEXEC);
  if (mem < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("open /proc/", pid, "/mem: ", strerror(errno)));
  }
  // Which pages are present (or swapped out): only those hold anything a
  // restore needs; the rest were never touched.
  int pagemap = open(absl::StrCat("/proc/", pid, "/pagemap").c_str(),
                     O_RDONLY | O_CLOEXEC);
  if (pagemap < 0) {
    close(mem);
    return absl::PermissionDeniedError(
        absl::StrCat("open /proc/", pid, "/pagemap: ", strerror(errno)));
  }
  // Which mappings were made with MAP_NORESERVE ("nr" in their VmFlags).
  std::set<uint64_t> noreserve;
  {
    std::ifstream smaps(absl::StrCat("/proc/", pid, "/smaps"));
    std::string text;
    uint64_t current = 0;
    while (std::getline(smaps, text)) {
      unsigned long begin, end;
      if (sscanf(text.c_str(), "%lx-%lx ", &begin, &end) == 2 &&
          text.find(':') > text.find(' ')) {
        current = begin;
      } else if (absl::StartsWith(text, "VmFlags:") &&
                 absl::StrContains(absl::StrCat(text, " "), " nr ")) {
        noreserve.insert(current);
      }
    }
  }
  PageStreams streams;
  absl::Status status = streams.Open(writer);
  std::string line;
  while (status.ok() && std::getline(maps, line)) {
    MappingImage mapping;
    char perms[8] = {};
    unsigned long begin, end, offset, inode = 0;
    int name_at = 0;
    if (sscanf(line.c_str(), "%lx-%lx %7s %lx %*s %lu %n", &begin, &end, perms,
               &offset, &inode, &name_at) < 5 ||
        strlen(perms) != 4) {
      status = absl::InternalError(absl::StrCat("cannot parse maps: ", line));
      break;
    }
    mapping.begin = begin;
    mapping.end = end;
    mapping.file_offset = offset;
    mapping.inode = inode;
    mapping.perms = perms;
    mapping.noreserve = noreserve.count(begin) != 0;
    if (name_at > 0) mapping.name = line.substr(static_cast<size_t>(name_at));
    bool kernel_area = mapping.name == "[vvar]" ||
                       mapping.name == "[vvar_vclock]" ||
                       mapping.name == "[vsyscall]";
    bool shared_file = mapping.perms[3] == 's' &&
                       absl::StartsWith(mapping.name, "/") &&
                       !absl::StartsWith(mapping.name, "/dev/zero") &&
                       !absl::StartsWith(mapping.name, "/memfd:");
    // What a private mapping's unsaved pages will be read from again.
    if (mapping.perms[3] == 'p' && absl::StartsWith(mapping.name, "/") &&
        !absl::EndsWith(mapping.name, " (deleted)")) {
      struct stat st;
      std::string mapped = absl::StrCat("/proc/", pid, "/map_files/",
                                        absl::Hex(begin), "-", absl::Hex(end));
      if (stat(mapped.c_str(), &st) == 0) {
        mapping.file_size = st.st_size;
        mapping.file_mtime_ns =
            st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
      }
    }
    if (!kernel_area && !shared_file) {
      mapping.saved = true;
      status = SavePresentPages(pid, mem, pagemap, &mapping, &streams);
    }
    image->mappings.push_back(std::move(mapping));
  }
  close(mem);
  close(pagemap);
  absl::Status closed = streams.Close(/*complete=*/status.ok());
  return status.ok() ? closed : status;
}

}  // namespace sandbox::ckpt
