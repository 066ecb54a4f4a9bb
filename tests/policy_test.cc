#include "sandbox/common/policy.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <string_view>

namespace sandbox {
namespace {

// Compares two policies field by field (the struct has padding, so memcmp
// would compare garbage).
void ExpectSamePolicy(const Policy& actual, const Policy& expected) {
  EXPECT_EQ(actual.mode, expected.mode);
  EXPECT_EQ(actual.trace_unknown, expected.trace_unknown);
  for (int nr = 0; nr < kSyscallTableSize; ++nr) {
    const SyscallRule& a = actual.rules[nr];
    const SyscallRule& e = expected.rules[nr];
    EXPECT_EQ(a.action, e.action) << "syscall " << nr;
    EXPECT_EQ(a.trace, e.trace) << "syscall " << nr;
    EXPECT_EQ(a.value, e.value) << "syscall " << nr;
  }
  EXPECT_STREQ(actual.trace_path, expected.trace_path);
  EXPECT_STREQ(actual.stats_path, expected.stats_path);
}

// Decodes `text`, expecting success.
Policy MustDecode(std::string_view text) {
  Policy policy;
  const char* error = nullptr;
  EXPECT_TRUE(DecodePolicy(text, &policy, &error))
      << text << ": " << (error != nullptr ? error : "");
  return policy;
}

// Decodes `text`, expecting failure, and returns the reason.
std::string DecodeError(std::string_view text) {
  Policy policy;
  const char* error = nullptr;
  EXPECT_FALSE(DecodePolicy(text, &policy, &error)) << text;
  EXPECT_NE(error, nullptr) << text;
  return error != nullptr ? error : "";
}

TEST(PolicyTest, DefaultPolicyRoundTrips) {
  Policy policy;
  std::string text = EncodePolicy(policy);
  EXPECT_EQ(text.rfind("v1;", 0), 0u) << text;
  ExpectSamePolicy(MustDecode(text), policy);
  EXPECT_FALSE(policy.TracesAnything());
}

TEST(PolicyTest, FullPolicyRoundTrips) {
  Policy policy;
  policy.mode = InterceptMode::kSignal;
  policy.trace_unknown = true;
  policy.rules[0].action = RuleAction::kDeny;
  policy.rules[0].value = 1;
  policy.rules[257].action = RuleAction::kDeny;
  policy.rules[257].value = 13;
  policy.rules[kSyscallTableSize - 1].action = RuleAction::kDeny;
  policy.rules[kSyscallTableSize - 1].value = 4095;
  for (int nr : {0, 1, 2, 3, 59, 257, 435, kSyscallTableSize - 1}) {
    policy.rules[nr].trace = true;
  }
  // Characters the text form uses as separators, a space, a byte above
  // ASCII, and the longest path that fits.
  strcpy(policy.trace_path, "/tmp/a b;c=d,e:f\xff");
  std::string long_path(kPolicyPathMax - 1, 'p');
  strcpy(policy.stats_path, long_path.c_str());

  std::string text = EncodePolicy(policy);
  EXPECT_EQ(text.find(' '), std::string::npos) << text;
  for (char c : text) {
    EXPECT_TRUE(c > ' ' && c < 0x7f) << "unprintable byte in " << text;
  }
  Policy decoded = MustDecode(text);
  ExpectSamePolicy(decoded, policy);
  EXPECT_TRUE(decoded.TracesAnything());
}

TEST(PolicyTest, TraceUnknownAloneCountsAsTracing) {
  Policy policy;
  policy.trace_unknown = true;
  Policy decoded = MustDecode(EncodePolicy(policy));
  EXPECT_TRUE(decoded.trace_unknown);
  EXPECT_TRUE(decoded.TracesAnything());
}

TEST(PolicyTest, DecodeResetsThePolicy) {
  Policy policy;
  policy.rules[5].trace = true;
  policy.rules[6].action = RuleAction::kDeny;
  strcpy(policy.trace_path, "/old");
  const char* error = nullptr;
  ASSERT_TRUE(DecodePolicy("v1;mode=auto", &policy, &error)) << error;
  ExpectSamePolicy(policy, Policy());
}

TEST(PolicyTest, RuleForChecksBounds) {
  Policy policy;
  EXPECT_EQ(policy.RuleFor(-1), nullptr);
  EXPECT_EQ(policy.RuleFor(kSyscallTableSize), nullptr);
  EXPECT_EQ(policy.RuleFor(0), &policy.rules[0]);
  EXPECT_EQ(policy.RuleFor(kSyscallTableSize - 1),
            &policy.rules[kSyscallTableSize - 1]);
}

TEST(PolicyTest, RejectsBadVersion) {
  for (std::string_view text : {"", "v2;mode=auto", "v;mode=auto", "v10",
                                "mode=auto", "V1;mode=auto"}) {
    EXPECT_EQ(DecodeError(text), "policy has an unknown version") << text;
  }
}

TEST(PolicyTest, RejectsBadHexPaths) {
  for (std::string_view text :
       {"v1;stats_path=abc", "v1;stats_path=zz", "v1;stats_path=g0",
        "v1;stats_path=2f7", "v1;stats_path=2F74", "v1;trace_path=abc",
        "v1;trace_path=zz"}) {
    EXPECT_EQ(DecodeError(text), "policy text is malformed") << text;
  }
  // kPolicyPathMax bytes leave no room for the terminator.
  std::string too_long =
      "v1;stats_path=" + std::string(2 * kPolicyPathMax, 'a');
  EXPECT_EQ(DecodeError(too_long), "policy text is malformed");
  std::string longest =
      "v1;stats_path=" + std::string(2 * (kPolicyPathMax - 1), 'a');
  EXPECT_EQ(strlen(MustDecode(longest).stats_path),
            static_cast<size_t>(kPolicyPathMax - 1));
}

TEST(PolicyTest, RejectsBadDenyRules) {
  const std::string kBad[] = {
      "v1;deny=" + std::to_string(kSyscallTableSize) + ":1",
      "v1;deny=99999:1",
      "v1;deny=-1:1",
      "v1;deny=5",
      "v1;deny=5:",
      "v1;deny=:5",
      "v1;deny=5:0",
      "v1;deny=5:4096",
      "v1;deny=5:1:2",
      "v1;deny=5:x",
      "v1;deny=1:1,,2:2",
  };
  for (const std::string& text : kBad) {
    EXPECT_EQ(DecodeError(text), "policy text is malformed") << text;
  }
  Policy policy =
      MustDecode("v1;deny=" + std::to_string(kSyscallTableSize - 1) + ":4095");
  EXPECT_EQ(policy.rules[kSyscallTableSize - 1].action, RuleAction::kDeny);
  EXPECT_EQ(policy.rules[kSyscallTableSize - 1].value, 4095);
}

TEST(PolicyTest, RejectsBadTraceBitmaps) {
  std::string digits(kSyscallTableSize / 4, '0');
  MustDecode("v1;trace=" + digits);
  EXPECT_EQ(DecodeError("v1;trace=" + digits + "0"),
            "policy text is malformed");
  EXPECT_EQ(DecodeError("v1;trace=" + digits.substr(1)),
            "policy text is malformed");
  std::string bad_digit = digits;
  bad_digit[7] = 'x';
  EXPECT_EQ(DecodeError("v1;trace=" + bad_digit), "policy text is malformed");
}

TEST(PolicyTest, RejectsUnknownKeysAndValues) {
  for (std::string_view text :
       {"v1;colour=blue", "v1;mode=auto;extra", "v1;;mode=auto", "v1;mode=fast",
        "v1;mode=", "v1;trace_unknown=0", "v1;trace_unknown=yes",
        "v1;MODE=auto"}) {
    EXPECT_EQ(DecodeError(text), "policy text is malformed") << text;
  }
}

TEST(PolicyTest, DecodesTraceBitsInOrder) {
  // Digit i covers numbers 4i..4i+3, lowest bit first.
  std::string digits(kSyscallTableSize / 4, '0');
  digits[0] = '1';   // 0
  digits[64] = '9';  // 256 and 259
  Policy policy = MustDecode("v1;trace=" + digits);
  for (int nr = 0; nr < kSyscallTableSize; ++nr) {
    EXPECT_EQ(policy.rules[nr].trace, nr == 0 || nr == 256 || nr == 259) << nr;
  }
}

}  // namespace
}  // namespace sandbox
