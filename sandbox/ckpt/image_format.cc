#include "sandbox/ckpt/image_format.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace sandbox::ckpt {
namespace {

constexpr absl::string_view kHeader = "sandbox-ckpt process v2";

// Strings go into one field: anything but plain printable bytes becomes
// %XX, and an empty string is "%".
std::string EncodeString(absl::string_view text) {
  if (text.empty()) return "%";
  std::string out;
  for (unsigned char c : text) {
    if (c > ' ' && c < 0x7f && c != '%') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return out;
}

bool DecodeString(absl::string_view field, std::string* out) {
  out->clear();
  if (field == "%") return true;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] != '%') {
      out->push_back(field[i]);
      continue;
    }
    uint32_t value;
    if (i + 2 >= field.size()) return false;
    if (!absl::SimpleHexAtoi(field.substr(i + 1, 2), &value)) return false;
    out->push_back(static_cast<char>(value));
    i += 2;
  }
  return true;
}

std::string Hex(uint64_t value) { return absl::StrCat(absl::Hex(value)); }

std::string HexBytes(absl::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes)
    absl::StrAppend(&out, absl::Hex(c, absl::kZeroPad2));
  return out.empty() ? "%" : out;
}

bool ParseHexBytes(absl::string_view text, std::string* out) {
  out->clear();
  if (text == "%") return true;
  if (text.size() % 2 != 0) return false;
  for (size_t i = 0; i < text.size(); i += 2) {
    uint32_t value;
    if (!absl::SimpleHexAtoi(text.substr(i, 2), &value)) return false;
    out->push_back(static_cast<char>(value));
  }
  return true;
}

constexpr size_t kRegWords = sizeof(user_regs_struct) / sizeof(uint64_t);

}  // namespace

std::string Encode(const ProcessImage& image) {
  std::string out = absl::StrCat(kHeader, "\n");
  absl::StrAppend(&out, "pid ", image.pid, "\n");
  const MmLayout& mm = image.mm;
  absl::StrAppend(&out, "mm ", Hex(mm.start_code), " ", Hex(mm.end_code), " ",
                  Hex(mm.start_data), " ", Hex(mm.end_data), " ",
                  Hex(mm.start_brk), " ", Hex(mm.brk), " ", Hex(mm.start_stack),
                  " ", Hex(mm.arg_start), " ", Hex(mm.arg_end), " ",
                  Hex(mm.env_start), " ", Hex(mm.env_end), "\n");
  absl::StrAppend(&out, "auxv ", HexBytes(image.auxv), "\n");
  absl::StrAppend(&out, "exe ", EncodeString(image.exe), "\n");
  absl::StrAppend(&out, "cwd ", EncodeString(image.cwd), "\n");
  absl::StrAppend(&out, "umask ", image.umask, "\n");
  for (size_t i = 0; i < image.rlimits.size(); ++i) {
    absl::StrAppend(&out, "rlimit ", i, " ", image.rlimits[i].current, " ",
                    image.rlimits[i].maximum, "\n");
  }
  for (const SignalAction& sa : image.sigactions) {
    absl::StrAppend(&out, "sigaction ", sa.signo, " ",
                    Hex(reinterpret_cast<uint64_t>(sa.action.handler)), " ",
                    Hex(sa.action.flags), " ",
                    Hex(reinterpret_cast<uint64_t>(sa.action.restorer)), " ",
                    Hex(sa.action.mask), "\n");
  }
  for (const ItimerImage& timer : image.itimers) {
    absl::StrAppend(
        &out, "itimer ", timer.which, " ", timer.value.it_interval.tv_sec, " ",
        timer.value.it_interval.tv_usec, " ", timer.value.it_value.tv_sec, " ",
        timer.value.it_value.tv_usec, "\n");
  }
  for (const ThreadImage& t : image.threads) {
    const uint64_t* words = reinterpret_cast<const uint64_t*>(&t.regs);
    std::vector<std::string> regs;
    for (size_t i = 0; i < kRegWords; ++i) regs.push_back(Hex(words[i]));
    absl::StrAppend(
        &out, "thread ", t.tid, " sigmask ", Hex(t.sigmask), " sud ",
        Hex(t.sud.mode), " ", Hex(t.sud.selector), " ", Hex(t.sud.offset), " ",
        Hex(t.sud.len), " rseq ", Hex(t.rseq.address), " ", t.rseq.length, " ",
        Hex(t.rseq.signature), " altstack ",
        Hex(reinterpret_cast<uint64_t>(t.altstack.ss_sp)), " ",
        t.altstack.ss_flags, " ", t.altstack.ss_size, " tidaddr ",
        Hex(t.clear_child_tid), " robust ", Hex(t.robust_list), " ",
        t.robust_list_length, " name ", EncodeString(t.name), " regs ",
        absl::StrJoin(regs, ","), " xstate ", HexBytes(t.xstate), "\n");
  }
  for (const PendingSignal& p : image.pending) {
    absl::StrAppend(&out, "pending ", p.tid, " ", HexBytes(p.siginfo), "\n");
  }
  for (const MappingImage& m : image.mappings) {
    absl::StrAppend(&out, "mapping ", Hex(m.begin), " ", Hex(m.end), " ",
                    m.perms, " ", Hex(m.file_offset), " ", m.saved ? 1 : 0, " ",
                    m.inode, " ", EncodeString(m.name), " ", m.file_size, " ",
                    m.file_mtime_ns, " ", m.noreserve ? 1 : 0, "\n");
    for (const PageRun& run : m.runs) {
      absl::StrAppend(&out, "run ", Hex(run.begin), " ", run.count, " ",
                      run.pages_offset, " ", run.file, "\n");
    }
  }
  for (const FileImage& f : image.files) {
    absl::StrAppend(&out, "file ", f.fd, " ", f.kind, " ", f.flags, " ",
                    f.position, " ", EncodeString(f.path), " ",
                    EncodeString(f.pipe_data_file), " ", f.shares_with, "\n");
  }
  absl::StrAppend(&out, "end\n");
  return out;
}

absl::StatusOr<ProcessImage> Decode(const std::string& text) {
  auto malformed = [](absl::string_view line) {
    return absl::DataLossError(
        absl::StrCat("process.img is malformed near: ",
                     line.substr(0, std::min<size_t>(line.size(), 80))));
  };
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  if (lines.empty() || lines[0] != kHeader) {
    return absl::DataLossError("process.img is not a sandbox-ckpt image");
  }
  ProcessImage image;
  bool ended = false;
  for (size_t n = 1; n < lines.size() && !ended; ++n) {
    absl::string_view line = lines[n];
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    const absl::string_view key = f[0];
    bool ok = true;
    if (key == "end") {
      ended = true;
    } else if (key == "mm" && f.size() == 12) {
      uint64_t* fields[] = {
          &image.mm.start_code,  &image.mm.end_code,  &image.mm.start_data,
          &image.mm.end_data,    &image.mm.start_brk, &image.mm.brk,
          &image.mm.start_stack, &image.mm.arg_start, &image.mm.arg_end,
          &image.mm.env_start,   &image.mm.env_end};
      for (int i = 0; ok && i < 11; ++i) {
        ok = absl::SimpleHexAtoi(f[i + 1], fields[i]);
      }
    } else if (key == "auxv" && f.size() == 2) {
      ok = ParseHexBytes(f[1], &image.auxv);
    } else if (key == "pid" && f.size() == 2) {
      ok = absl::SimpleAtoi(f[1], &image.pid);
    } else if (key == "exe" && f.size() == 2) {
      ok = DecodeString(f[1], &image.exe);
    } else if (key == "cwd" && f.size() == 2) {
      ok = DecodeString(f[1], &image.cwd);
    } else if (key == "umask" && f.size() == 2) {
      ok = absl::SimpleAtoi(f[1], &image.umask);
    } else if (key == "rlimit" && f.size() == 4) {
      RlimitImage limit;
      ok = absl::SimpleAtoi(f[2], &limit.current) &&
           absl::SimpleAtoi(f[3], &limit.maximum);
      image.rlimits.push_back(limit);
    } else if (key == "sigaction" && f.size() == 6) {
      SignalAction sa;
      uint64_t handler = 0, restorer = 0;
      ok = absl::SimpleAtoi(f[1], &sa.signo) &&
           absl::SimpleHexAtoi(f[2], &handler) &&
           absl::SimpleHexAtoi(f[3], &sa.action.flags) &&
           absl::SimpleHexAtoi(f[4], &restorer) &&
           absl::SimpleHexAtoi(f[5], &sa.action.mask);
      sa.action.handler = reinterpret_cast<void (*)(int)>(handler);
      sa.action.restorer = reinterpret_cast<void (*)()>(restorer);
      image.sigactions.push_back(sa);
    } else if (key == "thread" && f.size() == 28) {
      ThreadImage t;
      uint64_t sp;
      ok = absl::SimpleAtoi(f[1], &t.tid) && f[2] == "sigmask" &&
           absl::SimpleHexAtoi(f[3], &t.sigmask) && f[4] == "sud" &&
           absl::SimpleHexAtoi(f[5], &t.sud.mode) &&
           absl::SimpleHexAtoi(f[6], &t.sud.selector) &&
           absl::SimpleHexAtoi(f[7], &t.sud.offset) &&
           absl::SimpleHexAtoi(f[8], &t.sud.len) && f[9] == "rseq" &&
           absl::SimpleHexAtoi(f[10], &t.rseq.address) &&
           absl::SimpleAtoi(f[11], &t.rseq.length) &&
           absl::SimpleHexAtoi(f[12], &t.rseq.signature) &&
           f[13] == "altstack" && absl::SimpleHexAtoi(f[14], &sp) &&
           absl::SimpleAtoi(f[15], &t.altstack.ss_flags) &&
           absl::SimpleAtoi(f[16], &t.altstack.ss_size) && f[17] == "tidaddr" &&
           absl::SimpleHexAtoi(f[18], &t.clear_child_tid) &&
           f[19] == "robust" && absl::SimpleHexAtoi(f[20], &t.robust_list) &&
           absl::SimpleAtoi(f[21], &t.robust_list_length) && f[22] == "name" &&
           DecodeString(f[23], &t.name) && f[24] == "regs" &&
           f[26] == "xstate" && ParseHexBytes(f[27], &t.xstate);
      t.altstack.ss_sp = reinterpret_cast<void*>(sp);
      std::vector<absl::string_view> regs = absl::StrSplit(f[25], ',');
      ok = ok && regs.size() == kRegWords;
      uint64_t* words = reinterpret_cast<uint64_t*>(&t.regs);
      for (size_t i = 0; ok && i < kRegWords; ++i) {
        ok = absl::SimpleHexAtoi(regs[i], &words[i]);
      }
      image.threads.push_back(std::move(t));
    } else if (key == "itimer" && f.size() == 6) {
      ItimerImage timer;
      ok = absl::SimpleAtoi(f[1], &timer.which) && timer.which >= 0 &&
           timer.which <= 2 &&
           absl::SimpleAtoi(f[2], &timer.value.it_interval.tv_sec) &&
           absl::SimpleAtoi(f[3], &timer.value.it_interval.tv_usec) &&
           absl::SimpleAtoi(f[4], &timer.value.it_value.tv_sec) &&
           absl::SimpleAtoi(f[5], &timer.value.it_value.tv_usec);
      image.itimers.push_back(timer);
    } else if (key == "pending" && f.size() == 3) {
      PendingSignal p;
      ok = absl::SimpleAtoi(f[1], &p.tid) && p.tid >= 0 &&
           ParseHexBytes(f[2], &p.siginfo) && p.siginfo.size() == kSiginfoSize;
      image.pending.push_back(std::move(p));
    } else if (key == "mapping" && f.size() == 11) {
      MappingImage m;
      int saved = 0, noreserve = 0;
      ok = absl::SimpleHexAtoi(f[1], &m.begin) &&
           absl::SimpleHexAtoi(f[2], &m.end) && f[3].size() == 4 &&
           absl::SimpleHexAtoi(f[4], &m.file_offset) &&
           absl::SimpleAtoi(f[5], &saved) && absl::SimpleAtoi(f[6], &m.inode) &&
           DecodeString(f[7], &m.name) && m.begin < m.end &&
           absl::SimpleAtoi(f[8], &m.file_size) &&
           absl::SimpleAtoi(f[9], &m.file_mtime_ns) &&
           absl::SimpleAtoi(f[10], &noreserve);
      m.noreserve = noreserve == 1;
      m.saved = saved == 1;
      m.perms = std::string(f[3]);
      image.mappings.push_back(std::move(m));
    } else if (key == "run" && f.size() == 5 && !image.mappings.empty()) {
      PageRun run;
      MappingImage& m = image.mappings.back();
      ok = absl::SimpleHexAtoi(f[1], &run.begin) &&
           absl::SimpleAtoi(f[2], &run.count) &&
           absl::SimpleAtoi(f[3], &run.pages_offset) &&
           absl::SimpleAtoi(f[4], &run.file) && run.file >= 0 &&
           run.file < kPageFileCount && m.saved && run.begin >= m.begin &&
           run.count > 0 && run.begin + run.count * 4096 <= m.end;
      m.runs.push_back(run);
    } else if (key == "file" && f.size() == 8) {
      FileImage file;
      ok = absl::SimpleAtoi(f[1], &file.fd) &&
           (f[2] == "file" || f[2] == "pipe") &&
           absl::SimpleAtoi(f[3], &file.flags) &&
           absl::SimpleAtoi(f[4], &file.position) &&
           DecodeString(f[5], &file.path) &&
           DecodeString(f[6], &file.pipe_data_file) &&
           absl::SimpleAtoi(f[7], &file.shares_with) &&
           file.shares_with < file.fd;
      // Only an earlier descriptor of the same kind, already decoded.
      if (ok && file.shares_with >= 0) {
        ok = std::any_of(image.files.begin(), image.files.end(),
                         [&file, &f](const FileImage& earlier) {
                           return earlier.fd == file.shares_with &&
                                  earlier.kind == f[2] &&
                                  earlier.shares_with < 0;
                         });
      }
      file.kind = std::string(f[2]);
      image.files.push_back(std::move(file));
    } else {
      ok = false;
    }
    if (!ok) return malformed(line);
  }
  if (!ended || image.threads.empty()) {
    return absl::DataLossError("process.img is truncated");
  }
  return image;
}

std::string DescribeText(const ProcessImage& image) {
  std::string out = absl::StrCat("process ", image.pid, " (", image.exe,
                                 ")\n  cwd ", image.cwd, ", umask ",
                                 absl::StrFormat("%04o", image.umask), "\n");
  for (const ThreadImage& t : image.threads) {
    absl::StrAppend(
        &out, "  thread ", t.tid, ": rip ", Hex(t.regs.rip), " rsp ",
        Hex(t.regs.rsp), " rax ", Hex(t.regs.rax), " orig_rax ",
        static_cast<int64_t>(t.regs.orig_rax), "\n    SUD ",
        t.sud.mode == 0
            ? "off"
            : absl::StrCat("on, selector ", Hex(t.sud.selector), ", allowed ",
                           Hex(t.sud.offset), "+", Hex(t.sud.len)),
        "; sigmask ", Hex(t.sigmask), "; rseq ",
        t.rseq.address ? Hex(t.rseq.address) : std::string("none"),
        "; altstack ",
        (t.altstack.ss_flags & SS_DISABLE)
            ? std::string("none")
            : absl::StrCat(Hex(reinterpret_cast<uint64_t>(t.altstack.ss_sp)),
                           "+", t.altstack.ss_size),
        "; xstate ", t.xstate.size(), " bytes\n");
  }
  absl::StrAppend(&out, "  ", image.mappings.size(), " mappings:\n");
  for (const MappingImage& m : image.mappings) {
    uint64_t pages = 0;
    for (const PageRun& run : m.runs) pages += run.count;
    absl::StrAppend(
        &out, "    ", Hex(m.begin), "-", Hex(m.end), " ", m.perms, " ",
        m.saved ? absl::StrCat(pages, pages == 1 ? " page" : " pages", " saved")
                : std::string("not saved"),
        " ", m.name, "\n");
  }
  absl::StrAppend(&out, "  ", image.files.size(), " descriptors:\n");
  for (const FileImage& file : image.files) {
    absl::StrAppend(
        &out, "    ", file.fd, " ", file.kind, " ", file.path, " flags ",
        absl::StrFormat("%o", file.flags), " at ", file.position,
        file.pipe_data_file.empty() ? "" : " (unread data saved)",
        file.shares_with < 0
            ? ""
            : absl::StrCat(" (the same file as ", file.shares_with, ")"),
        "\n");
  }
  int handled = 0;
  for (const SignalAction& sa : image.sigactions) {
    if (reinterpret_cast<uint64_t>(sa.action.handler) > 1) ++handled;
  }
  absl::StrAppend(&out, "  ", handled, handled == 1 ? " signal" : " signals",
                  " with a handler, ", image.pending.size(), " pending; ",
                  image.itimers.size(), " interval ",
                  image.itimers.size() == 1 ? "timer" : "timers", " running\n");
  return out;
}

std::string DescribeJson(const ProcessImage& image) {
  auto quote = [](absl::string_view text) {
    std::string out = "\"";
    for (unsigned char c : text) {
      if (c == '"' || c == '\\') {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else if (c < 0x20) {
        absl::StrAppend(&out, "\\u00", absl::Hex(c, absl::kZeroPad2));
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
    return out + "\"";
  };
  std::string out =
      absl::StrCat("{\"pid\": ", image.pid, ", \"exe\": ", quote(image.exe),
                   ", \"cwd\": ", quote(image.cwd), ", \"threads\": [");
  for (size_t i = 0; i < image.threads.size(); ++i) {
    const ThreadImage& t = image.threads[i];
    absl::StrAppend(
        &out, i ? ", " : "", "{\"tid\": ", t.tid, ", \"rip\": ", t.regs.rip,
        ", \"rsp\": ", t.regs.rsp, ", \"sigmask\": ", t.sigmask,
        ", \"sud\": {\"mode\": ", t.sud.mode,
        ", \"selector\": ", t.sud.selector, ", \"offset\": ", t.sud.offset,
        ", \"len\": ", t.sud.len, "}, \"rseq\": ", t.rseq.address,
        ", \"xstate_bytes\": ", t.xstate.size(), "}");
  }
  absl::StrAppend(&out, "], \"mappings\": [");
  for (size_t i = 0; i < image.mappings.size(); ++i) {
    const MappingImage& m = image.mappings[i];
    absl::StrAppend(&out, i ? ", " : "", "{\"begin\": ", m.begin,
                    ", \"end\": ", m.end, ", \"perms\": ", quote(m.perms),
                    ", \"name\": ", quote(m.name),
                    ", \"saved\": ", m.saved ? "true" : "false", "}");
  }
  absl::StrAppend(&out, "], \"files\": [");
  for (size_t i = 0; i < image.files.size(); ++i) {
    const FileImage& file = image.files[i];
    absl::StrAppend(
        &out, i ? ", " : "", "{\"fd\": ", file.fd,
        ", \"kind\": ", quote(file.kind), ", \"path\": ", quote(file.path),
        ", \"flags\": ", file.flags, ", \"position\": ", file.position, "}");
  }
  absl::StrAppend(&out, "], \"signal_actions\": [");
  for (size_t i = 0; i < image.sigactions.size(); ++i) {
    const SignalAction& sa = image.sigactions[i];
    absl::StrAppend(
        &out, i ? ", " : "", "{\"signal\": ", sa.signo,
        ", \"handler\": ", reinterpret_cast<uint64_t>(sa.action.handler),
        ", \"flags\": ", sa.action.flags, ", \"mask\": ", sa.action.mask, "}");
  }
  absl::StrAppend(&out, "], \"pending_signals\": [");
  for (size_t i = 0; i < image.pending.size(); ++i) {
    const PendingSignal& p = image.pending[i];
    siginfo_t info;
    memcpy(&info, p.siginfo.data(), sizeof(info));
    absl::StrAppend(&out, i ? ", " : "", "{\"thread\": ", p.tid,
                    ", \"signal\": ", info.si_signo,
                    ", \"code\": ", info.si_code, "}");
  }
  absl::StrAppend(&out, "]}\n");
  return out;
}

}  // namespace sandbox::ckpt
