#include "sandbox/runtime/trace_format.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace sandbox {
namespace {

// A stand-in for the traced program's memory: byte ranges at made-up
// addresses. Everything else reads as unmapped.
struct Region {
  uint64_t base;
  std::string bytes;
};
std::vector<Region>* regions = nullptr;

// A MemoryReader over `regions`: copies what lies inside one region and
// stops where it ends, failing with -EFAULT when nothing is readable.
long FakeRead(void* dst, uint64_t src, size_t len) {
  for (const Region& region : *regions) {
    if (src < region.base || src >= region.base + region.bytes.size()) {
      continue;
    }
    size_t available = region.base + region.bytes.size() - src;
    size_t count = len < available ? len : available;
    memcpy(dst, region.bytes.data() + (src - region.base), count);
    return static_cast<long>(count);
  }
  return -EFAULT;
}

// Returns `value` as the trace prints an address.
std::string Hex(uint64_t value) {
  char text[32];
  snprintf(text, sizeof(text), "%#" PRIx64, value);
  return text;
}

// An address nothing is mapped at.
constexpr uint64_t kUnmapped = 0xdead0000;

class TraceFormatTest : public ::testing::Test {
 protected:
  void SetUp() override { regions = &regions_; }
  void TearDown() override { regions = nullptr; }

  // Maps `bytes` at a fresh address and returns it. Regions are spaced
  // apart so that reading past one never runs into the next.
  uint64_t Map(std::string_view bytes) {
    uint64_t base = 0x10000 + regions_.size() * 0x10000;
    regions_.push_back({base, std::string(bytes)});
    return base;
  }

  // Maps a NUL-terminated copy of `text`.
  uint64_t MapString(std::string_view text) {
    return Map(std::string(text) + '\0');
  }

  // Maps an array of pointers (argv, envp); add a 0 to terminate it.
  uint64_t MapPointers(const std::vector<uint64_t>& pointers) {
    std::string bytes(pointers.size() * sizeof(uint64_t), '\0');
    memcpy(bytes.data(), pointers.data(), bytes.size());
    return Map(bytes);
  }

  // Formats one line into a buffer of `capacity` bytes.
  static std::string Format(long nr, std::vector<uint64_t> args,
                            bool has_result, long result,
                            size_t capacity = 1024) {
    TraceCall call = {};
    call.pid = 1234;
    call.nr = nr;
    for (size_t i = 0; i < args.size() && i < 6; ++i) call.args[i] = args[i];
    std::vector<char> buffer(capacity);
    FixedWriter out(buffer.data(), buffer.size());
    FormatTraceLine(call, has_result, result, FakeRead, &out);
    return std::string(out.view());
  }

  static std::string Format(long nr, std::vector<uint64_t> args, long result) {
    return Format(nr, std::move(args), true, result);
  }

  std::vector<Region> regions_;
};

TEST_F(TraceFormatTest, OpenatWithoutCreateOmitsMode) {
  uint64_t path = MapString("/etc/passwd");
  EXPECT_EQ(Format(SYS_openat,
                   {static_cast<uint64_t>(AT_FDCWD), path, O_RDONLY | O_CLOEXEC,
                    0777},
                   3),
            "1234 openat(AT_FDCWD, \"/etc/passwd\", O_RDONLY|O_CLOEXEC) = 3\n");
}

TEST_F(TraceFormatTest, OpenatWithCreatePrintsOctalMode) {
  uint64_t path = MapString("out.txt");
  EXPECT_EQ(
      Format(SYS_openat, {3, path, O_WRONLY | O_CREAT | O_TRUNC, 0644}, 4),
      "1234 openat(3, \"out.txt\", O_WRONLY|O_CREAT|O_TRUNC, 0644) = 4\n");
  EXPECT_EQ(Format(SYS_open, {path, O_RDWR | O_CREAT | O_EXCL, 0}, 5),
            "1234 open(\"out.txt\", O_RDWR|O_CREAT|O_EXCL, 000) = 5\n");
  EXPECT_EQ(Format(SYS_mkdir, {path, 01777}, 0),
            "1234 mkdir(\"out.txt\", 01777) = 0\n");
}

TEST_F(TraceFormatTest, DecodesOpenFlags) {
  uint64_t path = MapString("/tmp");
  EXPECT_EQ(
      Format(SYS_openat,
             {static_cast<uint64_t>(AT_FDCWD), path, O_RDWR | O_TMPFILE, 0600},
             3),
      "1234 openat(AT_FDCWD, \"/tmp\", O_RDWR|O_TMPFILE, 0600) = 3\n");
  EXPECT_EQ(Format(SYS_open,
                   {path, O_WRONLY | O_APPEND | O_NONBLOCK | O_SYNC | O_NOCTTY |
                              O_DIRECTORY | O_NOFOLLOW | O_PATH},
                   3),
            "1234 open(\"/tmp\", O_WRONLY|O_NOCTTY|O_APPEND|O_NONBLOCK|O_SYNC|"
            "O_DIRECTORY|O_NOFOLLOW|O_PATH) = 3\n");
  EXPECT_EQ(Format(SYS_open, {path, O_RDONLY | O_DSYNC | 0x40000000}, 3),
            "1234 open(\"/tmp\", O_RDONLY|O_DSYNC|0x40000000) = 3\n");
  EXPECT_EQ(Format(SYS_open, {path, 3}, -EINVAL),
            "1234 open(\"/tmp\", O_ACCMODE) = -1 EINVAL (Invalid argument)\n");
}

TEST_F(TraceFormatTest, PrintsErrorsByName) {
  uint64_t path = MapString("/nonexistent");
  EXPECT_EQ(Format(SYS_openat, {static_cast<uint64_t>(AT_FDCWD), path, 0, 0},
                   -ENOENT),
            "1234 openat(AT_FDCWD, \"/nonexistent\", O_RDONLY) = -1 ENOENT (No "
            "such file or directory)\n");
  EXPECT_EQ(Format(SYS_close, {99}, -EBADF),
            "1234 close(99) = -1 EBADF (Bad file descriptor)\n");
  EXPECT_EQ(Format(SYS_close, {3}, -4095),
            "1234 close(3) = -1 ERRNO_4095 (Unknown error 4095)\n");
  // Just outside the error range: an ordinary (if odd) result.
  EXPECT_EQ(
      Format(SYS_lseek, {3, static_cast<uint64_t>(-4096), SEEK_CUR}, -4096),
      "1234 lseek(3, -4096, 1) = -4096\n");
}

TEST_F(TraceFormatTest, ReadPrintsFilledBufferCutAtLimit) {
  uint64_t buffer =
      Map("root:x:0:0:root:/root:/bin/bash\nbin:x:1:1:bin:/bin:/bin/sh\n");
  EXPECT_EQ(Format(SYS_read, {3, buffer, 4096}, 1234),
            "1234 read(3, \"root:x:0:0:root:/root:/bin/bash\\n\"..., 4096) = "
            "1234\n");
  EXPECT_EQ(Format(SYS_read, {3, buffer, 4096}, 5),
            "1234 read(3, \"root:\", 4096) = 5\n");
}

TEST_F(TraceFormatTest, ReadWithoutDataPrintsPointer) {
  uint64_t buffer = Map("junk");
  EXPECT_EQ(Format(SYS_read, {3, buffer, 4096}, 0),
            "1234 read(3, 0x10000, 4096) = 0\n");
  EXPECT_EQ(Format(SYS_read, {3, buffer, 4096}, -EAGAIN),
            "1234 read(3, 0x10000, 4096) = -1 EAGAIN (Resource temporarily "
            "unavailable)\n");
  EXPECT_EQ(Format(SYS_read, {3, buffer, 4096}, false, 0),
            "1234 read(3, 0x10000, 4096) = ?\n");
}

TEST_F(TraceFormatTest, WritePrintsInputBuffer) {
  uint64_t buffer = Map("hi\n");
  EXPECT_EQ(Format(SYS_write, {1, buffer, 3}, 3),
            "1234 write(1, \"hi\\n\", 3) = 3\n");
  EXPECT_EQ(Format(SYS_write, {1, buffer, 0}, 0),
            "1234 write(1, \"\", 0) = 0\n");
  EXPECT_EQ(Format(SYS_write, {1, 0, 0}, -EFAULT),
            "1234 write(1, NULL, 0) = -1 EFAULT (Bad address)\n");
}

TEST_F(TraceFormatTest, CutsStringsLongerThanLimit) {
  std::string exact(kTraceStringLimit, 'a');
  std::string longer(kTraceStringLimit + 1, 'b');
  uint64_t exact_buffer = Map(exact);
  uint64_t longer_buffer = Map(longer);
  EXPECT_EQ(Format(SYS_write, {1, exact_buffer, exact.size()}, 32),
            "1234 write(1, \"" + exact + "\", 32) = 32\n");
  EXPECT_EQ(Format(SYS_write, {1, longer_buffer, longer.size()}, 33),
            "1234 write(1, \"" + longer.substr(0, 32) + "\"..., 33) = 33\n");
}

TEST_F(TraceFormatTest, EscapesLikeStrace) {
  const char kBytes[] =
      "a\"b\\c\t\n\r\f\v\x01\x7f\xff\0"
      "1x";
  static_assert(sizeof(kBytes) - 1 == 16);
  uint64_t buffer = Map(std::string_view(kBytes, 16));
  EXPECT_EQ(Format(SYS_write, {2, buffer, 16}, 16),
            "1234 write(2, \"a\\\"b\\\\c\\t\\n\\r\\f\\v\\1\\177\\377\\0001x\", "
            "16) = 16\n");
  // A digit after an escape forces all three octal digits, otherwise the
  // shortest form is used.
  uint64_t digits =
      Map(std::string_view("\x01"
                           "7\x08"
                           "8",
                           4));
  EXPECT_EQ(Format(SYS_write, {2, digits, 4}, 4),
            "1234 write(2, \"\\0017\\108\", 4) = 4\n");
}

TEST_F(TraceFormatTest, PrintsLongPathsWhole) {
  std::string long_path = "/" + std::string(100, 'd') + "/file";
  uint64_t path = MapString(long_path);
  EXPECT_EQ(Format(SYS_unlink, {path}, 0),
            "1234 unlink(\"" + long_path + "\") = 0\n");
}

TEST_F(TraceFormatTest, UnreadablePointersPrintAsAddresses) {
  EXPECT_EQ(Format(SYS_openat,
                   {static_cast<uint64_t>(AT_FDCWD), kUnmapped, O_RDONLY, 0},
                   -EFAULT),
            "1234 openat(AT_FDCWD, 0xdead0000, O_RDONLY) = -1 EFAULT (Bad "
            "address)\n");
  EXPECT_EQ(Format(SYS_write, {1, kUnmapped, 10}, 10),
            "1234 write(1, 0xdead0000, 10) = 10\n");
  // The buffer is shorter than the length the call claims.
  uint64_t short_buffer = Map("abc");
  EXPECT_EQ(Format(SYS_write, {1, short_buffer, 10}, -EFAULT),
            "1234 write(1, 0x10000, 10) = -1 EFAULT (Bad address)\n");
  // The string runs into unmapped memory before its terminator.
  uint64_t unterminated = Map("/etc/pass");
  EXPECT_EQ(Format(SYS_chdir, {unterminated}, -EFAULT),
            "1234 chdir(0x20000) = -1 EFAULT (Bad address)\n");
  EXPECT_EQ(Format(SYS_chdir, {0}, -EFAULT),
            "1234 chdir(NULL) = -1 EFAULT (Bad address)\n");
}

TEST_F(TraceFormatTest, ExecvePrintsArgvAndCountsEnvironment) {
  uint64_t path = MapString("/bin/ls");
  uint64_t argv = MapPointers({MapString("ls"), MapString("-l"), 0});
  std::vector<uint64_t> env;
  for (int i = 0; i < 23; ++i) env.push_back(MapString("VAR=value"));
  env.push_back(0);
  uint64_t envp = MapPointers(env);
  EXPECT_EQ(Format(SYS_execve, {path, argv, envp}, false, 0),
            "1234 execve(\"/bin/ls\", [\"ls\", \"-l\"], " + Hex(envp) +
                " /* 23 vars */) = ?\n");

  uint64_t one = MapPointers({MapString("A=1"), 0});
  uint64_t empty = MapPointers({0});
  EXPECT_EQ(Format(SYS_execve, {path, empty, one}, -ENOENT),
            "1234 execve(\"/bin/ls\", [], " + Hex(one) +
                " /* 1 var */) = -1 ENOENT (No such file or directory)\n");
  EXPECT_EQ(Format(SYS_execve, {path, 0, 0}, -EFAULT),
            "1234 execve(\"/bin/ls\", NULL, NULL) = -1 EFAULT (Bad address)\n");
}

TEST_F(TraceFormatTest, ExecveWithBadArraysPrintsAddresses) {
  uint64_t path = MapString("/bin/true");
  uint64_t argv = MapPointers({MapString("true"), kUnmapped, 0});
  // An array that runs into unmapped memory before its NULL.
  uint64_t envp = MapPointers({MapString("A=1")});
  EXPECT_EQ(Format(SYS_execve, {path, argv, envp}, -EFAULT),
            "1234 execve(\"/bin/true\", [\"true\", 0xdead0000], " + Hex(envp) +
                ") = -1 EFAULT (Bad address)\n");
  EXPECT_EQ(Format(SYS_execve, {path, kUnmapped, kUnmapped}, -EFAULT),
            "1234 execve(\"/bin/true\", 0xdead0000, 0xdead0000) = -1 EFAULT "
            "(Bad address)\n");
}

TEST_F(TraceFormatTest, ExecveCutsLongArgv) {
  uint64_t path = MapString("/bin/echo");
  std::vector<uint64_t> argv;
  uint64_t word = MapString("w");
  for (int i = 0; i < 40; ++i) argv.push_back(word);
  argv.push_back(0);
  std::string expected = "1234 execve(\"/bin/echo\", [";
  for (int i = 0; i < 32; ++i) expected += "\"w\", ";
  expected += "...], NULL) = ?\n";
  EXPECT_EQ(Format(SYS_execve, {path, MapPointers(argv), 0}, false, 0),
            expected);
}

TEST_F(TraceFormatTest, MemoryCallsPrintAddressesInHex) {
  EXPECT_EQ(Format(SYS_mmap, {0, 4096, 3, 0x22, static_cast<uint64_t>(-1), 0},
                   0x7f1234560000),
            "1234 mmap(NULL, 4096, 0x3, 0x22, -1, 0) = 0x7f1234560000\n");
  EXPECT_EQ(Format(SYS_brk, {0}, 0x555555559000),
            "1234 brk(NULL) = 0x555555559000\n");
  EXPECT_EQ(Format(SYS_munmap, {0x7f1234560000, 4096}, 0),
            "1234 munmap(0x7f1234560000, 4096) = 0\n");
  EXPECT_EQ(Format(SYS_mmap, {0, 4096, 1, 2, 3, 0}, -ENOMEM),
            "1234 mmap(NULL, 4096, 0x1, 0x2, 3, 0) = -1 ENOMEM (Cannot "
            "allocate memory)\n");
}

TEST_F(TraceFormatTest, PrintsSignalsByName) {
  EXPECT_EQ(Format(SYS_kill, {42, SIGINT}, 0), "1234 kill(42, SIGINT) = 0\n");
  EXPECT_EQ(Format(SYS_tgkill, {1, 2, SIGKILL}, 0),
            "1234 tgkill(1, 2, SIGKILL) = 0\n");
  EXPECT_EQ(Format(SYS_rt_sigaction, {SIGSYS, 0x1000, 0, 8}, 0),
            "1234 rt_sigaction(SIGSYS, 0x1000, NULL, 8) = 0\n");
  EXPECT_EQ(Format(SYS_kill, {42, 0}, 0), "1234 kill(42, 0) = 0\n");
  EXPECT_EQ(Format(SYS_kill, {42, 34}, 0), "1234 kill(42, SIGRT_2) = 0\n");
  EXPECT_EQ(Format(SYS_kill, {42, 99}, -EINVAL),
            "1234 kill(42, 99) = -1 EINVAL (Invalid argument)\n");
}

TEST_F(TraceFormatTest, IntArgumentsIgnoreUpperRegisterBits) {
  // Callers may leave garbage above a 32-bit argument; the kernel reads
  // only the low half, and so does the trace.
  EXPECT_EQ(Format(SYS_kill, {0xffffffffULL, SIGTERM}, 0),
            "1234 kill(-1, SIGTERM) = 0\n");
  EXPECT_EQ(Format(SYS_close, {0xabcd000000000003ULL}, 0),
            "1234 close(3) = 0\n");
  uint64_t path = MapString("x");
  EXPECT_EQ(Format(SYS_unlinkat, {0xffffffffffffff9cULL, path, 0}, 0),
            "1234 unlinkat(AT_FDCWD, \"x\", 0) = 0\n");
  EXPECT_EQ(Format(SYS_unlinkat, {0x00000000ffffff9cULL, path, 0x200}, 0),
            "1234 unlinkat(AT_FDCWD, \"x\", 0x200) = 0\n");
}

TEST_F(TraceFormatTest, FdFlagsHaveNoAccessMode) {
  EXPECT_EQ(Format(SYS_dup3, {3, 4, O_CLOEXEC}, 4),
            "1234 dup3(3, 4, O_CLOEXEC) = 4\n");
  EXPECT_EQ(Format(SYS_pipe2, {0x7ffc0000, 0}, 0),
            "1234 pipe2(0x7ffc0000, 0) = 0\n");
  EXPECT_EQ(Format(SYS_pipe2, {0x7ffc0000, O_CLOEXEC | O_NONBLOCK}, 0),
            "1234 pipe2(0x7ffc0000, O_NONBLOCK|O_CLOEXEC) = 0\n");
}

TEST_F(TraceFormatTest, PrintsOutputStrings) {
  uint64_t link = Map("/usr/bin/true");
  uint64_t path = MapString("/proc/self/exe");
  EXPECT_EQ(
      Format(SYS_readlink, {path, link, 4096}, 13),
      "1234 readlink(\"/proc/self/exe\", \"/usr/bin/true\", 4096) = 13\n");
  EXPECT_EQ(
      Format(SYS_readlinkat,
             {static_cast<uint64_t>(AT_FDCWD), path, link, 4096}, -ENOENT),
      "1234 readlinkat(AT_FDCWD, \"/proc/self/exe\", 0x10000, 4096) = -1 "
      "ENOENT (No such file or directory)\n");
  // getcwd's result counts the terminating NUL.
  uint64_t cwd = MapString("/home/user");
  EXPECT_EQ(Format(SYS_getcwd, {cwd, 4096}, 11),
            "1234 getcwd(\"/home/user\", 4096) = 11\n");
}

TEST_F(TraceFormatTest, PrintsOtherCommonCalls) {
  EXPECT_EQ(Format(SYS_getpid, {}, 77), "1234 getpid() = 77\n");
  EXPECT_EQ(Format(SYS_uname, {0x7ffc1000}, 0), "1234 uname(0x7ffc1000) = 0\n");
  EXPECT_EQ(Format(SYS_lseek, {3, static_cast<uint64_t>(-1), SEEK_END}, 99),
            "1234 lseek(3, -1, 2) = 99\n");
  EXPECT_EQ(Format(SYS_exit_group, {0}, false, 0), "1234 exit_group(0) = ?\n");
  EXPECT_EQ(Format(SYS_clone3, {0x7ffc2000, 88}, 4321),
            "1234 clone3(0x7ffc2000, 88) = 4321\n");
  EXPECT_EQ(Format(SYS_ioctl, {1, 0x5401, 0x7ffc3000}, 0),
            "1234 ioctl(1, 0x5401, 0x7ffc3000) = 0\n");
  EXPECT_EQ(Format(SYS_fcntl, {3, F_GETFD, 0}, 1), "1234 fcntl(3, 1, 0) = 1\n");
  EXPECT_EQ(Format(SYS_rt_sigreturn, {}, false, 0),
            "1234 rt_sigreturn() = ?\n");
}

TEST_F(TraceFormatTest, UnknownSyscallPrintsSixHexArguments) {
  EXPECT_EQ(Format(1000, {1, 2, 3, 4, 5, 6}, -ENOSYS),
            "1234 syscall_1000(0x1, 0x2, 0x3, 0x4, 0x5, 0x6) = -1 ENOSYS "
            "(Function not implemented)\n");
  EXPECT_EQ(Format(400, {0, 0xffffffffffffffffULL, 0, 0, 0, 0}, -ENOSYS),
            "1234 syscall_400(0, 0xffffffffffffffff, 0, 0, 0, 0) = -1 ENOSYS "
            "(Function not implemented)\n");
}

TEST_F(TraceFormatTest, OverflowKeepsOneWellFormedLine) {
  std::string text(200, 'x');
  uint64_t path = MapString(text);
  std::string line = Format(SYS_unlink, {path}, true, 0, 40);
  ASSERT_EQ(line.size(), 40u);
  EXPECT_EQ(line, "1234 unlink(\"" + std::string(23, 'x') + "...\n");

  // Exactly enough room: no cut.
  std::string fits = "1234 unlink(\"" + text + "\") = 0\n";
  EXPECT_EQ(Format(SYS_unlink, {path}, true, 0, fits.size()), fits);
  // One byte short: cut.
  line = Format(SYS_unlink, {path}, true, 0, fits.size() - 1);
  EXPECT_EQ(line.size(), fits.size() - 1);
  EXPECT_EQ(line.substr(line.size() - 4), "...\n");

  // Buffers too small for the marker still end the line.
  EXPECT_EQ(Format(SYS_unlink, {path}, true, 0, 3), "12\n");
  EXPECT_EQ(Format(SYS_unlink, {path}, true, 0, 1), "\n");
  EXPECT_EQ(Format(SYS_unlink, {path}, true, 0, 0), "");
}

TEST_F(TraceFormatTest, AppendsAfterExistingText) {
  char buffer[64];
  FixedWriter out(buffer, sizeof(buffer));
  out.Put("[prefix] ");
  TraceCall call = {};
  call.pid = 7;
  call.nr = SYS_close;
  call.args[0] = 3;
  FormatTraceLine(call, true, 0, FakeRead, &out);
  FormatTraceLine(call, true, 0, FakeRead, &out);
  EXPECT_EQ(out.view(), "[prefix] 7 close(3) = 0\n7 close(3) = 0\n");

  // A line that overflows cuts only itself, not the text before it.
  char small[20];
  FixedWriter tight(small, sizeof(small));
  tight.Put("[prefix] ");
  call.nr = 1000;
  FormatTraceLine(call, true, 0, FakeRead, &tight);
  EXPECT_EQ(tight.view(), "[prefix] 7 sysca...\n");
}

TEST_F(TraceFormatTest, MissingReaderTreatsMemoryAsUnreadable) {
  uint64_t path = MapString("/etc/passwd");
  char buffer[128];
  FixedWriter out(buffer, sizeof(buffer));
  TraceCall call = {};
  call.pid = 1;
  call.nr = SYS_chdir;
  call.args[0] = path;
  FormatTraceLine(call, true, 0, nullptr, &out);
  EXPECT_EQ(out.view(), "1 chdir(0x10000) = 0\n");
}

}  // namespace
}  // namespace sandbox
