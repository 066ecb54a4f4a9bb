// sandbox-ckpt: checkpoint and restore of processes that use Syscall User
// Dispatch, with their interception state intact. The command line follows
// CRIU's:
//
//   sandbox-ckpt dump -t PID -D DIR [--leave-running]
//   sandbox-ckpt restore -D DIR [-d] [--pidfile FILE]
//   sandbox-ckpt show -D DIR [--json]
//   sandbox-ckpt check
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <string>

#include "absl/strings/numbers.h"
#include "sandbox/ckpt/dump.h"
#include "sandbox/ckpt/image_dir.h"
#include "sandbox/ckpt/image_format.h"
#include "sandbox/ckpt/kernel_features.h"
#include "sandbox/ckpt/restore.h"

namespace sandbox::ckpt {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitBadUsage = 2;

const char kUsage[] = R"(usage: sandbox-ckpt COMMAND [OPTIONS]

  dump -t PID -D DIR [--leave-running]
                     checkpoint process PID, all its threads, into DIR; the
                     process is ended once the image is complete and
                     verified, unless --leave-running
  restore -D DIR [-d] [--pidfile FILE]
                     recreate the process, with its ids, and let it run;
                     wait for it and exit with its status, or with -d exit
                     once it runs; --pidfile writes its id
  show -D DIR [--json]
                     describe the image in DIR (after checking it whole)
  check              report which kernel features are present
)";

[[noreturn]] void BadUsage(const std::string& message) {
  fprintf(stderr, "sandbox-ckpt: %s (see --help)\n", message.c_str());
  exit(kExitBadUsage);
}

int Fail(const absl::Status& status) {
  fprintf(stderr, "sandbox-ckpt: %s\n", std::string(status.message()).c_str());
  return kExitFailure;
}

int Check() {
  bool all_present = true;
  for (const FeatureCheck& check : ProbeKernelFeatures()) {
    printf("%-42s %s  %s\n", check.name.c_str(), check.present ? "yes" : "no ",
           check.detail.c_str());
    if (check.required && !check.present) all_present = false;
  }
  return all_present ? 0 : kExitFailure;
}

// The options of every command; each command checks it got only its own.
struct Arguments {
  std::string pid;
  std::string dir;
  std::string pid_file;
  bool leave_running = false;
  bool json = false;
  bool detach = false;
};

Arguments ParseArguments(int argc, char** argv) {
  enum { kLeaveRunning = 256, kJson, kPidFile };
  static const struct option kOptions[] = {
      {"tree", required_argument, nullptr, 't'},
      {"images-dir", required_argument, nullptr, 'D'},
      {"leave-running", no_argument, nullptr, kLeaveRunning},
      {"json", no_argument, nullptr, kJson},
      {"restore-detached", no_argument, nullptr, 'd'},
      {"pidfile", required_argument, nullptr, kPidFile},
      {nullptr, 0, nullptr, 0},
  };
  Arguments arguments;
  optind = 2;
  opterr = 0;
  for (;;) {
    int option = getopt_long(argc, argv, ":t:D:d", kOptions, nullptr);
    if (option == -1) break;
    switch (option) {
      case 't':
        arguments.pid = optarg;
        break;
      case 'D':
        arguments.dir = optarg;
        break;
      case kLeaveRunning:
        arguments.leave_running = true;
        break;
      case kJson:
        arguments.json = true;
        break;
      case 'd':
        arguments.detach = true;
        break;
      case kPidFile:
        arguments.pid_file = optarg;
        if (arguments.pid_file.empty()) BadUsage("--pidfile needs a path");
        break;
      case ':':
        BadUsage(std::string("option '") + argv[optind - 1] +
                 "' needs an argument");
      default:
        BadUsage(std::string("unknown option '") + argv[optind - 1] + "'");
    }
  }
  if (optind != argc) {
    BadUsage(std::string("unexpected argument '") + argv[optind] + "'");
  }
  return arguments;
}

int DumpCommand(const Arguments& arguments) {
  DumpOptions options;
  if (arguments.pid.empty() || arguments.dir.empty()) {
    BadUsage("dump needs -t PID and -D DIR");
  }
  if (arguments.json || arguments.detach || !arguments.pid_file.empty()) {
    BadUsage("dump takes -t PID, -D DIR and optionally --leave-running");
  }
  if (!absl::SimpleAtoi(arguments.pid, &options.pid) || options.pid <= 0) {
    BadUsage("bad process id '" + arguments.pid + "'");
  }
  options.image_dir = arguments.dir;
  options.leave_running = arguments.leave_running;
  // A file-size limit must make a write fail (EFBIG), as a full disk does,
  // not kill the tool in the middle of a dump.
  signal(SIGXFSZ, SIG_IGN);
  absl::Status status = Dump(options);
  if (status.ok()) return 0;
  Fail(status);
  // Ended by a signal it held: said so, now end as that signal would have.
  int signo = SignalThatEndedDump();
  return signo != 0 ? 128 + signo : kExitFailure;
}

int ShowCommand(const Arguments& arguments) {
  if (arguments.dir.empty() || !arguments.pid.empty() ||
      arguments.leave_running || arguments.detach ||
      !arguments.pid_file.empty()) {
    BadUsage("show takes -D DIR and optionally --json");
  }
  absl::StatusOr<ImageReader> reader = ImageReader::Open(arguments.dir);
  if (!reader.ok()) return Fail(reader.status());
  absl::StatusOr<std::string> text = reader->ReadFile("process.img");
  if (!text.ok()) return Fail(text.status());
  absl::StatusOr<ProcessImage> image = Decode(*text);
  if (!image.ok()) return Fail(image.status());
  fputs((arguments.json ? DescribeJson(*image) : DescribeText(*image)).c_str(),
        stdout);
  return 0;
}

int RestoreCommand(const Arguments& arguments) {
  if (arguments.dir.empty() || !arguments.pid.empty() ||
      arguments.leave_running || arguments.json) {
    BadUsage("restore takes -D DIR and optionally -d and --pidfile FILE");
  }
  RestoreOptions options;
  options.image_dir = arguments.dir;
  options.detach = arguments.detach;
  options.pid_file = arguments.pid_file;
  absl::StatusOr<int> status = Restore(options);
  if (!status.ok()) return Fail(status.status());
  return *status;
}

}  // namespace
}  // namespace sandbox::ckpt

int main(int argc, char** argv) {
  using namespace sandbox::ckpt;
  std::string command = argc > 1 ? argv[1] : "";
  if (command == "-h" || command == "--help") {
    fputs(kUsage, stdout);
    return 0;
  }
  if (command == "check") {
    if (argc != 2) BadUsage("check takes no arguments");
    return Check();
  }
  if (command == "dump") return DumpCommand(ParseArguments(argc, argv));
  if (command == "show") return ShowCommand(ParseArguments(argc, argv));
  if (command == "restore") return RestoreCommand(ParseArguments(argc, argv));
  BadUsage(command.empty() ? "no command given"
                           : "unknown command '" + command + "'");
}
