// A text builder over a caller-owned buffer. It never allocates, locks or
// calls into stdio, so it is async-signal-safe and usable in the SIGSYS
// handler, in trampolines and between fork and exec.
#ifndef SANDBOX_COMMON_FIXED_WRITER_H_
#define SANDBOX_COMMON_FIXED_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sandbox {

// Appends text to a fixed buffer, silently dropping what does not fit and
// remembering that it did (truncated()). Async-signal-safe.
class FixedWriter {
 public:
  // Writes into buf[0, capacity). The buffer must outlive the writer.
  FixedWriter(char* buf, size_t capacity) : buf_(buf), capacity_(capacity) {}

  FixedWriter(const FixedWriter&) = delete;
  FixedWriter& operator=(const FixedWriter&) = delete;

  // Appends text verbatim.
  FixedWriter& Put(std::string_view text) {
    for (char c : text) PutChar(c);
    return *this;
  }

  // Appends one character.
  FixedWriter& PutChar(char c) {
    if (size_ < capacity_) {
      buf_[size_++] = c;
    } else {
      truncated_ = true;
    }
    return *this;
  }

  // Appends a signed decimal number.
  FixedWriter& PutDec(int64_t value) {
    if (value < 0) {
      PutChar('-');
      // Negate in unsigned arithmetic so INT64_MIN is printed correctly.
      return PutUnsigned(~static_cast<uint64_t>(value) + 1, 10);
    }
    return PutUnsigned(static_cast<uint64_t>(value), 10);
  }

  // Appends an unsigned decimal number.
  FixedWriter& PutUdec(uint64_t value) { return PutUnsigned(value, 10); }

  // Appends a number as 0x-prefixed lowercase hexadecimal.
  FixedWriter& PutHex(uint64_t value) {
    Put("0x");
    return PutUnsigned(value, 16);
  }

  // Appends a number as 0-prefixed octal ("0" for zero), as strace prints
  // file modes.
  FixedWriter& PutOct(uint64_t value) {
    PutChar('0');
    if (value == 0) return *this;
    return PutUnsigned(value, 8);
  }

  // Returns the text written so far (not NUL-terminated).
  std::string_view view() const { return std::string_view(buf_, size_); }
  size_t size() const { return size_; }
  size_t remaining() const { return capacity_ - size_; }
  bool truncated() const { return truncated_; }

  // Shortens the text to its first `size` characters.
  void Truncate(size_t size) {
    if (size < size_) size_ = size;
  }

 private:
  FixedWriter& PutUnsigned(uint64_t value, unsigned base) {
    char digits[24];
    int count = 0;
    do {
      digits[count++] = "0123456789abcdef"[value % base];
      value /= base;
    } while (value != 0);
    while (count > 0) PutChar(digits[--count]);
    return *this;
  }

  char* buf_;
  size_t capacity_;
  size_t size_ = 0;
  bool truncated_ = false;
};

}  // namespace sandbox

#endif  // SANDBOX_COMMON_FIXED_WRITER_H_
