#include "sandbox/ckpt/image_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"

namespace sandbox::ckpt {
namespace {

constexpr char kManifest[] = "MANIFEST";
constexpr absl::string_view kManifestHeader = "sandbox-ckpt image v2";

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

// Reads exactly `len` bytes at `offset`; false on an error or a short file.
bool ReadFullAt(int fd, char* data, size_t len, uint64_t offset) {
  while (len > 0) {
    ssize_t got = pread(fd, data, len, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    data += got;
    len -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
  return true;
}

uint64_t HashBlockHashes(const std::vector<uint64_t>& hashes) {
  std::vector<uint8_t> bytes(hashes.size() * 8);
  for (size_t i = 0; i < hashes.size(); ++i) {
    for (int b = 0; b < 8; ++b) {
      bytes[i * 8 + b] = static_cast<uint8_t>(hashes[i] >> (8 * b));
    }
  }
  return XXH3_64bits(bytes.data(), bytes.size());
}

// Hashes a whole file of `size` bytes as BlockHasher does, its blocks
// spread over the machine's processors.
absl::StatusOr<uint64_t> HashFile(const std::string& path, uint64_t size) {
  // Non-blocking, so that a FIFO put in a file's place cannot hang us.
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return ErrnoStatus(absl::StrCat("open ", path), errno);
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return absl::DataLossError(
        absl::StrCat("image file ", path, " is not a regular file"));
  }
  if (static_cast<uint64_t>(st.st_size) != size) {
    close(fd);
    return absl::DataLossError(absl::StrCat(
        "image file ", path, " has ", st.st_size, " bytes, expected ", size));
  }
  const uint64_t blocks = (size + kImageHashBlock - 1) / kImageHashBlock;
  std::vector<uint64_t> hashes(blocks);
  std::atomic<uint64_t> next_block{0};
  std::atomic<bool> short_read{false};
  // Each worker takes the next block until none is left. Reading into a
  // buffer that stays in the cache measured faster than hashing a mapping
  // of the file.
  auto work = [&]() {
    std::vector<char> buffer(1 << 20);
    XXH3_state_t* state = XXH3_createState();
    for (uint64_t block; (block = next_block++) < blocks;) {
      XXH3_64bits_reset(state);
      uint64_t begin = block * kImageHashBlock;
      uint64_t end = std::min(size, begin + kImageHashBlock);
      for (uint64_t at = begin; at < end; at += buffer.size()) {
        size_t len =
            static_cast<size_t>(std::min<uint64_t>(buffer.size(), end - at));
        if (!ReadFullAt(fd, buffer.data(), len, at)) {
          short_read = true;
          break;
        }
        XXH3_64bits_update(state, buffer.data(), len);
      }
      hashes[block] = XXH3_64bits_digest(state);
    }
    XXH3_freeState(state);
  };
  unsigned helpers = static_cast<unsigned>(std::min<uint64_t>(
      blocks > 0 ? blocks - 1 : 0,
      std::max(1u, std::thread::hardware_concurrency()) - 1));
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < helpers; ++i) {
    try {
      threads.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // fewer helpers, or none: this thread does the rest
    }
  }
  work();
  for (std::thread& thread : threads) thread.join();
  close(fd);
  if (short_read) {
    return absl::DataLossError(
        absl::StrCat("image file ", path, " cannot be read whole"));
  }
  return HashBlockHashes(hashes);
}

}  // namespace

BlockHasher::BlockHasher() : block_state_(XXH3_createState()) { Reset(); }

BlockHasher::~BlockHasher() { XXH3_freeState(block_state_); }

void BlockHasher::Reset() {
  XXH3_64bits_reset(block_state_);
  in_block_ = 0;
  block_hashes_.clear();
}

void BlockHasher::Update(const void* data, size_t len) {
  const char* bytes = static_cast<const char*>(data);
  while (len > 0) {
    size_t take = static_cast<size_t>(
        std::min<uint64_t>(len, kImageHashBlock - in_block_));
    XXH3_64bits_update(block_state_, bytes, take);
    in_block_ += take;
    bytes += take;
    len -= take;
    if (in_block_ == kImageHashBlock) {
      block_hashes_.push_back(XXH3_64bits_digest(block_state_));
      XXH3_64bits_reset(block_state_);
      in_block_ = 0;
    }
  }
}

uint64_t BlockHasher::Digest() {
  std::vector<uint64_t> hashes = block_hashes_;
  if (in_block_ > 0) hashes.push_back(XXH3_64bits_digest(block_state_));
  return HashBlockHashes(hashes);
}

// The thread of a StreamedFile: writes one handed-over buffer at a time.
struct ImageWriter::StreamedFile::Worker {
  absl::Mutex mu;
  const char* data ABSL_GUARDED_BY(mu) = nullptr;
  size_t len ABSL_GUARDED_BY(mu) = 0;
  bool busy ABSL_GUARDED_BY(mu) = false;  // a write is handed over or running
  bool stop ABSL_GUARDED_BY(mu) = false;
  absl::Status status ABSL_GUARDED_BY(mu);  // the first failure
  const int fd;
  const std::string what;
  std::thread thread;

  Worker(int fd, std::string what)
      : fd(fd), what(std::move(what)), thread([this] { Run(); }) {}
  ~Worker() {
    {
      absl::MutexLock lock(&mu);
      stop = true;
    }
    thread.join();
  }

  // Waits until the last write handed over is done; returns the first
  // failure. Lock held.
  absl::Status WaitIdle() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    mu.Await(absl::Condition(
        +[](bool* is_busy) { return !*is_busy; }, &busy));
    return status;
  }

  void Run() {
    absl::MutexLock lock(&mu);
    for (;;) {
      mu.Await(absl::Condition(
          +[](Worker* self) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return self->busy || self->stop;
          },
          this));
      if (!busy) return;
      const char* bytes = data;
      size_t count = len;
      mu.Unlock();
      absl::Status written = WriteAll(fd, bytes, count, what);
      mu.Lock();
      if (status.ok()) status = written;
      busy = false;
    }
  }
};

ImageWriter::StreamedFile::StreamedFile(ImageWriter* writer, std::string name,
                                        int fd)
    : writer_(writer),
      name_(std::move(name)),
      fd_(fd),
      worker_(std::make_unique<Worker>(
          fd, absl::StrCat("write ", writer->dir_, "/", name_))) {}

ImageWriter::StreamedFile::~StreamedFile() {
  worker_.reset();
  if (fd_ >= 0) close(fd_);
}

absl::Status ImageWriter::StreamedFile::Write(const void* data, size_t len) {
  hasher_.Update(data, len);
  size_ += len;
  absl::MutexLock lock(&worker_->mu);
  absl::Status status = worker_->WaitIdle();
  if (!status.ok()) return status;
  worker_->data = static_cast<const char*>(data);
  worker_->len = len;
  worker_->busy = true;
  return absl::OkStatus();
}

absl::Status ImageWriter::StreamedFile::Close() {
  absl::Status status;
  {
    absl::MutexLock lock(&worker_->mu);
    status = worker_->WaitIdle();
  }
  if (!status.ok()) return status;
  Entry& entry = writer_->entries_[name_];
  entry.size = size_;
  entry.hash = hasher_.Digest();
  int fd = fd_;
  fd_ = -1;
  if (fsync(fd) != 0 || close(fd) != 0) {
    return ErrnoStatus(absl::StrCat("write ", writer_->dir_, "/", name_),
                       errno);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ImageWriter::StreamedFile>> ImageWriter::Stream(
    const std::string& name) {
  std::string path = absl::StrCat(dir_, "/", name);
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(absl::StrCat("create ", path), errno);
  entries_[name] = Entry();
  try {
    return std::unique_ptr<StreamedFile>(new StreamedFile(this, name, fd));
  } catch (const std::system_error& error) {
    close(fd);
    return absl::ResourceExhaustedError(absl::StrCat(
        "cannot start a thread to write ", name, ": ", error.code().message()));
  }
}

absl::StatusOr<ImageWriter> ImageWriter::Create(const std::string& dir) {
  bool created = mkdir(dir.c_str(), 0700) == 0;
  if (!created && errno != EEXIST) {
    return ErrnoStatus(absl::StrCat("mkdir ", dir), errno);
  }
  std::string manifest = absl::StrCat(dir, "/", kManifest);
  if (access(manifest.c_str(), F_OK) == 0) {
    return absl::AlreadyExistsError(
        absl::StrCat(dir, " already holds an image"));
  }
  ImageWriter writer(dir);
  writer.created_dir_ = created;
  // One dump per directory at a time: a second one would mix its files
  // with the first's. The lock goes with the descriptor, also when the tool
  // dies.
  writer.dir_fd_ = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (writer.dir_fd_ < 0 || flock(writer.dir_fd_, LOCK_EX | LOCK_NB) != 0) {
    int error = errno;
    writer.created_dir_ = false;  // someone else's directory now
    if (error == EWOULDBLOCK) {
      return absl::UnavailableError(
          absl::StrCat(dir, " is in use by another dump"));
    }
    return ErrnoStatus(absl::StrCat("open ", dir), error);
  }
  return writer;
}

ImageWriter::ImageWriter(std::string dir)
    : dir_(std::move(dir)), hasher_(std::make_unique<BlockHasher>()) {}

ImageWriter::ImageWriter(ImageWriter&& other) noexcept
    : dir_(std::move(other.dir_)),
      entries_(std::move(other.entries_)),
      fd_(std::exchange(other.fd_, -1)),
      current_(std::move(other.current_)),
      current_size_(other.current_size_),
      hasher_(std::move(other.hasher_)),
      finished_(other.finished_),
      created_dir_(std::exchange(other.created_dir_, false)),
      wrote_manifest_(other.wrote_manifest_),
      dir_fd_(std::exchange(other.dir_fd_, -1)) {}

ImageWriter::~ImageWriter() {
  if (fd_ >= 0) close(fd_);
  if (dir_fd_ >= 0) close(dir_fd_);
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
  hasher_->Reset();
  current_ = name;
  current_size_ = 0;
  entries_[name] = Entry();
  return absl::OkStatus();
}

absl::Status ImageWriter::Append(const void* data, size_t len) {
  hasher_->Update(data, len);
  current_size_ += len;
  return WriteAll(fd_, static_cast<const char*>(data), len,
                  absl::StrCat("write ", dir_, "/", current_));
}

absl::Status ImageWriter::EndFile() {
  Entry& entry = entries_[current_];
  entry.size = current_size_;
  entry.hash = hasher_->Digest();
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
  wrote_manifest_ = true;
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
  // The manifest only if this writer wrote it: a directory that held an
  // image was refused at Create.
  if (wrote_manifest_) {
    unlink(absl::StrCat(dir_, "/", kManifest).c_str());
    unlink(absl::StrCat(dir_, "/", kManifest, ".tmp").c_str());
  }
  entries_.clear();
  // A directory made for the image goes too (if nothing else came into it).
  if (created_dir_) rmdir(dir_.c_str());
}

absl::StatusOr<ImageReader> ImageReader::Open(const std::string& dir) {
  std::string path = absl::StrCat(dir, "/", kManifest);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      struct stat st;
      if (stat(dir.c_str(), &st) != 0) {
        return ErrnoStatus(absl::StrCat("image directory ", dir), errno);
      }
      if (!S_ISDIR(st.st_mode)) {
        return absl::NotFoundError(
            absl::StrCat("image directory ", dir, " is not a directory"));
      }
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
