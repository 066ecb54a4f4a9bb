#include "sandbox/ckpt/image_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace sandbox::ckpt {
namespace {

constexpr char kManifest[] = "MANIFEST";
constexpr absl::string_view kManifestHeader = "sandbox-ckpt image v1";

absl::Status ErrnoStatus(absl::string_view what, int error) {
  return absl::UnavailableError(absl::StrCat(what, ": ", strerror(error)));
}

absl::Status WriteAll(int fd, const char* data, size_t len,
                      absl::string_view what) {
  while (len > 0) {
    ssize_t written = write(fd, data, len);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return ErrnoStatus(what, errno);
    data += written;
    len -= static_cast<size_t>(written);
  }
  return absl::OkStatus();
}

// Hashes a whole file in chunks.
absl::StatusOr<uint64_t> HashFile(const std::string& path, uint64_t size) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(absl::StrCat("open ", path), errno);
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  std::vector<char> buffer(1 << 20);
  uint64_t total = 0;
  for (;;) {
    ssize_t got = read(fd, buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      int error = errno;
      close(fd);
      XXH3_freeState(state);
      return ErrnoStatus(absl::StrCat("read ", path), error);
    }
    if (got == 0) break;
    XXH3_64bits_update(state, buffer.data(), static_cast<size_t>(got));
    total += static_cast<uint64_t>(got);
  }
  close(fd);
  uint64_t hash = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  if (total != size) {
    return absl::DataLossError(absl::StrCat("image file ", path, " has ", total,
                                            " bytes, expected ", size));
  }
  return hash;
}

}  // namespace

absl::StatusOr<ImageWriter> ImageWriter::Create(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(absl::StrCat("mkdir ", dir), errno);
  }
  std::string manifest = absl::StrCat(dir, "/", kManifest);
  if (access(manifest.c_str(), F_OK) == 0) {
    return absl::AlreadyExistsError(
        absl::StrCat(dir, " already holds an image"));
  }
  return ImageWriter(dir);
}

ImageWriter::~ImageWriter() {
  if (fd_ >= 0) close(fd_);
  if (state_ != nullptr) XXH3_freeState(state_);
}

absl::Status ImageWriter::WriteFile(const std::string& name,
                                    absl::string_view data) {
  absl::Status status = BeginFile(name);
  if (!status.ok()) return status;
  status = Append(data.data(), data.size());
  if (!status.ok()) return status;
  return EndFile();
}

absl::Status ImageWriter::BeginFile(const std::string& name) {
  if (fd_ >= 0) return absl::FailedPreconditionError("a file is open");
  std::string path = absl::StrCat(dir_, "/", name);
  fd_ = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd_ < 0) return ErrnoStatus(absl::StrCat("create ", path), errno);
  if (state_ == nullptr) state_ = XXH3_createState();
  XXH3_64bits_reset(state_);
  current_ = name;
  current_size_ = 0;
  entries_[name] = Entry();
  return absl::OkStatus();
}

absl::Status ImageWriter::Append(const void* data, size_t len) {
  XXH3_64bits_update(state_, data, len);
  current_size_ += len;
  return WriteAll(fd_, static_cast<const char*>(data), len,
                  absl::StrCat("write ", dir_, "/", current_));
}

absl::Status ImageWriter::EndFile() {
  Entry& entry = entries_[current_];
  entry.size = current_size_;
  entry.hash = XXH3_64bits_digest(state_);
  int fd = fd_;
  fd_ = -1;
  if (fsync(fd) != 0 || close(fd) != 0) {
    return ErrnoStatus(absl::StrCat("write ", dir_, "/", current_), errno);
  }
  return absl::OkStatus();
}

absl::Status ImageWriter::Finish() {
  std::string text = absl::StrCat(kManifestHeader, "\n");
  for (const auto& [name, entry] : entries_) {
    absl::StrAppend(&text, name, " ", entry.size, " ",
                    absl::Hex(entry.hash, absl::kZeroPad16), "\n");
  }
  // The manifest's own hash guards it against damage too.
  absl::StrAppend(
      &text, "end ",
      absl::Hex(XXH3_64bits(text.data(), text.size()), absl::kZeroPad16), "\n");
  std::string path = absl::StrCat(dir_, "/", kManifest);
  std::string temporary = path + ".tmp";
  int fd =
      open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(absl::StrCat("create ", temporary), errno);
  absl::Status status = WriteAll(fd, text.data(), text.size(), temporary);
  if (status.ok() && fsync(fd) != 0) status = ErrnoStatus(temporary, errno);
  close(fd);
  if (!status.ok()) return status;
  if (rename(temporary.c_str(), path.c_str()) != 0) {
    return ErrnoStatus(absl::StrCat("rename ", temporary), errno);
  }
  int dir_fd = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    fsync(dir_fd);
    close(dir_fd);
  }
  finished_ = true;
  return absl::OkStatus();
}

void ImageWriter::Discard() {
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
  for (const auto& [name, entry] : entries_) {
    unlink(absl::StrCat(dir_, "/", name).c_str());
  }
  unlink(absl::StrCat(dir_, "/", kManifest).c_str());
  unlink(absl::StrCat(dir_, "/", kManifest, ".tmp").c_str());
  entries_.clear();
}

absl::StatusOr<ImageReader> ImageReader::Open(const std::string& dir) {
  std::string path = absl::StrCat(dir, "/", kManifest);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(
          absl::StrCat("no image in ", dir, " (no MANIFEST)"));
    }
    return ErrnoStatus(absl::StrCat("open ", path), errno);
  }
  std::string text;
  char buffer[65536];
  ssize_t got;
  while ((got = read(fd, buffer, sizeof(buffer))) > 0) text.append(buffer, got);
  close(fd);

  // The last line holds the hash of everything before it.
  size_t end_line = text.rfind("end ");
  if (!absl::StartsWith(text, kManifestHeader) ||
      end_line == std::string::npos) {
    return absl::DataLossError(absl::StrCat(path, " is not a manifest"));
  }
  uint64_t recorded;
  std::string hash_text = text.substr(end_line + 4);
  while (!hash_text.empty() && hash_text.back() == '\n') hash_text.pop_back();
  if (!absl::SimpleHexAtoi(hash_text, &recorded) ||
      recorded != XXH3_64bits(text.data(), end_line)) {
    return absl::DataLossError(absl::StrCat(path, " is damaged"));
  }

  ImageReader reader(dir);
  std::vector<absl::string_view> lines = absl::StrSplit(
      absl::string_view(text).substr(0, end_line), '\n', absl::SkipEmpty());
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<absl::string_view> fields = absl::StrSplit(lines[i], ' ');
    uint64_t size, hash;
    if (fields.size() != 3 || !absl::SimpleAtoi(fields[1], &size) ||
        !absl::SimpleHexAtoi(fields[2], &hash) ||
        fields[0].find('/') != absl::string_view::npos) {
      return absl::DataLossError(absl::StrCat(path, " is malformed"));
    }
    std::string name(fields[0]);
    absl::StatusOr<uint64_t> actual =
        HashFile(absl::StrCat(dir, "/", name), size);
    if (!actual.ok()) {
      return absl::DataLossError(
          absl::StrCat("image file ", name,
                       " is missing or damaged: ", actual.status().message()));
    }
    if (*actual != hash) {
      return absl::DataLossError(
          absl::StrCat("image file ", name, " is damaged (checksum mismatch)"));
    }
    reader.sizes_[name] = size;
  }
  return reader;
}

absl::StatusOr<std::string> ImageReader::ReadFile(
    const std::string& name) const {
  if (!Has(name)) {
    return absl::DataLossError(absl::StrCat("image has no file ", name));
  }
  std::string path = PathOf(name);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(absl::StrCat("open ", path), errno);
  std::string data(SizeOf(name), '\0');
  size_t done = 0;
  while (done < data.size()) {
    ssize_t got = read(fd, data.data() + done, data.size() - done);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      close(fd);
      return absl::DataLossError(absl::StrCat("short read of ", path));
    }
    done += static_cast<size_t>(got);
  }
  close(fd);
  return data;
}

std::string ImageReader::PathOf(const std::string& name) const {
  return absl::StrCat(dir_, "/", name);
}

uint64_t ImageReader::SizeOf(const std::string& name) const {
  auto it = sizes_.find(name);
  return it == sizes_.end() ? 0 : it->second;
}

}  // namespace sandbox::ckpt
