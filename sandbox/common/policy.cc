#include "sandbox/common/policy.h"

#include <cstring>

namespace sandbox {
namespace {

// The text form is `v1;key=value;key=value...`. Paths are hex-encoded so
// that no character in them needs escaping.
constexpr std::string_view kVersionTag = "v1";

constexpr char kHexDigits[] = "0123456789abcdef";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

void AppendHex(std::string* out, std::string_view bytes) {
  for (unsigned char c : bytes) {
    out->push_back(kHexDigits[c >> 4]);
    out->push_back(kHexDigits[c & 15]);
  }
}

bool DecodeHexPath(std::string_view hex, char* out) {
  if (hex.size() % 2 != 0 || hex.size() / 2 >= kPolicyPathMax) return false;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int high = HexValue(hex[i]), low = HexValue(hex[i + 1]);
    if (high < 0 || low < 0) return false;
    out[i / 2] = static_cast<char>(high * 16 + low);
  }
  out[hex.size() / 2] = '\0';
  return true;
}

// Parses a non-negative decimal number that fills `text` completely.
bool ParseDecimal(std::string_view text, int64_t* value) {
  if (text.empty() || text.size() > 18) return false;
  int64_t result = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    result = result * 10 + (c - '0');
  }
  *value = result;
  return true;
}

// Splits off the text up to the first `separator` (or the end).
std::string_view TakeUntil(std::string_view* text, char separator) {
  size_t end = text->find(separator);
  std::string_view head = text->substr(0, end);
  text->remove_prefix(end == std::string_view::npos ? text->size() : end + 1);
  return head;
}

// `deny=NR:ERRNO,NR:ERRNO`
bool DecodeDeny(std::string_view value, Policy* policy) {
  while (!value.empty()) {
    std::string_view item = TakeUntil(&value, ',');
    std::string_view nr_text = TakeUntil(&item, ':');
    int64_t nr, error;
    if (!ParseDecimal(nr_text, &nr) || !ParseDecimal(item, &error) ||
        nr >= kSyscallTableSize || error <= 0 || error > 4095) {
      return false;
    }
    policy->rules[nr].action = RuleAction::kDeny;
    policy->rules[nr].value = error;
  }
  return true;
}

// `trace=HEX` where HEX is the bitmap of traced numbers, lowest first, four
// numbers per digit.
bool DecodeTrace(std::string_view value, Policy* policy) {
  if (value.size() != kSyscallTableSize / 4) return false;
  for (int i = 0; i < kSyscallTableSize / 4; ++i) {
    int nibble = HexValue(value[i]);
    if (nibble < 0) return false;
    for (int bit = 0; bit < 4; ++bit) {
      policy->rules[i * 4 + bit].trace = (nibble >> bit) & 1;
    }
  }
  return true;
}

}  // namespace

bool Policy::TracesAnything() const {
  if (trace_unknown) return true;
  for (const SyscallRule& rule : rules) {
    if (rule.trace) return true;
  }
  return false;
}

std::string EncodePolicy(const Policy& policy) {
  std::string out(kVersionTag);
  switch (policy.mode) {
    case InterceptMode::kSignal:
      out += ";mode=signal";
      break;
    case InterceptMode::kRewrite:
      out += ";mode=rewrite";
      break;
    default:
      out += ";mode=auto";
      break;
  }

  std::string deny;
  for (int nr = 0; nr < kSyscallTableSize; ++nr) {
    const SyscallRule& rule = policy.rules[nr];
    if (rule.action != RuleAction::kDeny) continue;
    if (!deny.empty()) deny += ',';
    deny += std::to_string(nr) + ':' + std::to_string(rule.value);
  }
  if (!deny.empty()) out += ";deny=" + deny;

  std::string trace;
  for (int i = 0; i < kSyscallTableSize / 4; ++i) {
    int nibble = 0;
    for (int bit = 0; bit < 4; ++bit) {
      if (policy.rules[i * 4 + bit].trace) nibble |= 1 << bit;
    }
    trace.push_back(kHexDigits[nibble]);
  }
  out += ";trace=" + trace;
  if (policy.trace_unknown) out += ";trace_unknown=1";

  if (policy.trace_path[0] != '\0') {
    out += ";trace_path=";
    AppendHex(&out, policy.trace_path);
  }
  if (policy.stats_path[0] != '\0') {
    out += ";stats_path=";
    AppendHex(&out, policy.stats_path);
  }
  return out;
}

bool DecodePolicy(std::string_view text, Policy* policy, const char** error) {
  *policy = Policy();
  if (TakeUntil(&text, ';') != kVersionTag) {
    *error = "policy has an unknown version";
    return false;
  }
  while (!text.empty()) {
    std::string_view item = TakeUntil(&text, ';');
    std::string_view key = TakeUntil(&item, '=');
    bool ok;
    if (key == "mode") {
      ok = item == "auto" || item == "signal" || item == "rewrite";
      policy->mode = item == "signal"    ? InterceptMode::kSignal
                     : item == "rewrite" ? InterceptMode::kRewrite
                                         : InterceptMode::kAuto;
    } else if (key == "deny") {
      ok = DecodeDeny(item, policy);
    } else if (key == "trace") {
      ok = DecodeTrace(item, policy);
    } else if (key == "trace_unknown") {
      ok = item == "1";
      policy->trace_unknown = true;
    } else if (key == "trace_path") {
      ok = DecodeHexPath(item, policy->trace_path);
    } else if (key == "stats_path") {
      ok = DecodeHexPath(item, policy->stats_path);
    } else {
      ok = false;
    }
    if (!ok) {
      *error = "policy text is malformed";
      return false;
    }
  }
  return true;
}

}  // namespace sandbox
