// An image directory on disk: a set of files, each checksummed with
// XXH3-64, and a MANIFEST written last that names every file with its size
// and hash. An image without a valid MANIFEST, or whose files do not match
// it, is refused whole before anything is restored from it.
#ifndef SANDBOX_CKPT_IMAGE_DIR_H_
#define SANDBOX_CKPT_IMAGE_DIR_H_

#include <xxhash.h>

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sandbox::ckpt {

// Writes the files of a new image into a directory.
class ImageWriter {
 public:
  // Prepares to write into `dir`, which is created if missing and must hold
  // no image yet.
  static absl::StatusOr<ImageWriter> Create(const std::string& dir);

  ImageWriter(ImageWriter&&) = default;
  ImageWriter& operator=(ImageWriter&&) = default;
  ~ImageWriter();

  // Writes a whole file at once.
  absl::Status WriteFile(const std::string& name, absl::string_view data);

  // Streams a large file: Begin, any number of Appends, End.
  absl::Status BeginFile(const std::string& name);
  absl::Status Append(const void* data, size_t len);
  absl::Status EndFile();

  // Writes the MANIFEST and syncs the directory; the image is complete
  // only after this returns OK.
  absl::Status Finish();

  // Removes every file this writer created (for a dump that failed).
  void Discard();

 private:
  explicit ImageWriter(std::string dir) : dir_(std::move(dir)) {}

  struct Entry {
    uint64_t size = 0;
    uint64_t hash = 0;
  };
  std::string dir_;
  std::map<std::string, Entry> entries_;
  int fd_ = -1;
  std::string current_;
  uint64_t current_size_ = 0;
  XXH3_state_t* state_ = nullptr;
  bool finished_ = false;
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
