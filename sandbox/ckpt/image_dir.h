// An image directory on disk: a set of files, each checksummed with
// XXH3-64, and a MANIFEST written last that names every file with its size
// and hash. An image without a valid MANIFEST, or whose files do not match
// it, is refused whole before anything is restored from it.
//
// A file's hash is taken block by block, so that a large file can be
// verified by several threads at once: it is the XXH3-64 of the sequence
// of its blocks' XXH3-64 hashes (each as 8 little-endian bytes), blocks
// being kImageHashBlock bytes but the last.
#ifndef SANDBOX_CKPT_IMAGE_DIR_H_
#define SANDBOX_CKPT_IMAGE_DIR_H_

#include <xxhash.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sandbox::ckpt {

// The block size of a file's hash.
inline constexpr uint64_t kImageHashBlock = 16 << 20;

// Hashes a stream of bytes block by block, as image files are hashed.
class BlockHasher {
 public:
  BlockHasher();
  ~BlockHasher();
  BlockHasher(const BlockHasher&) = delete;
  BlockHasher& operator=(const BlockHasher&) = delete;
  // Starts a new stream.
  void Reset();
  // Adds `len` bytes to the stream.
  void Update(const void* data, size_t len);
  // The hash of the whole stream so far.
  uint64_t Digest();

 private:
  XXH3_state_t* block_state_;
  uint64_t in_block_ = 0;  // bytes of the current block hashed so far
  std::vector<uint64_t> block_hashes_;
};

// Writes the files of a new image into a directory.
class ImageWriter {
 public:
  // Prepares to write into `dir`, which is created if missing and must hold
  // no image yet.
  static absl::StatusOr<ImageWriter> Create(const std::string& dir);

  // Moving hands the open descriptors (and the directory's lock) over.
  ImageWriter(ImageWriter&& other) noexcept;
  ImageWriter& operator=(ImageWriter&&) = delete;
  ~ImageWriter();

  // Writes a whole file at once.
  absl::Status WriteFile(const std::string& name, absl::string_view data);

  // Streams a large file: Begin, any number of Appends, End.
  absl::Status BeginFile(const std::string& name);
  absl::Status Append(const void* data, size_t len);
  absl::Status EndFile();

  // A large file written by a thread of its own, so that several can be
  // written at once, next to the one Begin..End writes.
  class StreamedFile;
  absl::StatusOr<std::unique_ptr<StreamedFile>> Stream(const std::string& name);

  // Writes the MANIFEST and syncs the directory; the image is complete
  // only after this returns OK.
  absl::Status Finish();

  // Removes every file this writer created (for a dump that failed).
  void Discard();

 private:
  explicit ImageWriter(std::string dir);

  struct Entry {
    uint64_t size = 0;
    uint64_t hash = 0;
  };
  std::string dir_;
  std::map<std::string, Entry> entries_;
  int fd_ = -1;
  std::string current_;
  uint64_t current_size_ = 0;
  std::unique_ptr<BlockHasher> hasher_;
  bool finished_ = false;
  bool created_dir_ = false;     // the directory was made by Create
  bool wrote_manifest_ = false;  // Finish began writing the MANIFEST
  int dir_fd_ = -1;              // holds the directory's lock
};

class ImageWriter::StreamedFile {
 public:
  // Waits for the file's thread; a file not closed stays for Discard.
  ~StreamedFile();
  StreamedFile(const StreamedFile&) = delete;
  StreamedFile& operator=(const StreamedFile&) = delete;

  // Hands `len` bytes over: they are hashed before this returns and written
  // by the file's thread while the caller goes on. Returns once the bytes
  // handed over before are written, so a caller that alternates between
  // two buffers may refill the other one; these bytes must stay untouched
  // until the next call, Close or destruction.
  absl::Status Write(const void* data, size_t len);
  // The bytes handed over so far.
  uint64_t size() const { return size_; }
  // Waits for the last write, then syncs, closes and records the file.
  absl::Status Close();

 private:
  friend class ImageWriter;
  struct Worker;
  StreamedFile(ImageWriter* writer, std::string name, int fd);

  ImageWriter* writer_;
  std::string name_;
  int fd_;
  uint64_t size_ = 0;
  BlockHasher hasher_;
  std::unique_ptr<Worker> worker_;
};

// A verified image: every file named by the MANIFEST is present with the
// size and hash recorded there, and no other file claims to belong.
class ImageReader {
 public:
  // Verifies the image in `dir`. Returns DataLoss naming the first damaged
  // or missing file, or NotFound when there is no image at all.
  static absl::StatusOr<ImageReader> Open(const std::string& dir);

  // Reads a whole file of the image.
  absl::StatusOr<std::string> ReadFile(const std::string& name) const;

  // The path of a file of the image, for reading it in place.
  std::string PathOf(const std::string& name) const;

  bool Has(const std::string& name) const { return sizes_.count(name) != 0; }
  uint64_t SizeOf(const std::string& name) const;

 private:
  explicit ImageReader(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
  std::map<std::string, uint64_t> sizes_;
};

}  // namespace sandbox::ckpt

#endif  // SANDBOX_CKPT_IMAGE_DIR_H_
