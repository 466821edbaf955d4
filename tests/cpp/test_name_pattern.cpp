// NamePattern against Python's re.match (the verdicts in tests/goldens/name_pattern/cases.json,
// written by make_cases.py beside it), and its linear time on patterns that make backtracking
// engines (std::regex, Python's re) exponential.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "squish/common/error.h"
#include "squish/common/name_pattern.h"
#include "test_support.h"

namespace squish {
namespace {

nlohmann::json cases() {
  return nlohmann::json::parse(test::read_file(test::source_dir() + "/tests/goldens/name_pattern/cases.json"));
}

TEST(NamePattern, AgreesWithPythonReMatch) {
  const auto c = cases();
  const auto names = c["names"].get<std::vector<std::string>>();
  ASSERT_GE(c["cases"].size(), 400u);
  int matches = 0;
  for (const auto& k : c["cases"]) {
    const std::string p = k["pattern"], want = k["match"];
    ASSERT_EQ(want.size(), names.size());
    const NamePattern re(p);
    for (size_t i = 0; i < names.size(); ++i) {
      EXPECT_EQ(re.match_prefix(names[i]), want[i] == '1') << "pattern '" << p << "' name '" << names[i] << "'";
      matches += want[i] == '1';
    }
  }
  EXPECT_GT(matches, 1000);  // the golden exercises both verdicts
}

TEST(NamePattern, RefusesWhatPythonRefusesAndWhatItDoesNotSupport) {
  const auto c = cases();
  for (const char* key : {"invalid", "unsupported"})
    for (const std::string p : c[key]) {
      try {
        NamePattern re(p);
        ADD_FAILURE() << key << " pattern '" << p << "' was accepted";
      } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
      }
    }
}

TEST(NamePattern, NestedQuantifiersRunInLinearTime) {
  // Exponential for a backtracking engine: 2^5000 ways to split the a's.
  const std::string as(5000, 'a');
  EXPECT_FALSE(NamePattern("(a*)*b").match_prefix(as));
  EXPECT_FALSE(NamePattern("(a|aa)+$").match_prefix(as + "b"));
  EXPECT_TRUE(NamePattern("(a|aa)+$").match_prefix(as));
  // The recipe fuzzer's timeout input shape: many quantified classes before a mismatch.
  EXPECT_FALSE(NamePattern(".*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*z").match_prefix(std::string(4000, 'x')));
}

TEST(NamePattern, BoundsCompiledSize) {
  EXPECT_THROW(NamePattern("((a{1000}){1000})"), Error);
  EXPECT_THROW(NamePattern("((){999999}){999999}"), Error);
  EXPECT_THROW(NamePattern(std::string(5000, 'a')), Error);
  EXPECT_THROW(NamePattern(std::string(200, '(') + std::string(200, ')')), Error);
  EXPECT_NO_THROW(NamePattern("(a{100}){100}"));
}

}  // namespace
}  // namespace squish
