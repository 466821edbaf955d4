// SafeTensorsWriter: the spooling writer (tensor bytes streamed to disk as they are added) writes
// byte-identical files to the in-memory one, sharded or not, and leaves no spool behind.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "squish/common/error.h"
#include "squish/io/safetensors_writer.h"
#include "test_support.h"

namespace {

using namespace squish;
namespace fs = std::filesystem;

std::vector<float> ramp(size_t n, float k) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = std::sin(static_cast<float>(i) * k) * 3.0f;
  return v;
}

// The same tensors through `w`: whole F32, F32 read in row slices (many slices: 300k columns would
// not fit one), raw bytes.
void fill(SafeTensorsWriter& w, const std::vector<float>& a, const std::vector<float>& big) {
  w.add_f32("a", STDType::BF16, {6, 7}, a.data());
  w.add_f32_rows("big", STDType::F16, {3, 700000}, 3, 700000, [&](int64_t r0, int64_t n, float* dst) {
    std::copy_n(big.begin() + r0 * 700000, n * 700000, dst);
  });
  w.add({"raw", STDType::I32, {2, 2}, std::vector<uint8_t>(16, 7)});
  w.add_f32("c", STDType::F32, {5}, a.data());
}

std::vector<std::string> written(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(SafeTensorsWriter, SpooledFilesEqualInMemoryOnes) {
  const auto a = ramp(42, 0.3f), big = ramp(2100000, 0.001f);
  for (const uint64_t shard : {uint64_t{1} << 40, uint64_t{100}, uint64_t{4200000}}) {
    const std::string mem = test::temp_dir() + "/mem" + std::to_string(shard);
    const std::string spool = test::temp_dir() + "/spool" + std::to_string(shard);
    fs::create_directories(mem), fs::create_directories(spool);
    SafeTensorsWriter m;
    fill(m, a, big);
    const auto names_m = m.write(mem, shard);
    std::vector<std::string> names_s;
    {
      SafeTensorsWriter s(spool, shard);
      fill(s, a, big);
      EXPECT_EQ(s.total_bytes(), m.total_bytes());
      names_s = s.write(spool, shard);
    }
    ASSERT_EQ(names_m, names_s) << shard;
    EXPECT_EQ(written(spool), written(mem)) << "no spool file is left";
    for (const auto& n : names_m) EXPECT_EQ(test::read_file(mem + "/" + n), test::read_file(spool + "/" + n)) << n;
    if (shard == 100) EXPECT_EQ(names_m.size(), 4u);  // {a}, {big}, {raw, c} + index
  }
}

TEST(SafeTensorsWriter, SpoolingChecksLikeTheMemoryWriter) {
  const std::string dir = test::temp_dir() + "/bad";
  fs::create_directories(dir);
  {
    SafeTensorsWriter s(dir, 1000);
    EXPECT_THROW(s.add({"x", STDType::F32, {2}, std::vector<uint8_t>(7)}), Error);
    s.add({"x", STDType::F32, {2}, std::vector<uint8_t>(8)});
    EXPECT_THROW(s.add({"x", STDType::F32, {2}, std::vector<uint8_t>(8)}), Error);
    EXPECT_THROW(s.write(dir, 2000), Error);  // split for 1000-byte shards
  }
  EXPECT_TRUE(written(dir).empty()) << "the destructor removes the spools";
}

}  // namespace
